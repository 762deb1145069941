import type { BackupListing } from '../archive/list.ts'
import type { MoltSummary } from '../fleet/list.ts'
import type { HistoryStats, UptimeWindow } from '../health/history-stats.ts'
import type { HealthRecord, HealthStatus } from '../health/record.ts'

/** The JSON API's shapes, shared by the server and the page (type-only: nothing here runs). */

/** What a card shows. Every field of `molt list --json` (MoltSummary), plus what the card needs. */
export interface DashboardMolt extends MoltSummary {
  /** no record, or the last one is older than 3 × the watch interval (as `health status`) */
  stale: boolean
  http_status: number | null
  response_time_ms: number | null
  /** why the last check was not healthy */
  reason: string | null
  /** from the watch state; null when `health watch` never ran for this molt */
  consecutive_failures: number | null
  phase: 'up' | 'pending' | 'down' | null
  threshold: number | null
  incident: OngoingIncident | null
  uptime: { '24h': UptimeWindow; '7d': UptimeWindow }
  /** the newest checks, oldest first: the sparkline */
  recent: RecentPoint[]
  /** unreadable files, conflicting values: shown as text */
  warnings: string[]
}

export interface OngoingIncident {
  since: string
  duration_ms: number
  /** the first failing status; the worst one when only the history knows of the incident */
  status: HealthStatus
  reason: string | null
  /** "watch": the watch state's incident; "history": an unhealthy run at the end of the history */
  source: 'watch' | 'history'
}

export interface RecentPoint {
  timestamp: string
  status: HealthStatus
  response_time_ms: number | null
}

/** Status counts; `no_data` = molts never checked. */
export type FleetCounts = Record<HealthStatus | 'no_data', number>

export interface MoltsResponse {
  generated_at: string
  counts: FleetCounts
  molts: DashboardMolt[]
  /** fleet-level warnings (registry problems) */
  warnings: string[]
}

/** `GET /api/molts/:name/history`: the object `molt health history <name> --json` prints. */
export type { HistoryReport as HistoryResponse } from '../health/history-report.ts'

/** `GET /api/backups`: what `fleet list-backups --json` prints. */
export type BackupEntry = Omit<BackupListing, 'sort_ms' | 'mtime_ms'>

export interface ErrorResponse {
  error: string
}
