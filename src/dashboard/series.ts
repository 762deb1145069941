import type { HealthStatus } from '../health/record.ts'
import { STATUS_OF_CODE, type Timelines } from './timeline.ts'
import type { FleetIncident, SeriesPoint, SeriesResponse } from './types.ts'

/**
 * Charts and the fleet timeline from the dashboard's memory (the week of checks each molt's
 * timeline keeps): no file is read on the request's path.
 */
export const SERIES_MAX_POINTS = 1000
export const SERIES_DEFAULT_POINTS = 288
export const INCIDENTS_MAX = 500

/** Response times in at most `points` buckets of equal width over [from, to). */
export function seriesOf(timelines: Timelines, home: string, molt: string, from: number, to: number, points: number): SeriesResponse {
  const bucketMs = Math.max(1000, Math.ceil((to - from) / points))
  const out: SeriesPoint[] = []
  const p = timelines.points(home)
  if (p) {
    let i = lowerBound(p.times, from)
    while (i < p.times.length && p.times[i]! < to) {
      const index = Math.floor((p.times[i]! - from) / bucketMs)
      const end = from + (index + 1) * bucketMs
      let checks = 0, worst = 0, answered = 0, sum = 0, max = -Infinity
      for (; i < p.times.length && p.times[i]! < Math.min(end, to); i++) {
        checks++
        if (p.codes[i]! > worst) worst = p.codes[i]!
        const ms = p.rts[i]
        if (ms !== null && ms !== undefined) {
          answered++
          sum += ms
          if (ms > max) max = ms
        }
      }
      out.push({
        timestamp: new Date(from + index * bucketMs).toISOString(),
        checks,
        status: STATUS_OF_CODE[worst] as HealthStatus,
        avg_ms: answered ? Math.round((sum / answered) * 100) / 100 : null,
        max_ms: answered ? max : null,
      })
    }
  }
  return { molt, from: new Date(from).toISOString(), to: new Date(to).toISOString(), bucket_ms: bucketMs, points: out }
}

/** A molt's outages touching [since, now]: runs of checks that were not healthy, as `history` counts them. */
export function moltIncidents(timelines: Timelines, home: string, molt: string, since: number, now: number): FleetIncident[] {
  const p = timelines.points(home)
  if (!p) return []
  const out: FleetIncident[] = []
  let start = -1
  let worst = 0
  let checks = 0
  const close = (end: number | null) => {
    if ((end ?? now) >= since) {
      const status = STATUS_OF_CODE[worst] as Exclude<HealthStatus, 'healthy'>
      out.push({
        kind: 'molt', molt, start: new Date(p.times[start]!).toISOString(), end: end === null ? null : new Date(end).toISOString(),
        ongoing: end === null, duration_ms: Math.max(0, (end ?? now) - p.times[start]!), worst: status, summary: `${molt} ${status} (${checks} check${checks === 1 ? '' : 's'})`,
      })
    }
    start = -1
  }
  for (let i = 0; i < p.times.length; i++) {
    const code = p.codes[i]!
    if (code === 0) {
      if (start >= 0) close(p.times[i]!)
    } else if (start < 0) {
      start = i
      worst = code
      checks = 1
    } else {
      checks++
      if (code > worst) worst = code
    }
  }
  if (start >= 0) close(null)
  return out
}

function lowerBound(xs: readonly number[], value: number): number {
  let lo = 0
  let hi = xs.length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if (xs[mid]! < value) lo = mid + 1
    else hi = mid
  }
  return lo
}
