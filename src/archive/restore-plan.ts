import { lstatSync, statSync } from 'node:fs'
import { isAbsolute, join } from 'node:path'
import { discoverFleet, type Molt } from '../fleet/discover.ts'
import { assertMoltName } from '../fleet/names.ts'
import { readRegistry } from '../fleet/registry.ts'
import { gatewayState } from '../health/gateway.ts'
import { ClmntError, InputError, UsageError, quote } from '../lib/errors.ts'
import { ProcessTable } from '../lib/proc.ts'
import { systemUsers, type UserEntry } from '../lib/users.ts'
import type { Compression } from './compress.ts'
import { COMPONENTS, isComponent, type Component } from './layout.ts'
import type { Manifest, ManifestMolt } from './manifest.ts'
import { ArchiveReadError, readArchiveHead } from './read.ts'
import { resolveChain, type ArchiveFront } from './chain.ts'
import { describeStale, findStaleStaging, type Journal } from './restore-journal.ts'

/**
 * The plan of a restore, read-only: what the archive holds (its manifest only), what the base dir
 * holds, and per molt what would happen. `--dry-run` prints it; a real run shows it, asks, then
 * plans again under the lock and refuses if anything moved meanwhile.
 */
export interface RestoreOptions {
  baseDir: string
  /** absolute path of the archive */
  archive: string
  select?: string[]
  only?: string[]
  force?: boolean
  skipUsers?: boolean
  skipCron?: boolean
  keepOld?: boolean
}

export type MoltAction = 'new' | 'overwrite' | 'skip' | 'refused'
export type UserAction = 'create' | 'exists' | 'skipped'

export interface PlannedMolt {
  name: string
  action: MoltAction
  /** why skip / refused; what is being replaced for overwrite */
  reason: string | null
  /** `<base-dir>/<molt>` */
  target: string
  user: { name: string; action: UserAction }
  port: number | null
  /** other molts on that port */
  portConflicts: string[]
  files: number | null
  bytes: number | null
  components: string[]
  archived: ManifestMolt
}

export interface RestorePlan {
  archive: string
  archiveBytes: number
  /** the archive file as planned (device, inode, size, mtime): a plan made again reads its head again only when it changed */
  archiveId: string | null
  manifest: Manifest
  legacy: boolean
  compression: Compression
  baseDir: string
  /** where the backup was made (null for legacy archives) */
  sourceBaseDir: string | null
  only: Component[] | null
  molts: PlannedMolt[]
  stale: { path: string; journal: Journal | null; description: string }[]
  /** an incremental archive's parents, the full archive first (empty for a full archive) */
  chain: ArchiveFront[]
  warnings: string[]
  /** reasons a real run cannot start (shown by --dry-run too) */
  blockers: string[]
  options: Required<Pick<RestoreOptions, 'force' | 'skipUsers' | 'skipCron' | 'keepOld'>>
}

export const isRoot = () => process.getuid?.() === 0

