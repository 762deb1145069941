import { existsSync, readdirSync, statSync, unlinkSync } from 'node:fs'
import { join } from 'node:path'
import type { Compression } from './compress.ts'
import { archiveReadProblem, readArchiveHead } from './read.ts'
import { ancestors } from './chain.ts'

/** The archives of a backup folder, newest first, each judged from its first member (and its last 8 bytes). */
export type BackupStatus = 'ok' | 'legacy' | 'incomplete' | 'corrupt'

export interface BackupListing {
  file: string
  path: string
  status: BackupStatus
  /** why it is incomplete or corrupt */
  reason: string | null
  /** the manifest's timestamp, as written */
  created: string | null
  size_bytes: number
  molts: string[] | null
  hostname: string | null
  /** the base dir of the fleet it holds, from its manifest */
  base_dir: string | null
  clmnt_version: string | null
  format_version: string | null
  compression: Compression | null
  total_files: number | null
  total_size_bytes: number | null
  /** format 4: full, or incremental (needs its parent, and the parent's parents, to restore) */
  kind: 'full' | 'incremental' | null
  /** an incremental archive's parent: a file name in the same folder */
  parent: string | null
  /** for sorting: manifest time, else the file's mtime */
  sort_ms: number
  mtime_ms: number
}

export const BACKUPS_DIR = 'backups'
export const PARTIAL_SUFFIX = '.partial'
/** What list-backups looks at: tar archives, compressed, finished or not. */
const ARCHIVE_FILE = /\.(tar\.gz|tgz|tar\.zst|tar\.zstd)(\.partial)?$/
/** Names clmnt gives its archives: the only ones --keep may delete. */
export const OWN_ARCHIVE_NAME = /^fleet-\d{4}-\d{2}-\d{2}-\d{6}(-\d+)?\.tar\.(gz|zst)$/

export function defaultBackupDir(baseDir: string): string {
  return join(baseDir, BACKUPS_DIR)
}

export function isArchiveName(file: string): boolean {
  return ARCHIVE_FILE.test(file)
}

export async function listBackups(dir: string): Promise<BackupListing[]> {
  let names: string[]
  try {
    names = readdirSync(dir)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw error
  }
  const listings = await Promise.all(names.filter(isArchiveName).map((file) => describe(dir, file)))
  return listings.filter((l): l is BackupListing => l !== null).sort(newestFirst)
}

/** The order of every listing, local or remote (s3://): newest first. */
export function newestFirst(a: BackupListing, b: BackupListing): number {
  return b.sort_ms - a.sort_ms || b.mtime_ms - a.mtime_ms || b.file.localeCompare(a.file)
}

/** What restore accepts: a finished archive that reads as clmnt's, or the bash toolkit's. */
export function isGoodListing(l: BackupListing): boolean {
  return l.status === 'ok' || l.status === 'legacy'
}

/** A listing that knows only the file: what the manifest tells is filled in by the caller. */
export function blankListing(f: { file: string; path: string; status: BackupListing['status']; size: number; mtimeMs: number }): BackupListing {
  return {
    file: f.file,
    path: f.path,
    status: f.status,
    reason: null,
    created: null,
    size_bytes: f.size,
    molts: null,
    hostname: null,
    base_dir: null,
    clmnt_version: null,
    format_version: null,
    compression: null,
    total_files: null,
    total_size_bytes: null,
    kind: null,
    parent: null,
    sort_ms: f.mtimeMs,
    mtime_ms: f.mtimeMs,
  }
}

async function describe(dir: string, file: string): Promise<BackupListing | null> {
  const path = join(dir, file)
  let st: ReturnType<typeof statSync>
  try {
    st = statSync(path)
  } catch {
    return null
  }
  if (!st.isFile()) return null
  const listing = blankListing({ file, path, status: 'corrupt', size: st.size, mtimeMs: st.mtimeMs })
  const partial = file.endsWith(PARTIAL_SUFFIX)
  try {
    const head = await readArchiveHead(path)
    const m = head.manifest
    Object.assign(listing, {
      created: m.timestamp,
      molts: m.molts.map((molt) => molt.name),
      hostname: m.hostname,
      base_dir: m.base_dir,
      clmnt_version: m.clmnt_version,
      format_version: m.version,
      compression: head.compression,
      total_files: m.total_files,
      total_size_bytes: m.total_size_bytes,
      kind: head.legacy ? null : m.kind,
      parent: m.parent?.file ?? null,
    })
    const created = Date.parse(m.timestamp)
    if (!Number.isNaN(created)) listing.sort_ms = created
    if (head.legacy) listing.status = 'legacy'
    else if (head.complete) listing.status = 'ok'
    else {
      // not clmnt's own ending (recompressed, re-tarred, padded): read it through to judge it
      const problem = await archiveReadProblem(path, head.compression)
      if (problem === null) listing.status = 'ok'
      else listing.reason = `cut short or damaged: ${problem}`
    }
  } catch (error) {
    listing.reason = (error as Error).message
  }
  if (partial) {
    listing.status = 'incomplete'
    listing.reason = 'still being written, or left by an interrupted backup'
  }
  return listing
}

