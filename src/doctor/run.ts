import { defaultBackupDir, listBackups, type BackupListing } from '../archive/list.ts'
import type { BaseDir } from '../fleet/base-dir.ts'
import { readFleetConfig, type FleetConfigRead } from '../fleet/config.ts'
import { discoverFleet, findMolt, type Fleet, type Molt } from '../fleet/discover.ts'
import { readRegistry } from '../fleet/registry.ts'
import { mapLimit } from '../lib/pool.ts'
import { ProcessTable } from '../lib/proc.ts'
import { EXPECT_BIND, type DoctorContext, type DoctorOptions, type ExpectBind } from './context.ts'
import { backupChecks } from './backups.ts'
import { hostChecks } from './host.ts'
import { moltChecks } from './molt.ts'
import { monitoringChecks, monitoringShared } from './monitoring.ts'
import { watcherFindings } from './watcher-notice.ts'
import { summarize, type Check, type DoctorReport, type Finding, type Group } from './types.ts'

export interface DoctorRequest extends Omit<DoctorOptions, 'expectBind'> {
  /** resolves the base dir; throws when it cannot (reported as a failed check) */
  baseDir(): BaseDir
  /** one molt; undefined: every molt of the fleet */
  molt?: string
  /** --expect-bind; undefined: clmnt.json's expect_bind, if any */
  expectBind?: ExpectBind
  concurrency?: number
}

/**
 * Every check `doctor` makes, in order: host, then each molt (its own checks, then its
 * monitoring), then the backups. It calls the functions the other commands call; it changes
 * nothing but a probe file it removes again, and sends mail only when asked to — or, as any watch
 * run would, the one "watcher stopped" notice for a watch that stopped running.
 */
export async function runDoctor(request: DoctorRequest): Promise<DoctorReport> {
  const ctx = await loadContext(request)
  const checks: Check[] = []
  const add = (group: Group, findings: Finding[], molt?: string) => checks.push(...findings.map(({ id, ...rest }) => ({ id, group, ...(molt ? { molt } : {}), ...rest })))
  add('host', hostChecks(ctx))

  let molts: Molt[] = ctx.fleet?.molts ?? []
  // a named molt goes through findMolt, as everywhere: an unknown or invalid name is a usage error
  if (request.molt !== undefined && ctx.baseDir) molts = [findMolt(ctx.baseDir.dir, request.molt).molt]
  else if (request.molt !== undefined) molts = []
  // gateways first, all at once; then monitoring, which spawns (crontab, --version): a blocked
  // loop must not add to a gateway's measured latency
  const concurrency = request.concurrency ?? 8
  const own = await mapLimit(molts, concurrency, (molt) => moltChecks(molt, ctx))
  const shared = monitoringShared()
  const monitoring = await mapLimit(molts, concurrency, (molt) => monitoringChecks(molt, ctx, shared))
  molts.forEach((molt, i) => {
    add('molt', own[i]!, molt.name)
    add('monitoring', monitoring[i]!, molt.name)
  })
  // the fleet's watches as a whole (not for a named molt): a stopped one gets its one notice
  if (request.molt === undefined) add('monitoring', await watcherFindings(ctx))
  add('backups', await backupChecks(ctx))
  return summarize(checks, {
    clmnt_version: request.version,
    base_dir: ctx.baseDir?.dir ?? null,
    base_dir_rule: ctx.baseDir?.rule ?? null,
    molts: molts.map((m) => m.name),
  })
}

async function loadContext(request: DoctorRequest): Promise<DoctorContext> {
  let baseDir: BaseDir | null = null
  let baseDirError: string | null = null
  try {
    baseDir = request.baseDir()
  } catch (error) {
    baseDirError = (error as Error).message
  }
  let fleet: Fleet | null = null
  let registry: DoctorContext['registry'] = null
  let registryWarning: string | null = null
  let config: FleetConfigRead | null = null
  let configError: string | null = null
  let backups: BackupListing[] = []
  let backupsError: string | null = null
  if (baseDir) {
    try {
      fleet = discoverFleet(baseDir.dir)
    } catch (error) {
      baseDirError = (error as Error).message
      baseDir = null
    }
  }
  if (baseDir) {
    const read = readRegistry(baseDir.dir)
    registry = read.registry
    registryWarning = read.warning ?? null
    try {
      config = readFleetConfig(baseDir.dir)
    } catch (error) {
      configError = (error as Error).message
    }
    try {
      backups = await listBackups(defaultBackupDir(baseDir.dir))
    } catch (error) {
      backupsError = (error as NodeJS.ErrnoException).code ?? (error as Error).message
    }
  }
  const configured = config?.config.expect_bind
  const expectBind = request.expectBind ?? ((EXPECT_BIND as readonly unknown[]).includes(configured) ? (configured as ExpectBind) : null)
  return {
    ...request,
    expectBind,
    baseDir,
    baseDirError,
    fleet,
    registry,
    registryWarning,
    config,
    configError,
    processes: new ProcessTable(),
    backups,
    backupsError,
    uid: process.getuid?.() ?? -1,
  }
}