function fileId(path: string): string | null {
  try {
    const st = statSync(path, { bigint: true })
    return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`
  } catch {
    return null
  }
}

/** `earlier`: the plan shown, when this one checks that nothing changed since (executeRestore) */
export async function planRestore(options: RestoreOptions, earlier?: RestorePlan): Promise<RestorePlan> {
  const archiveId = fileId(options.archive)
  let head: Pick<Awaited<ReturnType<typeof readArchiveHead>>, 'manifest' | 'legacy' | 'compression'>
  try {
    head = earlier && archiveId !== null && earlier.archive === options.archive && earlier.archiveId === archiveId ? earlier : await readArchiveHead(options.archive)
  } catch (error) {
    if (error instanceof ArchiveReadError) throw new InputError(`${options.archive}: ${error.message}`)
    if (error instanceof InputError) throw new InputError(`${options.archive}: ${error.message}`)
    throw error
  }
  const { manifest, legacy } = head
  // an incremental archive restores from its chain: a missing or changed parent refuses here, before anything
  const chain = manifest.kind === 'incremental' ? (await resolveChain(options.archive)).archives.slice(0, -1) : []

  const archived = new Map(manifest.molts.map((m) => [m.name, m]))
  let names = manifest.molts.map((m) => m.name)
  if (options.select) {
    const wanted = [...new Set(options.select)]
    for (const name of wanted) assertMoltName(name)
    const missing = wanted.filter((name) => !archived.has(name))
    if (missing.length) {
      throw new InputError(`not in the archive: ${missing.map(quote).join(', ')}; it holds ${names.length ? names.join(', ') : 'no molts'}`)
    }
    names = wanted.sort()
  }
  let only: Component[] | null = null
  if (options.only) {
    const bad = options.only.filter((c) => !isComponent(c))
    if (bad.length) throw new UsageError(`invalid value ${quote(bad[0]!)} for --only: expected components from ${COMPONENTS.join(', ')}`)
    only = COMPONENTS.filter((c) => options.only!.includes(c))
  }

  const warnings: string[] = []
  const fleet = discoverFleet(options.baseDir)
  warnings.push(...fleet.warnings)
  const fleetMolts = new Map(fleet.molts.map((m) => [m.name, m]))
  const { registry } = readRegistry(options.baseDir)
  const users = readUsers()
  const processes = new ProcessTable()
  const molts: PlannedMolt[] = []
  for (const name of names) {
    const m = archived.get(name)!
    const target = join(options.baseDir, name)
    const planned: PlannedMolt = {
      name,
      action: 'new',
      reason: null,
      target,
      user: { name, action: users.has(name) ? 'exists' : options.skipUsers ? 'skipped' : 'create' },
      port: m.port,
      portConflicts: [],
      files: chainSum(chain, name, 'files', only ? sumStats(m, only, 'files') : m.files),
      bytes: chainSum(chain, name, 'backup_size_bytes', only ? sumStats(m, only, 'bytes') : m.backup_size_bytes),
      components: only ? m.components.filter((c) => only!.includes(c as Component)) : m.components,
      archived: m,
    }
    molts.push(planned)
    const entryHome = registry?.molts[name]?.home
    const registeredHome = entryHome ? (isAbsolute(entryHome) ? entryHome : join(options.baseDir, entryHome)) : null
    const present = describeTarget(target)
    if (registeredHome && registeredHome !== target && exists(registeredHome)) {
      planned.action = options.force ? 'refused' : 'skip'
      planned.reason = `molts.json puts its home at ${registeredHome}; restore places homes at ${target}: move that home there, or remove the entry, then run again`
      continue
    }
    if (!present && !(registry?.molts[name] && registeredHome === target)) continue
    if (!present) {
      planned.reason = 'in molts.json, but its home is missing'
      continue
    }
    if (!options.force) {
      planned.action = 'skip'
      planned.reason = `exists (${present}); --force replaces it`
      continue
    }
    const molt: Molt = fleetMolts.get(name) ?? { name, home: target, port: null, portSource: null, created: null, inRegistry: false, hasMoltInfo: false, warnings: [] }
    const state = gatewayState(molt, processes)
    if (state.state === 'running') {
      planned.action = 'refused'
      planned.reason = `its gateway is running (PID ${state.pid}): stop it first (kill ${state.pid}, or stop its service), then run again`
      continue
    }
    planned.action = 'overwrite'
    planned.reason = `replaces the ${present} there${only ? ` (only ${only.join(', ')}; the rest of the home stays)` : ' (files a backup never holds stay)'}`
  }

  // ports: a restored molt sharing its port with another molt of the fleet (or of the restore)
  const restoring = molts.filter((m) => m.action === 'new' || m.action === 'overwrite')
  for (const m of restoring) {
    if (m.port === null) continue
    const others = new Set<string>()
    for (const other of fleet.molts) if (other.name !== m.name && other.port === m.port && !restoring.some((r) => r.name === other.name)) others.add(other.name)
    for (const other of restoring) if (other.name !== m.name && other.port === m.port) others.add(other.name)
    m.portConflicts = [...others].sort()
    if (m.portConflicts.length) warnings.push(`${m.name}: port ${m.port} is also used by molt ${m.portConflicts.join(', ')}: change one of them before starting both`)
  }

  const blockers: string[] = []
  if (!options.skipUsers && !isRoot() && restoring.length) {
    blockers.push('creating users and giving files to them needs root: run as root, or add --skip-users to restore the files owned by you')
  }
  if (legacy) warnings.push(`legacy archive (bash toolkit, manifest version ${manifest.version}): it has no checksums, so nothing can be verified; only its structure is checked`)
  if (manifest.base_dir && manifest.base_dir !== options.baseDir) warnings.push(`the backup was made in ${manifest.base_dir}: absolute paths in .molt-info, openclaw.json and crontabs are rewritten to ${options.baseDir}`)
  const stale = findStaleStaging(options.baseDir).map((s) => ({ ...s, description: describeStale(s) }))
  let archiveBytes = 0
  try {
    archiveBytes = statSync(options.archive).size
  } catch {}
  return {
    archive: options.archive,
    archiveBytes,
    archiveId,
    manifest,
    legacy,
    compression: head.compression,
    baseDir: options.baseDir,
    sourceBaseDir: manifest.base_dir,
    only,
    molts,
    stale,
    chain,
    warnings,
    blockers,
    options: { force: !!options.force, skipUsers: !!options.skipUsers, skipCron: !!options.skipCron, keepOld: !!options.keepOld },
  }
}

/** what staging takes for a molt of an incremental archive: its part of every archive of the chain (an upper bound) */
function chainSum(chain: ArchiveFront[], name: string, key: 'files' | 'backup_size_bytes', own: number | null): number | null {
  if (!chain.length || own === null) return own
  return chain.reduce((sum, a) => sum + (a.manifest.molts.find((m) => m.name === name)?.[key] ?? 0), own)
}

function sumStats(m: ManifestMolt, only: Component[], key: 'files' | 'bytes'): number | null {
  if (!Object.keys(m.component_stats).length) return null
  let total = 0
  for (const c of only) total += m.component_stats[c]?.[key] ?? 0
  return total
}

function describeTarget(path: string): string | null {
  try {
    const st = lstatSync(path)
    if (st.isSymbolicLink()) return 'symlink'
    if (!st.isDirectory()) return 'file'
    try {
      return statSync(join(path, '.molt-info')).isFile() ? 'molt home' : 'folder'
    } catch {
      return 'folder'
    }
  } catch {
    return null
  }
}

function exists(path: string): boolean {
  try {
    lstatSync(path)
    return true
  } catch {
    return false
  }
}

export type HostUser = UserEntry

/** /etc/passwd read now: the cache of src/lib/users would miss users this restore creates. */
export function readUsers(): Map<string, HostUser> {
  return systemUsers({ fresh: true })
}

/** What a real run will do: molts to restore. */
export function restoringMolts(plan: RestorePlan): PlannedMolt[] {
  return plan.molts.filter((m) => m.action === 'new' || m.action === 'overwrite')
}
