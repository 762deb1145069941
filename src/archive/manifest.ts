import type { z } from 'zod'
import { MOLT_NAME_PATTERN } from '../fleet/names.ts'
import { InputError } from '../lib/errors.ts'
import { legacyBoolean, legacyNumber, legacyString, parseLegacyJson } from '../lib/legacy.ts'
import { lazySchema } from '../lib/schema.ts'
import { CHECKSUMS_MEMBER, COMPONENTS, CRONTAB_FILE, FORMAT_VERSIONS, GLOBAL_DIR, GLOBAL_DIR_NAME, PARENT_FILE, SHA256_HEX } from './layout.ts'
import { writtenManifest } from './manifest-written.ts'

/**
 * manifest.json, the first member of every archive: the one schema for backup, list-backups,
 * verify and restore. It also reads the bash toolkit's "1.0" manifests, whose numbers are strings.
 *
 * v3 (archives with index.jsonl, layout.index) reads like v2.
 * v2 keeps every v1 field (version, timestamp, hostname, molts[].name/port/created/backup_size_bytes,
 * total_size_bytes) and adds the rest. Counts cover regular files only; sizes are content bytes as
 * planned before streaming; what changed after planning is in the notes of checksums.sha256.
 */
export const manifestSchema = lazySchema((z) => {
  const count = z.preprocess(legacyNumber, z.number().int().min(0).nullable())
  const text = z.preprocess(legacyString, z.string().nullable())
  const stats = z.object({ files: z.number().int().min(0), bytes: z.number().int().min(0) })
  const molt = z.looseObject({
    name: z.string().regex(MOLT_NAME_PATTERN, 'not a valid molt name'),
    port: z.preprocess(legacyNumber, z.number().int().min(1).max(65535).nullable()).catch(null).default(null),
    created: text.default(null),
    home: text.default(null),
    /** owner of the home, by name: restore chowns to this user, not to archived numeric ids */
    user: text.default(null),
    group: text.default(null),
    components: z.array(z.string()).default([]),
    component_stats: z.record(z.string(), stats).default({}),
    files: count.default(null),
    dirs: count.default(null),
    symlinks: count.default(null),
    backup_size_bytes: count.default(null),
    /** member name of the crontab text, relative to the molt folder; null when none was captured */
    crontab: text.default(null),
    /** incremental archives: paths of the home (latin1 text of their bytes) the parent held and this backup did not find */
    deleted: z.array(z.string()).default([]),
  })
  const options = z.looseObject({
    select: z.array(z.string()).nullable().default(null),
    exclude_maildir: z.preprocess(legacyBoolean, z.boolean()).default(false),
    exclude_logs: z.preprocess(legacyBoolean, z.boolean()).default(false),
    allow_partial: z.preprocess(legacyBoolean, z.boolean()).default(false),
    compression: z.string().default('gzip'),
    compress_level: count.default(null),
  })
  const layout = z.looseObject({
    global: z.string().default(GLOBAL_DIR),
    checksums: text.default(null),
    crontab: text.default(null),
    /** format 3: the member holding every member's metadata (index.jsonl) */
    index: text.default(null),
    /** format 4: what every molt held when planned (state-file.ts), the second member */
    state: text.default(null),
  })
  const parent = z.looseObject({
    /** file name, in the same folder */
    file: z.string().min(1).regex(PARENT_FILE, 'a file name, not a path'),
    size: z.number().int().min(0),
    /** sha256 of the parent's manifest.json member */
    manifest_sha256: z.string().regex(SHA256_HEX),
    timestamp: z.string(),
  })
  const chain = z.looseObject({
    /** file name of the full archive the chain starts with (this one, for a full archive) */
    full: z.string().min(1),
    full_timestamp: z.string(),
    /** archives before this one in the chain (0: a full archive) */
    depth: z.number().int().min(0),
  })
  return z
    .looseObject({
      version: z.preprocess((v) => (typeof v === 'number' ? String(v) : v), z.string()),
      clmnt_version: text.default(null),
      timestamp: z.string(),
      hostname: text.default(null),
      base_dir: text.default(null),
      options: options.default(options.parse({})),
      layout: layout.default(layout.parse({})),
      /** names of the files under the global folder */
      global_files: z.array(z.string()).default([]),
      molts: z.array(molt),
      total_size_bytes: count.default(null),
      total_files: count.default(null),
      /** format 4: full, or incremental (only what changed since `parent`; chain-restore.ts) */
      kind: z.enum(['full', 'incremental']).default('full'),
      parent: parent.nullable().default(null),
      chain: chain.nullable().default(null),
    })
    .superRefine((m, ctx) => {
      if ((m.kind === 'incremental') !== (m.parent !== null)) ctx.addIssue({ code: 'custom', path: ['parent'], message: m.parent ? 'a full archive names no parent' : 'an incremental archive names its parent' })
      if (!isLegacyVersion(m.version) && !(FORMAT_VERSIONS as readonly string[]).includes(m.version)) {
        ctx.addIssue({ code: 'custom', path: ['version'], message: `unsupported manifest version ${JSON.stringify(m.version)}` })
      }
      if (Number.isNaN(Date.parse(m.timestamp))) ctx.addIssue({ code: 'custom', path: ['timestamp'], message: 'not an ISO 8601 time' })
      const seen = new Set<string>()
      for (const molt of m.molts) {
        if (seen.has(molt.name)) ctx.addIssue({ code: 'custom', path: ['molts'], message: `molt ${JSON.stringify(molt.name)} listed twice` })
        seen.add(molt.name)
      }
      if (isLegacyVersion(m.version)) return
      if (!GLOBAL_DIR_NAME.test(m.layout.global) || seen.has(m.layout.global)) {
        ctx.addIssue({ code: 'custom', path: ['layout', 'global'], message: 'unusable global folder name' })
      }
      for (const [i, molt] of m.molts.entries()) {
        if (molt.files === null || molt.backup_size_bytes === null) ctx.addIssue({ code: 'custom', path: ['molts', i], message: 'files and backup_size_bytes are required' })
        for (const c of molt.components) if (!(COMPONENTS as readonly string[]).includes(c)) ctx.addIssue({ code: 'custom', path: ['molts', i, 'components'], message: `unknown component ${JSON.stringify(c)}` })
        if (molt.crontab !== null && molt.crontab !== CRONTAB_FILE) ctx.addIssue({ code: 'custom', path: ['molts', i, 'crontab'], message: 'unexpected crontab member' })
      }
      if (m.total_files === null || m.total_size_bytes === null) ctx.addIssue({ code: 'custom', message: 'total_files and total_size_bytes are required' })
    })
})

