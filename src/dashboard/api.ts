import { closeSync } from 'node:fs'
import { defaultBackupDir, listBackups } from '../archive/list.ts'
import { discoverFleet, findMolt, type Molt } from '../fleet/discover.ts'
import { summarizeMolts } from '../fleet/list.ts'
import { isMoltName } from '../fleet/names.ts'
import { checkMolt } from '../health/check.ts'
import { emptyStats, historyStatsOf, type HistoryStats } from '../health/history-stats.ts'
import { recentChecks } from '../health/history.ts'
import { HISTORY_REL, historyFile } from '../health/paths.ts'
import { openHomeFile, safeFsMessage } from '../lib/safe-fs.ts'
import type { HealthRecord } from '../health/record.ts'
import { moltStatus, type MoltStatus } from '../health/status.ts'
import { InputError } from '../lib/errors.ts'
import type { BackupEntry, DashboardMolt, FleetCounts, MoltsResponse, OngoingIncident } from './types.ts'

/**
 * The dashboard's read and check side: the same core functions as `molt list`, `health status`,
 * `history`, `list-backups` and `health check`, returning the same shapes. No HTTP here.
 */

/** Checks on a card's sparkline. */
export const SPARKLINE_POINTS = 30
/** Uptime over a whole history file is a full pass; reuse it while the file is unchanged. */
const STATS_MAX_AGE_MS = 60_000

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

interface CachedStats {
  size: number
  mtimeMs: number
  at: number
  stats: HistoryStats
}

/** Whole-history statistics per molt, recomputed when its history changes or after a minute. */
export class StatsCache {
  private readonly entries = new Map<string, CachedStats>()

  get(home: string, now: number): HistoryStats | null {
    const file = openHomeFile(home, HISTORY_REL)
    if (!file) {
      this.entries.delete(home)
      return null
    }
    try {
      const { size, mtimeMs } = file.stats
      const hit = this.entries.get(home)
      if (hit && hit.size === size && hit.mtimeMs === mtimeMs && now - hit.at < STATS_MAX_AGE_MS) return hit.stats
      const stats = historyStatsOf(file.fd, { now, since: null })
      this.entries.set(home, { size, mtimeMs, at: now, stats })
      return stats
    } finally {
      closeSync(file.fd)
    }
  }
}

/** `GET /api/molts`: every molt as `molt list --json` has it, plus what a card shows. */
export function fleetOverview(baseDir: string, now: number, cache = new StatsCache()): MoltsResponse {
  const fleet = discoverFleet(baseDir)
  const rows = summarizeMolts(fleet.molts, now)
  const counts: FleetCounts = { healthy: 0, starting: 0, unhealthy: 0, dead: 0, stopped: 0, unknown: 0, no_data: 0 }
  const molts = fleet.molts.map((molt, i): DashboardMolt => {
    const row = rows[i]!
    const status = moltStatus(molt, now)
    let stats: HistoryStats | null = null
    let recent: HealthRecord[] = []
    const warnings = [...molt.warnings, ...status.warnings]
    try {
      stats = cache.get(molt.home, now)
      if (stats) recent = recentChecks(molt.home, SPARKLINE_POINTS).checks
    } catch (error) {
      warnings.push(safeFsMessage(error, historyFile(molt.home)))
    }
    const uptime = (stats ?? emptyStats({ now })).uptime
    counts[status.status ?? 'no_data']++
    return {
      ...row,
      stale: status.stale,
      http_status: status.record?.http_status ?? null,
      response_time_ms: status.record?.response_time_ms ?? null,
      reason: status.record?.reason ?? null,
      consecutive_failures: status.watch?.consecutive_failures ?? null,
      phase: status.watch?.phase ?? null,
      threshold: status.watch?.threshold ?? null,
      incident: ongoingIncident(status, stats, now),
      uptime: { '24h': uptime['24h'], '7d': uptime['7d'] },
      recent: recent.map((c) => ({ timestamp: c.timestamp, status: c.status, response_time_ms: c.response_time_ms })),
      warnings,
    }
  })
  return { generated_at: new Date(now).toISOString(), counts, molts, warnings: fleet.warnings }
}

/** The watch state knows an incident best; without one, a failing run at the end of the history is one. */
export function ongoingIncident(status: MoltStatus, stats: HistoryStats | null, now: number): OngoingIncident | null {
  if (!status.status || status.status === 'healthy') return null
  const watched = status.watch?.incident
  if (watched) {
    const since = Date.parse(watched.since)
    return { since: watched.since, duration_ms: Math.max(0, now - since), status: asStatus(watched.first_status), reason: watched.first_reason, source: 'watch' }
  }
  const last = stats?.incidents.at(-1)
  if (last?.ongoing) {
    return { since: last.start, duration_ms: Math.max(0, now - Date.parse(last.start)), status: last.worst, reason: status.record?.reason ?? null, source: 'history' }
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
 * a check runs share it, so a stuck button cannot pile up probes of a hung gateway.
 */
export class Checker {
  private readonly running = new Map<string, Promise<HealthRecord>>()

  constructor(
    private readonly timeoutMs: number,
    private readonly onWarning: (message: string) => void,
  ) {}

  check(molt: Molt): Promise<HealthRecord> {
    const running = this.running.get(molt.name)
    if (running) return running
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
