import type { BackupListing } from '../archive/list.ts'
import type { MoltSummary } from '../fleet/list.ts'
import type { UptimeWindow } from '../health/history-stats.ts'
import type { HealthStatus } from '../health/record.ts'
import type { HostReading } from '../host/checks.ts'

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
  /**
   * Over the last 24 h and 7 d. For the first seconds after the dashboard starts (`partial` is
   * true meanwhile) `7d` is not known yet — `{checks: 0, healthy: 0, percent: null}` — for a molt
   * whose history goes back more than a day: the first snapshot reads only each history's last
   * day, the rest of the week is read in the background.
   */
  uptime: { '24h': UptimeWindow; '7d': UptimeWindow }
  /** the newest checks, oldest first: the sparkline */
  recent: RecentPoint[]
  /** the silence holding this molt's notices now (its own, or one of the whole fleet); null when none */
  silence: MoltSilence | null
  /** when its `health watch` last ran (its watch state's mtime); null when no watch ever ran for it */
  last_watch_run: string | null
  /** the watch's interval in minutes (from the watch state; 5 when it never said) */
  watch_interval_minutes: number
  /** no watch run for WATCHER_STALE_INTERVALS (3) intervals: nothing checks it and no alert would come */
  watcher_stopped: boolean
  /** unreadable files, conflicting values: shown as text */
  warnings: string[]
}

export interface MoltSilence {
  id: string
  /** the molt's name, or "*" when the whole fleet is silenced */
  target: string
  until: string
  reason: string | null
  by: string | null
}

/** A silence as `molt health silence --list --json` lists it (held notices counted, not listed). */
export interface DashboardSilence {
  id: string
  /** a molt name, or "*" for the whole fleet */
  target: string
  start: string
  end: string
  /** set when it was ended early (`--end`) */
  ended_at: string | null
  reason: string | null
  by: string | null
  /** `active`, or `ended` (its time is up or it was ended early; kept 7 days after its summary) */
  state: 'active' | 'ended'
  /** notices held so far */
  held: number
}

/**
 * Something wrong with the fleet as a whole, for the page's red banner, most severe first:
 * `watcher-stopped` (no watch run for 3 intervals: nothing would alert), `host` (disk, memory),
 * `logs` (log files over the size limit), `config` (a damaged silences file, an unusable
 * `.clmnt-alerts`, a bad `clmnt.json`).
 */
export interface FleetAlert {
  kind: 'watcher-stopped' | 'host' | 'logs' | 'config'
  severity: 'critical' | 'warning'
  summary: string
  /** since when it is known (host incidents: since the watch saw it first); null when unknown */
  since: string | null
  /** the molts it names (watcher-stopped: whose watch stopped) */
  molts: string[]
}

/** The host checks of `doctor` and `watch` (src/host/checks.ts). */
export interface HostStatus {
  /** null when it could not be read */
  disk: HostReading['disk']
  memory: HostReading['memory']
  limits: { disk_free_min_percent: number; memory_used_max_percent: number; log_max_bytes: number }
  /** what is over a limit now; `since` from the watch's host incident when it has one */
  problems: { key: string; summary: string; detail: string; since: string | null }[]
  /** molt log files over `log_max_bytes` (looked at once a minute) */
  large_logs: { molt: string; path: string; bytes: number }[]
}

/** Who watches the watcher: the watches' liveness over the fleet. */
export interface WatcherStatus {
  /** the newest watch run of any molt; null when no watch ever ran */
  last_run: string | null
  /** molts with no watch run for `stale_intervals` of their intervals (molts never watched are not counted) */
  stopped: { molt: string; last_run: string; interval_minutes: number }[]
  stale_intervals: number
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

/**
 * `GET /api/molts`. The snapshot changes only when something in it changed (a check, a watch
 * run, a silence…), not with the clock: `age_seconds` and `incident.duration_ms` are as of
 * `generated_at`; compute live ages from `checked_at` / `incident.since`. Its `generation` grows
 * with every change and is its ETag (`If-None-Match` → 304) and what `/api/events` announces.
 * `GET /api/molts?since=<generation>` answers only what changed after that generation
 * (`full: false`: `molts` holds the changed molts, `removed` the names gone; counts and the
 * fleet-level fields are whole); when that generation is too old to compare, the whole snapshot
 * (`full: true`).
 */
export interface MoltsResponse {
  generation: number
  generated_at: string
  /** false only in an answer to `?since=`: see above */
  full: boolean
  /** molts no longer in the fleet since the generation asked for (always empty when `full`) */
  removed: string[]
  /** true while the histories' older part is still being read after the start (uptime `7d` unknown meanwhile) */
  partial: boolean
  counts: FleetCounts
  molts: DashboardMolt[]
  /** the red banner: what is wrong with the fleet as a whole, most severe first */
  alerts: FleetAlert[]
  /** what `molt health silence --list` lists: active silences and those ended in the last 7 days */
  silences: DashboardSilence[]
  host: HostStatus
  watchers: WatcherStatus
  /** fleet-level warnings (registry problems) */
  warnings: string[]
}

/** One event of `GET /api/events` (text/event-stream, `event: snapshot`): the snapshot changed. */
export interface SnapshotEvent {
  generation: number
  etag: string
  generated_at: string
  /** the molts that changed since the previous event (at most 50; null: more, or unknown — fetch in full) */
  changed: string[] | null
}

/**
 * `GET /api/molts/<name>/series?window=24h&points=288`: response times for a chart, from the
 * dashboard's memory (no file read), in at most `points` buckets of equal width, oldest first.
 * `window` is at most 7d.
 */
export interface SeriesResponse {
  molt: string
  from: string
  to: string
  bucket_ms: number
  points: SeriesPoint[]
}

export interface SeriesPoint {
  /** the bucket's start */
  timestamp: string
  /** checks in the bucket (buckets without a check are left out) */
  checks: number
  /** the worst status in the bucket */
  status: HealthStatus
  /** over the checks that answered; null when none did */
  avg_ms: number | null
  max_ms: number | null
}

/**
 * `GET /api/incidents?since=7d`: the fleet's incidents on one timeline, newest first (at most
 * 500): molts' outages (from their histories, as `history` counts them), host problems and
 * stopped watchers (the watches' open incidents), silences.
 */
export interface IncidentsResponse {
  generated_at: string
  since: string
  incidents: FleetIncident[]
  /** incidents left out past the 500 */
  truncated: number
}

export interface FleetIncident {
  kind: 'molt' | 'host' | 'watcher-stopped' | 'silence'
  /** the molt; "*" for the fleet (host, a fleet-wide silence) */
  molt: string
  start: string
  /** null while it lasts */
  end: string | null
  ongoing: boolean
  duration_ms: number
  /** molt incidents: the worst status in it; null for the other kinds */
  worst: Exclude<HealthStatus, 'healthy'> | null
  summary: string
}

/** `GET /api/molts/:name/history`: the object `molt health history <name> --json` prints. */
export type { HistoryReport as HistoryResponse } from '../health/history-report.ts'

/** `GET /api/backups`: what `fleet list-backups --json` prints. */
export type BackupEntry = Omit<BackupListing, 'sort_ms' | 'mtime_ms'>

export interface ErrorResponse {
  error: string
}