export type Manifest = z.infer<ReturnType<typeof manifestSchema>>
export type ManifestMolt = Manifest['molts'][number]

export function isLegacyVersion(version: string): boolean {
  return /^1(\.\d+)?$/.test(version)
}

export interface ParsedManifest {
  manifest: Manifest
  /** written by the bash toolkit: no checksums, members prefixed `./` */
  legacy: boolean
}

/** Parse and validate manifest.json text; an unusable manifest is an InputError naming the first problem. */
export function parseManifest(text: string): ParsedManifest {
  let raw: unknown
  try {
    raw = parseLegacyJson(text)
  } catch {
    throw new InputError('manifest.json is not valid JSON')
  }
  const written = writtenManifest(raw)
  if (written) return { manifest: written, legacy: false }
  const parsed = manifestSchema().safeParse(raw)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!
    const at = issue.path.length ? ` (at ${issue.path.join('.')})` : ''
    throw new InputError(`manifest.json is not a fleet manifest: ${issue.message}${at}`)
  }
  const legacy = isLegacyVersion(parsed.data.version)
  return { manifest: parsed.data, legacy }
}

/** Fields in the order an operator reads them; v1 names first. */
export function serializeManifest(manifest: Manifest): string {
  return `${JSON.stringify(manifest, null, 2)}\n`
}

export const V2_LAYOUT = { global: GLOBAL_DIR, checksums: CHECKSUMS_MEMBER, crontab: CRONTAB_FILE }

/** "2026-02-02T10:30:00.123+01:00": local time with its offset (milliseconds order backups of the same second). */
export function isoWithOffset(date: Date): string {
  const pad = (n: number, width = 2) => String(Math.trunc(Math.abs(n))).padStart(width, '0')
  const offset = -date.getTimezoneOffset()
  const sign = offset >= 0 ? '+' : '-'
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}` +
    `${sign}${pad(offset / 60)}:${pad(offset % 60)}`
  )
}
