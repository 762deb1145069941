import { defaultBackupDir, listBackups } from '../archive/list.ts'
import { findMolt, fleetNames, type Molt } from '../fleet/discover.ts'
import { summarizeMolts, type MoltSummary } from '../fleet/list.ts'
import { isMoltName } from '../fleet/names.ts'
import { checkMolt } from '../health/check.ts'
import { historyFile } from '../health/paths.ts'
import { safeFsMessage } from '../lib/safe-read.ts'
import type { HealthRecord } from '../health/record.ts'
import { moltStatus, type MoltStatus } from '../health/status.ts'
import { InputError } from '../lib/errors.ts'
import { ProcessTable } from '../lib/proc.ts'
import { DEFAULT_INTERVAL_MINUTES } from '../health/status.ts'
import { lastWatchRun } from '../health/watchers.ts'
import type { FleetLevel, FleetState } from './fleet-state.ts'
import type { Timelines, TrailingIncident } from './timeline.ts'
import type { BackupEntry, DashboardMolt, FleetCounts, OngoingIncident } from './types.ts'

/**
 * The dashboard's read and check side: the same core functions as `molt list`, `health status`,
 * `history`, `list-backups` and `health check`, returning the same shapes. No HTTP here.
 */

/** Checks on a card's sparkline. */
export const SPARKLINE_POINTS = 30
const DAY = 86_400_000
/** "check now" runs at most once per molt in this time, whoever asks: clicks must not skew uptime. */
export const CHECK_MIN_INTERVAL_MS = 30_000

/** A request's fault: the server answers with this status and the message as `{error}`. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message)
    this.name = 'HttpError'
  }
}

/** Invalid name → 400 before any path is built; unknown → 404. */
export function lookupMolt(baseDir: string, name: string): Molt {
  if (!isMoltName(name)) throw new HttpError(400, `invalid molt name ${JSON.stringify(name)}: a molt name is a Linux user name (a-z or _, then up to 31 of a-z 0-9 _ -)`)
  try {
    return findMolt(baseDir, name).molt
  } catch (error) {
    if (error instanceof InputError) throw new HttpError(404, `unknown molt ${JSON.stringify(name)}`)
    throw error
  }
}

export interface FleetOverview {
  counts: FleetCounts
  molts: DashboardMolt[]
  /** name → home, for the timelines */
  homes: Map<string, string>
  level: FleetLevel
  warnings: string[]
}

/**
 * `GET /api/molts`: every molt as `molt list --json` has it, plus what a card shows, and the
 * fleet-level state. Built off the request path (see snapshot.ts); `pause` is awaited before each
 * molt, to let other requests in. `firstLook: 'tail'` (the first snapshot) reads only the tail of
 * a history not seen yet.
 */
export async function fleetOverview(baseDir: string, now: number, timelines: Timelines, state: FleetState, options: { pause?: () => Promise<void>; firstLook?: 'tail' | 'week'; afterRead?: () => Promise<void> } = {}): Promise<FleetOverview> {
  const pause = options.pause ?? (async () => {})
  const fleet = fleetNames(baseDir)
  const processes = new ProcessTable()
  const counts: FleetCounts = { healthy: 0, starting: 0, unhealthy: 0, dead: 0, stopped: 0, unknown: 0, no_data: 0 }
  const loaded: { molt: Molt; row: MoltSummary; status: MoltStatus; warnings: string[]; lastRun: number | null; interval: number }[] = []
  for (const name of fleet.names) {
    await pause()
    const molt = fleet.load(name)
    const row = summarizeMolts([molt], now, processes)[0]!
    const status = moltStatus(molt, now)
    const warnings = [...molt.warnings, ...status.warnings]
    try {
      timelines.update(molt.home, now, { firstLook: options.firstLook })
    } catch (error) {
      timelines.forget(molt.home)
      warnings.push(safeFsMessage(error, historyFile(molt.home)))
    }
    counts[status.status ?? 'no_data']++
    loaded.push({ molt, row, status, warnings, lastRun: lastWatchRun(molt.home), interval: status.watch?.interval_minutes ?? DEFAULT_INTERVAL_MINUTES })
  }
  await options.afterRead?.()
  await pause()
  const level = state.read(loaded.map((l) => l.molt), loaded.map((l) => ({ name: l.molt.name, lastRun: l.lastRun, intervalMinutes: l.interval })), now)
  const stopped = new Set(level.watchers.stopped.map((s) => s.molt))
  const molts: DashboardMolt[] = loaded.map(({ molt, row, status, warnings, lastRun, interval }) => ({
    ...row,
    stale: status.stale,
    http_status: status.record?.http_status ?? null,
    response_time_ms: status.record?.response_time_ms ?? null,
    reason: status.record?.reason ?? null,
    consecutive_failures: status.watch?.consecutive_failures ?? null,
    phase: status.watch?.phase ?? null,
    threshold: status.watch?.threshold ?? null,
    incident: ongoingIncident(status, timelines.incident(molt.home), now),
    uptime: { '24h': timelines.uptime(molt.home, DAY, now), '7d': timelines.uptime(molt.home, 7 * DAY, now) },
    recent: timelines.recent(molt.home, SPARKLINE_POINTS),
    silence: level.silenceOf(molt.name),
    last_watch_run: lastRun === null ? null : new Date(lastRun).toISOString(),
    watch_interval_minutes: interval,
    watcher_stopped: stopped.has(molt.name),
    warnings,
  }))
  return { counts, molts, homes: new Map(loaded.map((l) => [l.molt.name, l.molt.home])), level, warnings: fleet.warnings }
}

