import { readdirSync, statSync } from 'node:fs'
import { hostname } from 'node:os'
import { basename, dirname, join } from 'node:path'
import { discoverFleet, type Molt } from '../fleet/discover.ts'
import { assertMoltName } from '../fleet/names.ts'
import { ensureDir } from '../lib/atomic.ts'
import { InputError, quote } from '../lib/errors.ts'
import type { Lock } from '../lib/lock.ts'
import { buildManifest, chainFields } from './backup-manifest.ts'
import type { BackupNote } from './checksums.ts'
import { planFleet, type Plan } from './collect.ts'
import type { Compression } from './compress.ts'
import { lockFleet } from './fleet-lock.ts'
import { applyParent, chooseParent, type Incremental, type ParentChoice } from './incremental.ts'
import { archiveName, defaultBackupDir, nameIsFree, OWN_ARCHIVE_NAME, PARTIAL_SUFFIX, pruneBackups } from './list.ts'
import type { Manifest } from './manifest.ts'
import { Spool } from './spool.ts'
import { UnreadableFilesError, writeArchive } from './write.ts'

export interface BackupOptions {
  baseDir: string
  /** a file (must not exist) or a folder; default <base-dir>/backups */
  output?: string
  /** molt names; undefined = the whole fleet */
  select?: string[]
  excludeMaildir?: boolean
  excludeLogs?: boolean
  allowPartial?: boolean
  dryRun?: boolean
  compression?: Compression
  level?: number
  keep?: number
  clmntVersion: string
  /** compression threads (default: one per CPU) */
  workers?: number
  /** read molt users' crontabs (default true) */
  crontab?: boolean
  /** only what changed since the last good archive of this fleet in the output folder (incremental.ts) */
  incremental?: boolean
  /** with incremental: a full archive when the chain's full one is older than this (ms) */
  fullEveryMs?: number
  now?: Date
}

export interface BackupProgress {
  filesDone: number
  filesTotal: number
  bytesDone: number
  bytesTotal: number
  bytesOut: number
  elapsedMs: number
}

export interface BackupHooks {
  onProgress?(progress: BackupProgress): void
  /** called just before a file is opened (tests use it to change files under the backup's feet) */
  onFile?(member: string, path: string): void
  /** tests: make reading this member fail part-way with this error code (no device here fails a read for real) */
  readFault?(member: string): string | null
  signal?: AbortSignal
  /**
   * Once the archive is in place (renamed, --keep applied), still under the fleet lock: the
   * off-site upload runs here so no other backup's --keep deletes the archive while it is read.
   */
  onArchived?(result: BackupResult): Promise<void>
}

export interface BackupResult {
  dryRun: boolean
  /** the archive, once renamed into place; null for --dry-run */
  path: string | null
  manifest: Manifest
  plan: Plan
  notes: BackupNote[]
  unreadable: { path: string; reason: string }[]
  /** files missing because they could not be read (--allow-partial) */
  partial: boolean
  warnings: string[]
  files: number
  bytesIn: number
  tarBytes: number
  bytesOut: number
  durationMs: number
  pruned: string[]
  /** with --incremental: the parent taken, or why a full archive was taken instead */
  incremental: IncrementalOutcome | null
}

export interface IncrementalOutcome {
  /** file name of the parent; null: a full archive was written */
  parent: string | null
  /** why there was no usable parent */
  full_reason: string | null
  /** files unchanged since the parent (left to the chain), and their bytes */
  carried_files: number
  carried_bytes: number
  /** of the carried files, those whose metadata changed but whose sha256 confirmed the content */
  confirmed_files: number
  deleted: number
  /** archives before this one in its chain */
  depth: number
}

export { UnreadableFilesError }

