import type { Molt } from '../fleet/discover.ts'
import type { HealthRecord, HealthStatus } from './record.ts'
import { readStatus } from './status-file.ts'
import { readWatchState, type WatchState } from './watch-state.ts'

export const DEFAULT_INTERVAL_MINUTES = 5

/** What `health status` (and the dashboard) says about one molt: its last check and watch state. */
export interface MoltStatus {
  molt: string
  status: HealthStatus | null
  checked_at: string | null
  age_seconds: number | null
  /** no record, or the last one is older than 3 × the watch interval */
  stale: boolean
  record: HealthRecord | null
  watch: WatchSummary | null
  warnings: string[]
}

/** The watch state as status shows it; the fields after interval_minutes only for a version-2 state. */
export interface WatchSummary extends Pick<WatchState, 'consecutive_failures' | 'last_success' | 'alert_sent' | 'interval_minutes'> {
  phase?: 'up' | 'pending' | 'down'
  /** N: failures in a row that make the molt DOWN */
  threshold?: number
  incident?: { since: string; first_status: string; first_reason: string | null; down_notified_at: string | null; restarts: number } | null
  flapping_since?: string | null
  /** notices not yet delivered, with the last delivery error */
  waiting?: { kind: string; id: string; last_error: string | null }[]
}

function summarize(w: WatchState): WatchSummary {
  const summary: WatchSummary = { consecutive_failures: w.consecutive_failures, last_success: w.last_success, alert_sent: w.alert_sent, interval_minutes: w.interval_minutes }
  if (w.version !== 2) return summary
  const incident = w.incident
  return {
    ...summary,
    phase: w.phase ?? 'up',
    threshold: w.threshold,
    incident: incident ? { since: incident.id, first_status: incident.first_status, first_reason: incident.first_reason, down_notified_at: incident.down_notified_at, restarts: incident.restarts.length } : null,
    flapping_since: w.flapping?.since ?? null,
    waiting: (w.outbox ?? []).map((n) => ({ kind: n.kind, id: n.id, last_error: n.last_error })),
  }
}

export function moltStatus(molt: Molt, now = Date.now()): MoltStatus {
  const warnings: string[] = []
  const status = readStatus(molt.home)
  if (status.warning) warnings.push(status.warning)
  if (status.legacy) warnings.push('health-status.json is in the bash toolkit format; the next check rewrites it')
  const watch = readWatchState(molt.home)
  if (watch.warning) warnings.push(watch.warning)
  const record = status.record
  const checkedAt = record ? Date.parse(record.timestamp) : Number.NaN
  const age = Number.isNaN(checkedAt) ? null : Math.max(0, Math.round((now - checkedAt) / 1000))
  const interval = watch.state?.interval_minutes ?? DEFAULT_INTERVAL_MINUTES
  const stale = age === null || age > 3 * interval * 60
  if (!record) warnings.push('no health check recorded yet')
  else if (stale) warnings.push(`last check is older than 3 × the ${interval} min interval: is the watch schedule running?`)
  const w = watch.state
  const waiting = w?.version === 2 ? (w.outbox ?? []).filter((n) => n.attempts > 0 && !Object.keys(n.delivered).length) : []
  if (waiting.length) {
    const last = waiting.at(-1)!
    warnings.push(`${waiting.length} alert notice(s) not delivered yet (${last.kind}: ${last.last_error ?? 'no channel took it'})`)
  }
  return {
    molt: molt.name,
    status: record?.status ?? null,
    checked_at: record ? new Date(checkedAt).toISOString() : null,
    age_seconds: age,
    stale,
    record,
    watch: w ? summarize(w) : null,
    warnings,
  }
}