/** The watch state knows an incident best; without one, a failing run at the end of the history is one. */
export function ongoingIncident(status: MoltStatus, trailing: TrailingIncident | null, now: number): OngoingIncident | null {
  if (!status.status || status.status === 'healthy') return null
  const watched = status.watch?.incident
  if (watched) {
    const since = Date.parse(watched.since)
    return { since: watched.since, duration_ms: Math.max(0, now - since), status: asStatus(watched.first_status), reason: watched.first_reason, source: 'watch' }
  }
  if (trailing) {
    return { since: trailing.start, duration_ms: Math.max(0, now - Date.parse(trailing.start)), status: trailing.worst, reason: status.record?.reason ?? null, source: 'history' }
  }
  return null
}

const asStatus = (s: string): OngoingIncident['status'] => (['healthy', 'unhealthy', 'dead', 'stopped', 'unknown'].includes(s) ? (s as OngoingIncident['status']) : 'unknown')

/** `GET /api/molts/:name/health`: exactly `molt health status <name> --json`. */
export function moltHealth(molt: Molt, now: number): MoltStatus {
  return moltStatus(molt, now)
}

/** `GET /api/backups`: exactly `fleet list-backups --json` for `<base-dir>/backups`. */
export async function fleetBackups(baseDir: string): Promise<BackupEntry[]> {
  const listings = await listBackups(defaultBackupDir(baseDir))
  return listings.map(({ sort_ms: _, mtime_ms: __, ...rest }) => rest)
}

/**
 * `POST /api/molts/:name/check`: `molt health check <name> --json`. Clicks on the same molt while
 * a check runs share it, so a stuck button cannot pile up probes of a hung gateway; after one, the
 * molt is not checked again for CHECK_MIN_INTERVAL_MS (429): a client hammering the button during
 * an outage would otherwise fill the history with failures and drag the molt's uptime down.
 */
export class Checker {
  private readonly running = new Map<string, Promise<HealthRecord>>()
  private readonly lastStarted = new Map<string, number>()

  constructor(
    private readonly timeoutMs: number,
    private readonly onWarning: (message: string) => void,
    private readonly minIntervalMs = CHECK_MIN_INTERVAL_MS,
    private readonly clock: () => number = Date.now,
  ) {}

  check(molt: Molt): Promise<HealthRecord> {
    const running = this.running.get(molt.name)
    if (running) return running
    const now = this.clock()
    const last = this.lastStarted.get(molt.name)
    if (last !== undefined && now - last < this.minIntervalMs) {
      const wait = Math.ceil((this.minIntervalMs - (now - last)) / 1000)
      throw new HttpError(429, `${molt.name} was checked ${Math.round((now - last) / 1000)} s ago; the next check can run in ${wait} s`, { 'Retry-After': String(wait) })
    }
    this.lastStarted.set(molt.name, now)
    const job = checkMolt(molt, { timeoutMs: this.timeoutMs, record: true })
      .then(({ record, writeError }) => {
        if (writeError) this.onWarning(writeError)
        return record
      })
      .finally(() => this.running.delete(molt.name))
    this.running.set(molt.name, job)
    return job
  }

  /** Resolves once no check is running (stop waits for them: their files are written whole). */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.running.values()])
  }
}
