import { discoverFleet, type Molt } from '../fleet/discover.ts'
import type { HealthRecord } from '../health/record.ts'
import { DEFAULT_INTERVAL_MINUTES } from '../health/status.ts'
import { readStatus } from '../health/status-file.ts'
import { readWatchState } from '../health/watch-state.ts'
import { readBackupStatus } from './backup-state.ts'
import { renderFamilies, CONTENT_TYPE, type MetricFamily } from './exposition.ts'
import { BACKUP_FAMILIES, backupFamilies, BUILD_INFO, buildInfoFamily, FAMILY_ORDER, HEALTH_FAMILIES, healthFamilies, type BackupMetrics, type MoltMetrics, type WatchMetrics } from './families.ts'
import { updateTextfile, type TextfileResult } from './textfile.ts'

/** The metrics of a fleet, read from its files: what `--prom-file` writes and the dashboard serves. */
export { CONTENT_TYPE as METRICS_CONTENT_TYPE }

/** One molt's metrics from its status file and watch state; `record` (a check just made) wins over the file. */
export function readMoltMetrics(molt: Molt, record?: HealthRecord | null): MoltMetrics {
  const last = record === undefined ? readStatus(molt.home).record : record
  return { molt: molt.name, record: last ? { ...last, molt: molt.name } : null, watch: readWatch(molt) }
}

function readWatch(molt: Molt): WatchMetrics | null {
  const { state } = readWatchState(molt.home)
  if (!state) return null
  const lastRun = state.last_check ? Date.parse(state.last_check) : Number.NaN
  return {
    lastRunMs: Number.isNaN(lastRun) ? null : lastRun,
    consecutiveFailures: state.consecutive_failures,
    intervalMinutes: state.interval_minutes ?? DEFAULT_INTERVAL_MINUTES,
  }
}

/** Every family for the whole fleet: health of each molt, the recorded backups, the build. */
export function collectFleetMetrics(baseDir: string, version: string): { families: MetricFamily[]; warnings: string[] } {
  const fleet = discoverFleet(baseDir)
  const backups = readBackupStatus(baseDir)
  const warnings = [...fleet.warnings, ...(backups.warning ? [backups.warning] : [])]
  const molts = fleet.molts.map((molt) => readMoltMetrics(molt))
  return { families: [...healthFamilies(molts), ...backupFamilies(backups.backups), buildInfoFamily(version)], warnings }
}

/**
 * The body of a /metrics response (serve it with METRICS_CONTENT_TYPE). Reads small state files
 * only: a few milliseconds for a fleet of dozens, fine for a scrape every 15 s.
 */
export function renderFleetMetrics(baseDir: string, version: string): string {
  return renderFamilies(collectFleetMetrics(baseDir, version).families)
}

/**
 * Health metrics into a textfile: with `all`, every molt series of the file is replaced (a molt
 * gone from the fleet disappears); otherwise only the series of the molts given.
 */
export function writeHealthTextfile(path: string, molts: readonly MoltMetrics[], options: { all: boolean; version: string }): Promise<TextfileResult> {
  const names = new Set(molts.map((m) => m.molt))
  const owned = new Set<string>(HEALTH_FAMILIES)
  return updateTextfile(path, {
    families: [...healthFamilies(molts), buildInfoFamily(options.version)],
    replaces: (family, labels) => family === BUILD_INFO || (owned.has(family) && (options.all || names.has(labels.molt ?? ''))),
    order: FAMILY_ORDER,
  })
}

/** Backup metrics into a textfile: every destination recorded in the base dir's backup status. */
export function writeBackupTextfile(path: string, backups: readonly BackupMetrics[], version: string): Promise<TextfileResult> {
  const owned = new Set<string>([...BACKUP_FAMILIES, BUILD_INFO])
  return updateTextfile(path, { families: [...backupFamilies(backups), buildInfoFamily(version)], replaces: (family) => owned.has(family), order: FAMILY_ORDER })
}