/**
 * zstd 3: zstd's own default (restic's "auto" is about the same; 2 was ~5% faster for 1.3% more).
 * gzip 2, not gzip's 6: on the realistic fleet (scripts/bench, 937 MB) level 4 (lazy matching, short
 * chains) spent ~25% less CPU than 6 on text (mail bodies, JSONL, markdown) for a ~0.4% bigger
 * archive; level 3 (greedy matching) another ~12% less than 4 for another 0.4% (572.2 -> 574.4 MB);
 * level 2 (chains of 8, not 32) another ~10% less than 3 (8.8-10.4 -> 7.9-8.3 s CPU, 5.5-6.5 ->
 * 5.0-5.3 s wall, 3 rounds in turn) for another 1.0% (574.3 -> 580.1 MB, still below restic's
 * 584 MB). Level 1 was 8.9% bigger. Attachments are Huffman-coded at any level (compress-worker.ts).
 * Operators back up before every upgrade: time is what they wait for. --compress-level 6 is there
 * for those who prefer size.
 */
export const DEFAULT_LEVEL: Record<Compression, number> = { gzip: 2, zstd: 3 }

export async function backupFleet(options: BackupOptions, hooks: BackupHooks = {}): Promise<BackupResult> {
  const started = performance.now()
  const now = options.now ?? new Date()
  const compression = options.compression ?? 'gzip'
  // zstd at 6 spends twice the time of 3 for ~1% less
  const level = options.level ?? DEFAULT_LEVEL[compression]
  const warnings: string[] = []
  const molts = selectMolts(options.baseDir, options.select, warnings)
  if (!molts.length) warnings.push(`no molts in ${options.baseDir}: the archive holds no molt`)

  let lock: Lock | undefined
  if (!options.dryRun) lock = lockFleet(options.baseDir, 'fleet backup')
  let spool: Spool | null = null
  let cut: Incremental | null = null
  let choice: ParentChoice | null = null
  try {
    const target = options.dryRun ? null : resolveOutput(options, now, compression)
    // the plan's entries wait in a spool file beside the archive; a dry run keeps only the totals
    if (target) spool = new Spool(target.dir)
    choice = options.incremental && target ? await chooseParent({ dir: target.dir, hostname: hostname(), baseDir: options.baseDir, select: options.select ? [...new Set(options.select)].sort() : null, excludeMaildir: !!options.excludeMaildir, excludeLogs: !!options.excludeLogs, fullEveryMs: options.fullEveryMs, now }) : null
    const planned = planFleet(options.baseDir, molts, { excludeMaildir: !!options.excludeMaildir, excludeLogs: !!options.excludeLogs, crontab: options.crontab, spool })
    if (planned.unreadable.length && !options.allowPartial && !options.dryRun) throw new UnreadableFilesError(planned.unreadable)
    const parentState = choice?.parent ? choice.state : null
    const applied = target ? applyParent(planned, parentState, target.dir) : null
    parentState?.close()
    cut = applied
    const plan = applied?.plan ?? planned
    const manifest = buildManifest(plan, options, now, compression, level, target && applied ? chainFields(target, applied, choice, now) : null)
    const result: BackupResult = {
      dryRun: !!options.dryRun,
      path: null,
      manifest,
      plan,
      notes: [...plan.notes, ...plan.unreadable.map((u): BackupNote => ({ kind: 'unreadable', path: u.path, detail: `cannot be read: ${u.reason}; not archived` }))],
      unreadable: [...plan.unreadable],
      partial: false,
      warnings,
      files: 0,
      bytesIn: 0,
      tarBytes: 0,
      bytesOut: 0,
      durationMs: 0,
      pruned: [],
      incremental: choice && applied ? { parent: choice.parent ? basename(choice.parent.path) : null, full_reason: choice.parent ? null : choice.why, carried_files: applied.carried.files, carried_bytes: applied.carried.bytes, confirmed_files: applied.confirmed, deleted: [...applied.deleted.values()].reduce((n, l) => n + l.length, 0), depth: choice.parent ? choice.depth : 0 } : null,
    }
    if (!target) {
      result.durationMs = performance.now() - started
      return result
    }
    const stale = staleParts(target.dir, options)
    if (stale.length) warnings.push(`${stale.length} .partial file(s) in ${target.dir} were left by interrupted backups and are not archives: ${stale.join(', ')} (delete them)`)
    await writeArchive(target, plan, manifest, result, { ...options, compression, level, state: applied?.state ?? null }, hooks)
    result.partial = result.unreadable.length > 0
    result.path = target.finalPath
    if (options.keep !== undefined) {
      const pruned = await pruneBackups(target.dir, { keep: options.keep, hostname: manifest.hostname ?? hostname(), baseDir: options.baseDir, justWritten: basename(target.finalPath) })
      result.pruned = pruned.deleted
      for (const failure of pruned.failed) warnings.push(`--keep: could not delete ${failure}`)
    }
    result.durationMs = performance.now() - started
    await hooks.onArchived?.(result)
    return result
  } finally {
    spool?.close()
    cut?.state.close()
    if (choice?.parent) choice.state.close()
    if (cut && cut.plan.spool !== spool) cut.plan.spool?.close()
    lock?.release()
  }
}

