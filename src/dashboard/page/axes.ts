import type { HealthStatus } from '../../health/record.ts'
import type { DashboardMolt, FleetIncident, RecentPoint } from '../types.ts'

/**
 * The geometry of the page's charts, pure (no DOM): the response-time chart of a molt and the
 * fleet's incident timeline. Times are epoch milliseconds; labels are the view's business.
 */

const MIN = 60_000
const HOUR = 60 * MIN
const DAY = 24 * HOUR

/** A round step for about `count` intervals up to `max`: 1, 2 or 5 × 10^k. */
export function niceStep(max: number, count = 4): number {
  if (!(max > 0)) return 1
  const raw = max / count
  const mag = 10 ** Math.floor(Math.log10(raw))
  const norm = raw / mag
  return (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10) * mag
}

/** 0, step, 2 step… up to the first tick at or above `max`. */
export function valueTicks(max: number, count = 4): number[] {
  const step = niceStep(max, count)
  const top = Math.max(step, Math.ceil(max / step - 1e-9) * step)
  const ticks: number[] = []
  for (let v = 0; v <= top + step / 2; v += step) ticks.push(Math.round(v * 1e6) / 1e6)
  return ticks
}

const TIME_STEPS = [MIN, 5 * MIN, 10 * MIN, 15 * MIN, 30 * MIN, HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY, 2 * DAY, 7 * DAY]

/**
 * Ticks on round clock times (every 15 min, 3 h, midnight…) between `from` and `to`, at most
 * `count` of them. `offsetMs` is the local zone's offset from UTC, so "midnight" is the viewer's.
 */
export function timeTicks(from: number, to: number, count = 6, offsetMs = 0): { step: number; ticks: number[] } {
  const span = Math.max(1, to - from)
  const step = TIME_STEPS.find((s) => span / s <= count) ?? Math.ceil(span / count / DAY) * DAY
  const ticks: number[] = []
  for (let t = Math.ceil((from + offsetMs) / step) * step - offsetMs; t <= to; t += step) ticks.push(t)
  return { step, ticks }
}

export interface ChartPoint {
  t: number
  ms: number | null
  status: HealthStatus
  x: number
  /** null: no answer (drawn as a mark on the time axis) */
  y: number | null
}

export interface ChartBox {
  width: number
  height: number
  left: number
  right: number
  top: number
  bottom: number
}

export interface ChartModel {
  points: ChartPoint[]
  /** the answered checks; a gap where one got no answer */
  path: string
  yTicks: { value: number; y: number }[]
  xTicks: { t: number; x: number }[]
  xStep: number
}

const r1 = (n: number) => Math.round(n * 10) / 10

/** Response times on a time axis (x by timestamp, so a gap in the checks shows as one), y from 0. */
export function chartModel(recent: RecentPoint[], box: ChartBox, offsetMs = 0): ChartModel {
  const dated = recent.map((p) => ({ p, t: Date.parse(p.timestamp) })).filter((d) => !Number.isNaN(d.t))
  const x0 = box.left
  const x1 = box.width - box.right
  const y0 = box.height - box.bottom
  const y1 = box.top
  const from = dated.length ? dated[0]!.t : 0
  const to = dated.length ? dated.at(-1)!.t : 1
  const span = to - from || 1
  const times = dated.map((d) => d.p.response_time_ms).filter((v): v is number => v !== null)
  const ticks = valueTicks(times.length ? Math.max(...times) : 10)
  const top = ticks.at(-1)!
  const xOf = (t: number) => r1(dated.length > 1 ? x0 + ((t - from) / span) * (x1 - x0) : (x0 + x1) / 2)
  const yOf = (v: number) => r1(y0 - (v / top) * (y0 - y1))
  const points = dated.map(({ p, t }) => ({ t, ms: p.response_time_ms, status: p.status, x: xOf(t), y: p.response_time_ms === null ? null : yOf(p.response_time_ms) }))
  const segments: string[] = []
  let drawing = false
  for (const p of points) {
    if (p.y === null) {
      drawing = false
      continue
    }
    segments.push(drawing ? `L${p.x} ${p.y}` : `M${p.x} ${p.y} l0 0`)
    drawing = true
  }
  const xt = dated.length > 1 ? timeTicks(from, to, Math.max(2, Math.floor((x1 - x0) / 90)), offsetMs) : { step: 0, ticks: dated.length ? [from] : [] }
  return { points, path: segments.join(' '), yTicks: ticks.map((value) => ({ value, y: yOf(value) })), xTicks: xt.ticks.map((t) => ({ t, x: xOf(t) })), xStep: xt.step }
}

/** The point nearest to an x (the chart's hover): by x only, so a pointer anywhere in the column picks it. */
export function nearestPoint(points: ChartPoint[], x: number): number {
  let best = -1
  let bestD = Infinity
  points.forEach((p, i) => {
    const d = Math.abs(p.x - x)
    if (d < bestD) {
      best = i
      bestD = d
    }
  })
  return best
}

