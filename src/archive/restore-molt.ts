import { spawnSync } from 'node:child_process'
import { chmodSync, lchownSync, lstatSync, readFileSync, renameSync, utimesSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { parseMoltInfo } from '../fleet/molt-info.ts'
import type { RegistryEntry } from '../fleet/registry.ts'
import { writeFileAtomic } from '../lib/atomic.ts'
import { pathIn } from './byte-names.ts'
import { COMPONENTS, componentOf, type Component } from './layout.ts'
import type { Manifest } from './manifest.ts'
import type { MoltTally } from './restore-extract.ts'
import { catchUpKept, cloneKept, type KeptLinks } from './restore-keep.ts'
import { rewriteCrontab, rewriteOpenclawConfig, setMoltInfoValues, type PathMap } from './restore-fixes.ts'
import { chownTree, exchangePaths, fileTime, inodeOf, renameNoReplace, syncDir, type DiskSync } from './restore-fs.ts'
import type { Staging } from './restore-journal.ts'
import { isRoot, readUsers, type HostUser, type PlannedMolt } from './restore-plan.ts'

/**
 * One molt, from its checked staging folder to its place: user, ownership, the files of the old
 * home a backup never holds, `.molt-info` and `openclaw.json` fitted to the new place, folder
 * modes and times — all in staging — then one atomic exchange with the live home.
 */
export class MoltFailure extends Error {}

export interface MoltContext {
  baseDir: string
  manifest: Manifest
  legacy: boolean
  staging: Staging
  /** syncfs of the staging folder's file system, opened before anything was written (restore-fs.ts) */
  disk: DiskSync
  only: ReadonlySet<Component> | null
  skipUsers: boolean
  skipCron: boolean
  restoredAt: string
  /** this host's clmnt command and tee, for crontab lines (null: crontabs are not rewritten) */
  cron: () => { clmnt: string[]; tee: string } | { error: string }
  /** molts.json entries from the archive's global folder */
  archivedRegistry: Record<string, RegistryEntry>
}

export interface PreparedMolt {
  owner: HostUser | null
  userCreated: boolean
  /** a crontab waits in staging/cron */
  crontab: boolean
  kept: number
  /** what was linked from the old home, for the catch-up after the exchange */
  keptLinks: KeptLinks
  /** entries the catch-up added to / removed from the new home */
  caughtUp?: { added: number; removed: number }
  warnings: string[]
  registry: RegistryEntry
}

const MOLT_INFO = '.molt-info'

export function prepareMolt(ctx: MoltContext, planned: PlannedMolt, tally: MoltTally): PreparedMolt {
  const name = planned.name
  const stage = ctx.staging.stage(name)
  const warnings: string[] = []
  let users = readUsers()
  let userCreated = false
  if (!ctx.skipUsers && !users.has(name)) {
    createUser(name, planned.target)
    userCreated = true
    users = readUsers()
  }
  const archivedOwner = planned.archived.user
  const owner = users.get(name) ?? (archivedOwner ? (users.get(archivedOwner) ?? null) : null)
  // with --skip-users the operator chose this: the summary names the owner, no warning
  if (!owner && !ctx.skipUsers) warnings.push(`no user ${name} on this host${archivedOwner ? ` (nor ${archivedOwner}, the archived owner)` : ''}: files stay owned by ${process.getuid?.() === 0 ? 'root' : 'you'}`)

  const me = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 }
  if (owner && isRoot() && (owner.uid !== me.uid || owner.gid !== me.gid)) chownTree(stage, owner.uid, owner.gid)

  const keptLinks: KeptLinks = new Map()
  if (planned.action === 'overwrite') cloneKept(planned.target, stage, tally, ctx.only ?? new Set(COMPONENTS), keptLinks)
  const kept = keptLinks.size

  // paths: where the backup was made → where the molt now lives
  const info = readText(join(stage, MOLT_INFO))
  const oldHome = planned.archived.home ?? (info !== null ? (parseMoltInfo(info).values.MOLT_HOME ?? null) : null)
  const oldBase = ctx.manifest.base_dir ?? (oldHome ? dirname(oldHome) : null)
  const map: PathMap = []
  if (oldHome) map.push([oldHome, planned.target])
  if (oldBase) map.push([oldBase, ctx.baseDir])
  const fileOwner = owner && isRoot() ? { uid: owner.uid, gid: owner.gid } : undefined

  const values = { MOLT_HOME: planned.target, RESTORED: ctx.restoredAt }
  if (info !== null) writeFileAtomic(join(stage, MOLT_INFO), setMoltInfoValues(info, values), { mode: modeOf(join(stage, MOLT_INFO)), owner: fileOwner })
  else if (isAbsent(join(stage, MOLT_INFO))) {
    const fresh = { MOLT_NAME: name, ...(planned.port ? { MOLT_PORT: String(planned.port) } : {}), ...values, ...(planned.archived.created ? { CREATED: planned.archived.created } : {}) }
    writeFileAtomic(join(stage, MOLT_INFO), setMoltInfoValues('', fresh), { mode: 0o644, owner: fileOwner })
  } else warnings.push(`${MOLT_INFO} is not a regular file: RESTORED and MOLT_HOME not written`)

  const configPath = join(stage, '.openclaw', 'openclaw.json')
  const config = readText(configPath)
  if (config !== null && map.some(([from, to]) => from !== to)) {
    const rewritten = rewriteOpenclawConfig(config, map)
    if (!rewritten) warnings.push('openclaw.json is not valid JSON: its paths were not rewritten')
    else if (rewritten.changed) writeFileAtomic(configPath, rewritten.text, { mode: modeOf(configPath), owner: fileOwner })
  }

  let crontab = false
  if (tally.crontab && tally.crontab.length && !ctx.skipCron && (!ctx.only || ctx.only.has('crontab'))) {
    if (!owner || owner.name !== name || !isRoot()) warnings.push(`crontab not installed: ${!isRoot() ? 'only root can install another user\'s crontab' : `no user ${name} on this host`}`)
    else {
      const tools = ctx.cron()
      let text = new TextDecoder().decode(tally.crontab)
      if ('error' in tools) warnings.push(`crontab lines not rewritten for this host: ${tools.error}`)
      else {
        const rewritten = rewriteCrontab(text, { clmnt: tools.clmnt, baseDir: ctx.baseDir, map, tee: tools.tee })
        text = rewritten.text
        warnings.push(...rewritten.warnings)
      }
      writeFileSync(ctx.staging.cron(name), text, { mode: 0o600 })
      crontab = true
    }
  }

  // folder modes and times last: writing into a folder moves its mtime
  const deferred = [...tally.deferred, ...tally.implicit.values()].sort((a, b) => depth(b.rel) - depth(a.rel))
  for (const d of deferred) {
    const path = pathIn(stage, d.rel)
    chmodSync(path, d.mode)
    utimesSync(path, fileTime(d.mtime), fileTime(d.mtime))
  }
  chmodSync(stage, 0o700)
  if (fileOwner) lchownSync(stage, fileOwner.uid, fileOwner.gid)
  const rootTime = tally.rootMtime ?? Date.now() / 1000
  utimesSync(stage, fileTime(rootTime), fileTime(rootTime))

  const base = ctx.archivedRegistry[name] && typeof ctx.archivedRegistry[name] === 'object' ? ctx.archivedRegistry[name] : {}
  const registry: RegistryEntry = { ...base, name, port: planned.port, home: planned.target, created: planned.archived.created ?? base.created ?? null }
  return { owner, userCreated, crontab, kept, keptLinks, warnings, registry }
}