function selectMolts(baseDir: string, select: string[] | undefined, warnings: string[]): Molt[] {
  const fleet = discoverFleet(baseDir)
  warnings.push(...fleet.warnings)
  for (const molt of fleet.molts) for (const w of molt.warnings) warnings.push(`${molt.name}: ${w}`)
  if (!select) return fleet.molts
  const wanted = [...new Set(select)]
  for (const name of wanted) assertMoltName(name)
  const known = new Map(fleet.molts.map((m) => [m.name, m]))
  const unknown = wanted.filter((name) => !known.has(name))
  if (unknown.length) {
    const names = fleet.molts.map((m) => m.name)
    throw new InputError(`unknown molt${unknown.length > 1 ? 's' : ''} ${unknown.map(quote).join(', ')} in --select; the fleet has: ${names.length ? names.join(', ') : '(no molts)'}`)
  }
  return wanted.sort().map((name) => known.get(name)!)
}

export interface Target {
  dir: string
  finalPath: string
  partialPath: string
}

function resolveOutput(options: BackupOptions, now: Date, compression: Compression): Target {
  let dir: string
  let file: string | null = null
  if (options.output === undefined) {
    dir = defaultBackupDir(options.baseDir)
    ensureDir(dir, { mode: 0o700 })
  } else {
    let isDir = options.output.endsWith('/')
    try {
      isDir = statSync(options.output).isDirectory()
      if (!isDir) throw new InputError(`${options.output} exists; an archive is never overwritten (give a new file name or a folder)`)
    } catch (error) {
      if (error instanceof InputError) throw error
      if (isDir) throw new InputError(`output folder ${options.output} does not exist`)
    }
    if (isDir) dir = options.output.replace(/\/+$/, '') || '/'
    else {
      dir = dirname(options.output)
      file = basename(options.output)
      try {
        if (!statSync(dir).isDirectory()) throw new Error()
      } catch {
        throw new InputError(`folder ${dir} of --output does not exist`)
      }
      if (!nameIsFree(dir, file)) throw new InputError(`${join(dir, file + PARTIAL_SUFFIX)} exists: another backup is writing it, or one was interrupted (remove it)`)
    }
  }
  if (file === null) {
    let attempt = 1
    while (!nameIsFree(dir, archiveName(now, compression, attempt))) attempt++
    file = archiveName(now, compression, attempt)
  }
  const finalPath = join(dir, file)
  return { dir, finalPath, partialPath: finalPath + PARTIAL_SUFFIX }
}

/** In the default folder, with the lock held, a .partial of ours belongs to a backup that died. */
function staleParts(dir: string, options: BackupOptions): string[] {
  if (options.output !== undefined) return []
  try {
    return readdirSync(dir).filter((name) => name.endsWith(PARTIAL_SUFFIX) && OWN_ARCHIVE_NAME.test(name.slice(0, -PARTIAL_SUFFIX.length)))
  } catch {
    return []
  }
}