// ------------------------------------------------------------------------------------------
// the fleet's incidents

export interface TimelineIncident {
  /** a molt's outage; the host's problem, a stopped watch, a silence (from the server's /api/incidents) */
  kind: FleetIncident['kind']
  /** the lane: a molt, or "host" / "whole fleet" for what concerns the fleet */
  molt: string
  start: number
  /** null: still going on */
  end: number | null
  status: Exclude<HealthStatus, 'healthy'>
  reason: string | null
}

const SEVERITY: Record<HealthStatus, number> = { healthy: 0, starting: 1, unhealthy: 2, unknown: 3, stopped: 4, dead: 5 }

/**
 * A molt's incidents as far as the card's data reaches: runs of failing checks among its recent
 * ones (ended by the next healthy check), and the ongoing incident, whose start the server knows
 * even when it predates them.
 */
export function moltIncidents(m: DashboardMolt): TimelineIncident[] {
  const out: TimelineIncident[] = []
  let run: TimelineIncident | null = null
  for (const p of m.recent) {
    const t = Date.parse(p.timestamp)
    // a gateway within its start-up grace neither starts an incident nor ends one
    if (Number.isNaN(t) || p.status === 'starting') continue
    if (p.status === 'healthy') {
      if (run) {
        run.end = t
        out.push(run)
        run = null
      }
      continue
    }
    if (!run) run = { kind: 'molt', molt: m.name, start: t, end: null, status: p.status, reason: null }
    else if (SEVERITY[p.status] > SEVERITY[run.status]) run.status = p.status
  }
  const ongoing = m.incident
  if (ongoing && m.health !== 'healthy' && (run || m.health !== 'starting')) {
    const since = Date.parse(ongoing.since)
    if (!run) run = { kind: 'molt', molt: m.name, start: since, end: null, status: ongoing.status === 'healthy' ? 'unknown' : ongoing.status, reason: null }
    if (!Number.isNaN(since) && since < run.start) run.start = since
    run.reason = ongoing.reason ?? m.reason
  }
  if (run) {
    run.reason ??= m.reason
    out.push(run)
  }
  return out
}

export interface Lane {
  molt: string
  /** fractions of the window, 0 (its start) to 1 (now) */
  bars: { from: number; to: number; incident: TimelineIncident }[]
}

/** One lane per molt with an incident in the window: ongoing ones first (the longest first), then the latest to start. */
export function timelineLanes(incidents: TimelineIncident[], from: number, to: number): Lane[] {
  const span = to - from
  const lanes = new Map<string, Lane & { ongoing: number | null; latest: number }>()
  for (const i of incidents) {
    const end = i.end ?? to
    if (end < from || i.start > to) continue
    const lane = lanes.get(i.molt) ?? { molt: i.molt, bars: [], ongoing: null, latest: -Infinity }
    lanes.set(i.molt, lane)
    lane.bars.push({ from: Math.max(0, (i.start - from) / span), to: Math.min(1, (end - from) / span), incident: i })
    // a silence is drawn in its lane but does not bring the lane up: it is what the operator already knows
    if (i.kind === 'silence') continue
    if (i.end === null) lane.ongoing = Math.min(lane.ongoing ?? Infinity, i.start)
    lane.latest = Math.max(lane.latest, i.start)
  }
  return [...lanes.values()]
    .sort((a, b) => (a.ongoing === null ? 1 : 0) - (b.ongoing === null ? 1 : 0) || (a.ongoing ?? 0) - (b.ongoing ?? 0) || b.latest - a.latest || (a.molt < b.molt ? -1 : 1))
    .map(({ molt, bars }) => ({ molt, bars: bars.sort((a, b) => a.from - b.from) }))
}

/**
 * The server's incidents (`/api/incidents`) as the timeline draws them: the fleet's own in lanes
 * "host" and "whole fleet"; a molt's outage with the reason its ongoing incident gives (the
 * server's summary otherwise, its "<molt> <status> " prefix left out).
 */
export function fromServer(list: FleetIncident[], molts: DashboardMolt[]): TimelineIncident[] {
  const byName = new Map(molts.map((m) => [m.name, m]))
  return list.flatMap((i) => {
    const start = Date.parse(i.start)
    const end = i.end === null ? null : Date.parse(i.end)
    if (Number.isNaN(start) || (end !== null && Number.isNaN(end))) return []
    const lane = i.molt === '*' ? (i.kind === 'host' ? 'host' : 'whole fleet') : i.molt
    const status: TimelineIncident['status'] = i.worst ?? (i.kind === 'silence' ? 'unknown' : 'dead')
    const m = byName.get(i.molt)
    const prefix = `${i.molt} ${i.worst} `
    const reason = i.kind === 'molt' && i.ongoing && m ? (m.incident?.reason ?? m.reason ?? i.summary) : i.kind === 'molt' && i.summary.startsWith(prefix) ? i.summary.slice(prefix.length) : i.summary
    return [{ kind: i.kind, molt: lane, start, end, status, reason }]
  })
}
