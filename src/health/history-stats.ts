import { closeSync, fstatSync, openSync } from 'node:fs'
import { openHomeFile } from '../lib/safe-read.ts'
import { HISTORY_READ_MAX_BYTES, lineStartFrom, parseJsonLine, scanLines, timestampMs, toCheck } from './history.ts'
import { HISTORY_REL } from './paths.ts'
import { isCleanRecord, type HealthStatus } from './record.ts'

/**
 * Statistics over health-history.jsonl in one streaming pass and bounded memory: a year of
 * 5-minute checks is ~105k lines / 15 MB, and an operator runs this by hand, so it has to be quick.
 */

const DAY = 86_400_000
export const UPTIME_WINDOWS = { '24h': DAY, '7d': 7 * DAY, '30d': 30 * DAY, all: Infinity } as const
export type UptimeWindowName = keyof typeof UPTIME_WINDOWS
/** Only the newest incidents are kept in memory; `incident_count` counts them all. */
export const MAX_INCIDENTS = 100

export interface UptimeWindow {
  checks: number
  healthy: number
  /** healthy / checks in percent, two decimals; null when the window holds no check */
  percent: number | null
}

export interface Incident {
  start: string
  /** the first healthy check after it; null while it lasts */
  end: string | null
  ongoing: boolean
  /** to `end`, or to now while ongoing */
  duration_ms: number
  worst: Exclude<HealthStatus, 'healthy'>
  checks: number
}

export interface HistoryStats {
  total_checks: number
  /** blank, garbage or cut-short lines: skipped, never fatal */
  skipped_lines: number
  /** lines in the bash toolkit's format (read through the schema) */
  legacy_lines: number
  first_check: string | null
  last_check: string | null
  uptime: Record<UptimeWindowName, UptimeWindow>
  /** start of the window for incidents and response times; null = all time */
  since: string | null
  window_checks: number
  incident_count: number
  /** oldest first: the newest MAX_INCIDENTS that touch the window */
  incidents: Incident[]
  response_time_ms: { count: number; p50: number | null; p95: number | null; max: number | null }
}

export interface StatsOptions {
  now?: number
  /** window start (ms) for incidents and response times; null = all time */
  since?: number | null
}

// a gateway that is gone is worse than one that answers badly
// starting is not serving yet (it lowers uptime) but is the mildest way of not serving
const SEVERITY: Record<HealthStatus, number> = { healthy: 0, starting: 1, unhealthy: 2, unknown: 3, stopped: 4, dead: 5 }

/**
 * Response times in a fixed set of ~2,100 buckets: 0.1 ms wide below 100 ms, then 1 % wide (log
 * scale) up to one hour, the last one open-ended. A percentile is the mean of the values in its
 * bucket, so it is off by less than 0.1 ms below 100 ms and less than 1 % above (exact when the
 * bucket holds one value, as a run of equal timings does); `max` is exact.
 */
class Histogram {
  private static readonly LINEAR = 1000
  private static readonly STEP = Math.log(1.01)
  private readonly counts = new Uint32Array(Histogram.LINEAR + Math.ceil(Math.log(36_000) / Histogram.STEP) + 1)
  private readonly sums = new Float64Array(this.counts.length)
  count = 0
  max = -Infinity

  add(ms: number): void {
    const v = ms > 0 ? ms : 0
    const i = v < 100 ? Math.floor(v * 10) : Math.min(this.counts.length - 1, Histogram.LINEAR + Math.floor(Math.log(v / 100) / Histogram.STEP))
    this.counts[i]!++
    this.sums[i]! += v
    this.count++
    if (v > this.max) this.max = v
  }

  /** Nearest-rank percentile, two decimals. */
  percentile(p: number): number | null {
    if (!this.count) return null
    const rank = Math.max(1, Math.ceil((p / 100) * this.count))
    let seen = 0
    let i = 0
    for (; i < this.counts.length; i++) if ((seen += this.counts[i]!) >= rank) break
    return Math.round((this.sums[i]! / this.counts[i]!) * 100) / 100
  }
}

const iso = (t: number) => new Date(t).toISOString()