/** The commit: the new tree on disk, the journal, then one exchange (or a no-replace rename for a new molt). */
export function commitMolt(ctx: MoltContext, planned: PlannedMolt, prepared: PreparedMolt, beforeExchange?: (molt: string) => void): void {
  const name = planned.name
  const stage = ctx.staging.stage(name)
  const existed = planned.action === 'overwrite'
  // the first molt's call writes what the whole restore staged; the others', what preparing them changed
  ctx.disk.sync()
  ctx.staging.setMolt(name, { state: 'committing', new_ino: inodeOf(stage), existed, registry: prepared.registry, crontab: prepared.crontab, user: prepared.owner?.name ?? null })
  beforeExchange?.(name)
  if (existed) {
    exchangePaths(stage, planned.target, ctx.staging.old(name))
    renameSync(stage, ctx.staging.old(name))
  } else renameNoReplace(stage, planned.target)
  syncDir(ctx.baseDir)
  ctx.staging.setMolt(name, { state: 'committed' })
  // mail delivered (or moved) in the old home since it was cloned goes to the new one, now live
  if (existed) prepared.caughtUp = catchUpKept(ctx.staging.old(name), planned.target, ctx.only ?? new Set(COMPONENTS), prepared.keptLinks)
}

function createUser(name: string, home: string): void {
  const groups = readFileSync('/etc/group', 'utf8').split('\n').map((line) => line.split(':')[0])
  const args = ['-d', home, '-M', '-s', '/bin/bash', '-c', `clmnt molt ${name}`]
  if (groups.includes(name)) args.push('-g', name)
  if (groups.includes('docker')) args.push('-G', 'docker')
  // the restore runs with umask 0 (archived modes exactly); useradd gets the usual one
  const umask = process.umask(0o022)
  let result: import('node:child_process').SpawnSyncReturns<string>
  try {
    result = spawnSync('useradd', [...args, name], { encoding: 'utf8', timeout: 30_000 })
  } finally {
    process.umask(umask)
  }
  if (result.error) throw new MoltFailure(`cannot run useradd: ${(result.error as NodeJS.ErrnoException).code ?? result.error.message}`)
  if (result.status !== 0) throw new MoltFailure(`useradd ${name} failed: ${result.stderr.trim().split('\n')[0] || `exit ${result.status}`}`)
}

function readText(path: string): string | null {
  try {
    if (!lstatSync(path).isFile()) return null
    return readFileSync(path, 'utf8')
  } catch {
    return null
  }
}

function isAbsent(path: string): boolean {
  try {
    lstatSync(path)
    return false
  } catch {
    return true
  }
}

function modeOf(path: string): number {
  return lstatSync(path).mode & 0o777
}

const depth = (rel: string) => rel.split('/').length
