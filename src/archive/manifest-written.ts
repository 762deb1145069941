import { MOLT_NAME_PATTERN } from '../fleet/names.ts'
import { isPlainText } from '../lib/legacy.ts'
import { COMPONENTS, CRONTAB_FILE, FORMAT_VERSIONS, GLOBAL_DIR_NAME, PARENT_FILE, SHA256_HEX } from './layout.ts'
import type { Manifest } from './manifest.ts'

/**
 * manifest.json in the shape clmnt writes it, checked by hand: every key the schema knows is
 * there with the type clmnt writes, so the schema (manifest.ts) would default, coerce and strip
 * nothing and refuse nothing; the object is then the schema's result as it is. Loading zod,
 * building the schema and its first parse cost ~15 ms of a short command (a one-molt restore,
 * list-backups). Anything else (the bash toolkit's manifests, a hand-edited one, a problem to
 * name) is null: the schema reads it. A test holds both to the same answers.
 */
export function writtenManifest(raw: unknown): Manifest | null {
  if (!isObject(raw)) return null
  const m = raw
  if (typeof m.version !== 'string' || !(FORMAT_VERSIONS as readonly string[]).includes(m.version)) return null
  if (!isText(m.clmnt_version) || typeof m.timestamp !== 'string' || Number.isNaN(Date.parse(m.timestamp)) || !isText(m.hostname) || !isText(m.base_dir)) return null
  const o = m.options
  if (!isObject(o) || !(o.select === null || isStrings(o.select)) || typeof o.compression !== 'string' || !isCount(o.compress_level, true)) return null
  if (typeof o.exclude_maildir !== 'boolean' || typeof o.exclude_logs !== 'boolean' || typeof o.allow_partial !== 'boolean') return null
  const l = m.layout
  if (!isObject(l) || typeof l.global !== 'string' || !GLOBAL_DIR_NAME.test(l.global) || ![l.checksums, l.crontab, l.index, l.state].every(isText)) return null
  if (!isStrings(m.global_files) || !Array.isArray(m.molts) || !isCount(m.total_size_bytes) || !isCount(m.total_files)) return null
  const names = new Set<string>()
  for (const molt of m.molts) {
    if (!isObject(molt) || typeof molt.name !== 'string' || !MOLT_NAME_PATTERN.test(molt.name) || names.has(molt.name)) return null
    names.add(molt.name)
    if (!(molt.port === null || (Number.isInteger(molt.port) && (molt.port as number) >= 1 && (molt.port as number) <= 65535))) return null
    if (![molt.created, molt.home, molt.user, molt.group].every(isText) || !(molt.crontab === null || molt.crontab === CRONTAB_FILE)) return null
    if (!isStrings(molt.components) || !molt.components.every((c) => (COMPONENTS as readonly string[]).includes(c)) || !isStrings(molt.deleted)) return null
    if (!isCount(molt.files) || !isCount(molt.backup_size_bytes) || !isCount(molt.dirs, true) || !isCount(molt.symlinks, true)) return null
    const stats = molt.component_stats
    if (!isObject(stats) || !Object.values(stats).every((s) => isObject(s) && Object.keys(s).length === 2 && isCount(s.files) && isCount(s.bytes))) return null
  }
  if (names.has(l.global)) return null
  if (m.kind === 'full' ? m.parent !== null : m.kind !== 'incremental' || !isParent(m.parent)) return null
  const c = m.chain
  if (!(c === null || (isObject(c) && typeof c.full === 'string' && c.full !== '' && typeof c.full_timestamp === 'string' && isCount(c.depth)))) return null
  return m as unknown as Manifest
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** what the schema's `text` keeps unchanged: null, or trimmed text that says no null */
function isText(value: unknown): boolean {
  return value === null || (typeof value === 'string' && isPlainText(value))
}

function isCount(value: unknown, nullable = false): boolean {
  return (nullable && value === null) || (Number.isSafeInteger(value) && (value as number) >= 0)
}

function isStrings(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string')
}

function isParent(p: unknown): boolean {
  return isObject(p) && typeof p.file === 'string' && PARENT_FILE.test(p.file) && isCount(p.size) && typeof p.manifest_sha256 === 'string' && SHA256_HEX.test(p.manifest_sha256) && typeof p.timestamp === 'string'
}