/** Feed checks in file order (the history is append-only, so that is check order), then `result()`. */
export function createStatsAccumulator(options: StatsOptions = {}) {
  const now = options.now ?? Date.now()
  const since = options.since ?? -Infinity
  const names = Object.keys(UPTIME_WINDOWS) as UptimeWindowName[]
  const starts = names.map((w) => now - UPTIME_WINDOWS[w])
  const checks = names.map(() => 0)
  const healthy = names.map(() => 0)
  const histogram = new Histogram()
  const incidents: Incident[] = []
  let open: { start: number; worst: HealthStatus; checks: number } | null = null
  let total = 0, skipped = 0, legacy = 0, windowChecks = 0, incidentCount = 0
  let first = Infinity, last = -Infinity

  // an incident belongs to the window when any part of it lies inside
  const close = (end: number | null) => {
    const o = open!
    open = null
    if ((end ?? now) < since) return
    incidentCount++
    const duration = Math.max(0, (end ?? now) - o.start)
    incidents.push({ start: iso(o.start), end: end === null ? null : iso(end), ongoing: end === null, duration_ms: duration, worst: o.worst as Incident['worst'], checks: o.checks })
    if (incidents.length > MAX_INCIDENTS) incidents.shift()
  }

  const add = (status: HealthStatus, at: number, responseMs: number | null): void => {
    total++
    if (at < first) first = at
    if (at > last) last = at
    const ok = status === 'healthy'
    for (let i = 0; i < starts.length; i++) {
      if (at >= starts[i]!) {
        checks[i]!++
        if (ok) healthy[i]!++
      }
    }
    if (at >= since) {
      windowChecks++
      if (responseMs !== null) histogram.add(responseMs)
    }
    if (ok) {
      if (open) close(at)
    } else if (!open) open = { start: at, worst: status, checks: 1 }
    else {
      open.checks++
      if (SEVERITY[status] > SEVERITY[open.worst]) open.worst = status
    }
  }

  /** One JSON value of a line. */
  const value = (raw: unknown): void => {
    // the common case without the wrapper object of toCheck: 100k lines add up
    if (isCleanRecord(raw)) {
      const at = timestampMs(raw.timestamp)
      if (Number.isNaN(at)) skipped++
      else add(raw.status, at, raw.response_time_ms)
      return
    }
    const check = toCheck(raw)
    if (!check) return void skipped++
    if (check.legacy) legacy++
    add(check.record.status, check.at, check.record.response_time_ms)
  }

  const line = (text: string): void => {
    const raw = parseJsonLine(text)
    if (raw === undefined) skipped++
    else value(raw)
  }

  const result = (): HistoryStats => {
    if (open) close(null)
    const uptime = {} as Record<UptimeWindowName, UptimeWindow>
    names.forEach((w, i) => {
      const n = checks[i]!
      uptime[w] = { checks: n, healthy: healthy[i]!, percent: n ? Math.round((healthy[i]! / n) * 10_000) / 100 : null }
    })
    const { count, max } = histogram
    return {
      total_checks: total,
      skipped_lines: skipped,
      legacy_lines: legacy,
      first_check: total ? iso(first) : null,
      last_check: total ? iso(last) : null,
      uptime,
      since: Number.isFinite(since) ? iso(since) : null,
      window_checks: windowChecks,
      incident_count: incidentCount,
      incidents,
      response_time_ms: { count, p50: histogram.percentile(50), p95: histogram.percentile(95), max: count ? max : null },
    }
  }

  return { add, value, line, skip: (count = 1) => void (skipped += count), result }
}

/** What a molt that was never checked reports. */
export function emptyStats(options: StatsOptions = {}): HistoryStats {
  return createStatsAccumulator(options).result()
}

export function statsFromLines(lines: Iterable<string>, options: StatsOptions = {}): HistoryStats {
  const stats = createStatsAccumulator(options)
  for (const line of lines) stats.line(line)
  return stats.result()
}

/** A file by path (tests, tools), streamed. A missing file throws ENOENT. */
export function historyStats(path: string, options: StatsOptions = {}): HistoryStats {
  const fd = openSync(path, 'r')
  try {
    return historyStatsOf(fd, options)
  } finally {
    closeSync(fd)
  }
}

/** A molt's history, opened without following links (safe-fs.ts); null when it has none. */
export function moltHistoryStats(home: string, options: StatsOptions = {}): HistoryStats | null {
  const file = openHomeFile(home, HISTORY_REL)
  if (!file) return null
  try {
    return historyStatsOf(file.fd, options)
  } finally {
    closeSync(file.fd)
  }
}

/** The whole file (its newest HISTORY_READ_MAX_BYTES at most), streamed. */
export function historyStatsOf(fd: number, options: StatsOptions = {}): HistoryStats {
  const stats = createStatsAccumulator(options)
  const newlines: number[] = []
  const size = fstatSync(fd).size
  const start = lineStartFrom(fd, size - HISTORY_READ_MAX_BYTES, size)
  const { tail, overlong } = scanLines(fd, (buf, from, to) => {
    // One JSON.parse per chunk (newlines turned into commas inside "[…]") costs a third less
    // than one per line. The element count must equal the line count; otherwise (a blank or
    // broken line) the chunk is read again line by line, which skips exactly the bad lines.
    newlines.length = 0
    for (let i = buf.indexOf(10, from); i >= 0 && i < to; i = buf.indexOf(10, i + 1)) {
      newlines.push(i)
      buf[i] = 44
    }
    let values: unknown = null
    try {
      values = JSON.parse(`[${buf.toString('utf8', from, to)}]`)
    } catch {}
    if (Array.isArray(values) && values.length === newlines.length + 1) {
      for (let i = 0; i < values.length; i++) stats.value(values[i])
      return
    }
    for (const i of newlines) buf[i] = 10
    const lines = buf.toString('utf8', from, to).split('\n')
    for (let i = 0; i < lines.length; i++) stats.line(lines[i]!)
  }, { start, end: size })
  stats.skip(overlong)
  // a last line without its newline: a write cut short, or a record that only lacks the "\n"
  if (tail) stats.line(tail)
  return stats.result()
}
