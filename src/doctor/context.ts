import type { BackupListing } from '../archive/list.ts'
import type { BaseDir } from '../fleet/base-dir.ts'
import type { FleetConfigRead } from '../fleet/config.ts'
import type { Fleet } from '../fleet/discover.ts'
import type { Registry } from '../fleet/registry.ts'
import type { ProcessTable } from '../lib/proc.ts'

/** Where molts must be reachable from: `lan` makes a loopback bind a warning (seed 000), `loopback` a LAN bind. */
export const EXPECT_BIND = ['lan', 'loopback'] as const
export type ExpectBind = (typeof EXPECT_BIND)[number]

export interface DoctorOptions {
  /** what ran the checks: "clmnt 0.1.0" */
  version: string
  /** TCP, HTTP and token probes, and the SMTP connect */
  timeoutMs: number
  expectBind: ExpectBind | null
  verifyLatest: boolean
  sendTestAlert: boolean
  /** `clmnt <bin> --version` of the schedule's command */
  binaryTimeoutMs: number
  now: number
}

/** What every section reads once: the fleet, its registry and config, the process table, the archives. */
export interface DoctorContext extends DoctorOptions {
  baseDir: BaseDir | null
  baseDirError: string | null
  fleet: Fleet | null
  registry: Registry | null
  registryWarning: string | null
  config: FleetConfigRead | null
  configError: string | null
  processes: ProcessTable
  /** finished archives in <base-dir>/backups, newest first */
  backups: BackupListing[]
  backupsError: string | null
  uid: number
}