/**
 * `latest` for verify and restore alike: the newest finished archive (a `.partial` is not
 * finished). Never an older one in its place: when the newest is damaged, restore says so and
 * stops, and verify reports what is wrong with it.
 */
export async function latestBackup(dir: string): Promise<BackupListing | null> {
  const all = await listBackups(dir)
  return all.find((l) => l.status !== 'incomplete') ?? null
}

/**
 * Why an incremental archive cannot be restored from the archives beside it (a folder's or a
 * bucket's listing), or null: the first parent up its chain that is missing there or not good.
 * From the names only (a listing reads heads): a parent replaced under its name is found by
 * verify and restore.
 */
export function chainGap(l: BackupListing, listings: BackupListing[], where: string): string | null {
  const byFile = new Map(listings.map((x) => [x.file, x]))
  const seen = new Set([l.file])
  for (let parent = l.kind === 'incremental' ? l.parent : null; parent; ) {
    if (seen.has(parent)) return `broken chain: its chain of parents loops at ${parent}`
    seen.add(parent)
    const found = byFile.get(parent)
    const what = parent === l.parent ? `its parent ${parent} is` : `its chain needs ${parent}, which is`
    if (!found) return `broken chain: ${what} missing from ${where}`
    if (!isGoodListing(found)) return `broken chain: ${what} ${found.status} in ${where}`
    parent = found.kind === 'incremental' ? found.parent : null
  }
  return null
}

/** Whose archives `--keep` may delete: this host's fleet in this base dir, and the archive just written. */
export interface PruneScope {
  keep: number
  hostname: string
  baseDir: string
  /** file name of the archive this backup wrote: never deleted, and one of the N */
  justWritten: string
}

/**
 * What `--keep N` deletes, judged by what each archive says of itself, not by its name alone:
 * only finished, good clmnt archives (named as clmnt names them) whose manifest gives this host
 * and this base dir. The archive just written always stays and counts as one of the N; the others
 * are ranked by their manifest's time, so an old archive with a clock in the future can take a
 * place among the N but never push out the new one. Another fleet's archive, a foreign or broken
 * file, a `.partial` are never touched. The parents of a kept incremental archive (up to its full
 * one) are kept too, beyond the N: a chain is never cut.
 */
export function archivesToPrune(listings: BackupListing[], scope: PruneScope): BackupListing[] {
  const ours = listings
    .filter((l) => l.status === 'ok' && OWN_ARCHIVE_NAME.test(l.file) && l.hostname === scope.hostname && l.base_dir === scope.baseDir && l.file !== scope.justWritten)
    .sort(newestFirst)
  const kept = ours.slice(0, Math.max(0, scope.keep - 1)).map((l) => l.file)
  // a kept incremental archive needs its parents up to its full one: they stay, beyond the N
  const parentOf = new Map(listings.map((l) => [l.file, l.parent]))
  const needed = new Set<string>()
  for (const file of [scope.justWritten, ...kept]) for (const parent of ancestors(file, parentOf)) needed.add(parent)
  return ours.slice(Math.max(0, scope.keep - 1)).filter((l) => !needed.has(l.file))
}

export async function pruneBackups(dir: string, scope: PruneScope): Promise<{ deleted: string[]; failed: string[] }> {
  const deleted: string[] = []
  const failed: string[] = []
  for (const old of archivesToPrune(await listBackups(dir), scope)) {
    try {
      unlinkSync(old.path)
      deleted.push(old.path)
    } catch (error) {
      failed.push(`${old.path}: ${(error as NodeJS.ErrnoException).code ?? error}`)
    }
  }
  return { deleted, failed }
}

/** fleet-2026-02-02-103000.tar.gz in local time; -2, -3 … when a name (or its .partial) is taken. */
export function archiveName(now: Date, compression: Compression, attempt: number): string {
  const pad = (n: number) => String(n).padStart(2, '0')
  const stamp = `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}-${pad(now.getHours())}${pad(now.getMinutes())}${pad(now.getSeconds())}`
  return `fleet-${stamp}${attempt > 1 ? `-${attempt}` : ''}${compression === 'zstd' ? '.tar.zst' : '.tar.gz'}`
}

export function nameIsFree(dir: string, file: string): boolean {
  return !existsSync(join(dir, file)) && !existsSync(join(dir, file + PARTIAL_SUFFIX))
}
