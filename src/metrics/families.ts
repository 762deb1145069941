import { HEALTH_STATUSES, type HealthRecord } from '../health/record.ts'
import { unixSeconds, type MetricFamily, type Sample } from './exposition.ts'

/**
 * clmnt's metrics, from plain data: every family a gauge, base units (seconds, bytes), one series
 * per molt (label `molt`) or per backup destination (label `destination`). A value nobody knows
 * (no check yet, no response time for a dead gateway) is left out rather than written as 0.
 */
export interface MoltMetrics {
  molt: string
  /** the last check; null when none is recorded */
  record: HealthRecord | null
  /** what the watch remembers; null when no watch has run for this molt */
  watch: WatchMetrics | null
}

export interface WatchMetrics {
  /** when its last run checked the molt (ms since the epoch) */
  lastRunMs: number | null
  consecutiveFailures: number
  intervalMinutes: number
}

export interface BackupMetrics {
  /** the local folder of the archive, or the s3:// URL it was uploaded to */
  destination: string
  /** when the backup finished (ms since the epoch) */
  finishedMs: number
  sizeBytes: number
  durationMs: number
  archive: string
}

/** The families the health writers own (check, watch): replaced molt by molt. */
export const HEALTH_FAMILIES = [
  'clmnt_molt_up',
  'clmnt_molt_health_status',
  'clmnt_molt_response_time_seconds',
  'clmnt_molt_consecutive_failures',
  'clmnt_molt_last_check_timestamp_seconds',
  'clmnt_watch_last_run_timestamp_seconds',
  'clmnt_watch_interval_seconds',
] as const

/** The families `fleet backup` owns: replaced destination by destination. */
export const BACKUP_FAMILIES = ['clmnt_backup_last_success_timestamp_seconds', 'clmnt_backup_size_bytes', 'clmnt_backup_duration_seconds'] as const

export const BUILD_INFO = 'clmnt_build_info'

/** The order families are written in, whichever writer merged last. */
export const FAMILY_ORDER: readonly string[] = [...HEALTH_FAMILIES, ...BACKUP_FAMILIES, BUILD_INFO]

export function healthFamilies(molts: readonly MoltMetrics[]): MetricFamily[] {
  const up: Sample[] = []
  const status: Sample[] = []
  const responseTime: Sample[] = []
  const failures: Sample[] = []
  const lastCheck: Sample[] = []
  const lastRun: Sample[] = []
  const interval: Sample[] = []
  for (const m of molts) {
    const molt = { molt: m.molt }
    const r = m.record
    if (r) {
      up.push({ labels: molt, value: r.status === 'healthy' ? 1 : 0 })
      for (const s of HEALTH_STATUSES) status.push({ labels: { molt: m.molt, status: s }, value: r.status === s ? 1 : 0 })
      if (r.response_time_ms !== null) responseTime.push({ labels: molt, value: Math.round(r.response_time_ms * 1000) / 1e6 })
      const at = Date.parse(r.timestamp)
      if (!Number.isNaN(at)) lastCheck.push({ labels: molt, value: unixSeconds(at) })
    }
    if (m.watch) {
      failures.push({ labels: molt, value: m.watch.consecutiveFailures })
      if (m.watch.lastRunMs !== null) lastRun.push({ labels: molt, value: unixSeconds(m.watch.lastRunMs) })
      interval.push({ labels: molt, value: m.watch.intervalMinutes * 60 })
    }
  }
  return [
    { name: 'clmnt_molt_up', type: 'gauge', help: "1 when the molt's last check found it healthy (PID alive and GET /health answered 200), else 0", samples: up },
    { name: 'clmnt_molt_health_status', type: 'gauge', help: "The molt's last check result, one-hot: 1 for its status (healthy, unhealthy, dead, stopped, unknown), 0 for the others", samples: status },
    { name: 'clmnt_molt_response_time_seconds', type: 'gauge', help: "Time the molt's gateway took to answer GET /health at the last check", samples: responseTime },
    { name: 'clmnt_molt_consecutive_failures', type: 'gauge', help: 'Non-healthy checks in a row, as counted by health watch', samples: failures },
    { name: 'clmnt_molt_last_check_timestamp_seconds', type: 'gauge', help: "Unix time of the molt's last recorded check", samples: lastCheck },
    { name: 'clmnt_watch_last_run_timestamp_seconds', type: 'gauge', help: 'Unix time of the last health watch run for the molt', samples: lastRun },
    { name: 'clmnt_watch_interval_seconds', type: 'gauge', help: 'Scheduled time between health watch runs for the molt', samples: interval },
  ]
}

export function backupFamilies(backups: readonly BackupMetrics[]): MetricFamily[] {
  const labels = (b: BackupMetrics) => ({ destination: b.destination })
  return [
    { name: 'clmnt_backup_last_success_timestamp_seconds', type: 'gauge', help: 'Unix time the last successful fleet backup to this destination finished', samples: backups.map((b) => ({ labels: labels(b), value: unixSeconds(b.finishedMs) })) },
    { name: 'clmnt_backup_size_bytes', type: 'gauge', help: 'Size of the archive of the last successful fleet backup to this destination', samples: backups.map((b) => ({ labels: labels(b), value: b.sizeBytes })) },
    { name: 'clmnt_backup_duration_seconds', type: 'gauge', help: 'How long the last successful fleet backup to this destination took, upload included', samples: backups.map((b) => ({ labels: labels(b), value: Math.round(b.durationMs) / 1000 })) },
  ]
}

export function buildInfoFamily(version: string): MetricFamily {
  return { name: BUILD_INFO, type: 'gauge', help: 'Always 1; the clmnt version that wrote these metrics', samples: [{ labels: { version }, value: 1 }] }
}
