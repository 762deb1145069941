import { closeSync, readSync } from 'node:fs'
import { openHomeFile } from '../lib/safe-fs.ts'
import { HISTORY_READ_MAX_BYTES, lineStartFrom, parseHistoryLine, scanLines } from '../health/history.ts'
import type { UptimeWindow } from '../health/history-stats.ts'
import { HISTORY_REL } from '../health/paths.ts'
import type { HealthStatus } from '../health/record.ts'

/**
 * What a card needs from a molt's history — uptime over 24 h and 7 d, the last checks, the
 * incident still going on — kept in memory and read incrementally: the history is append-only, so
 * each look parses only the bytes added since the last one (a line per watch run), and a first
 * look reads only the file's last week. A whole-file pass per molt (1.4–5.4 s for 200 molts) is
 * what `history` does, not what every dashboard refresh can afford.
 */

const DAY = 86_400_000
/** The longest window a card shows. */
const KEEP_MS = 7 * DAY
// the same order as history-stats.ts: starting is not serving yet, but the mildest way of not serving
const SEVERITY: Record<HealthStatus, number> = { healthy: 0, starting: 1, unhealthy: 2, unknown: 3, stopped: 4, dead: 5 }
const STATUSES = Object.keys(SEVERITY) as HealthStatus[]

export interface TimelinePoint {
  timestamp: string
  status: HealthStatus
  response_time_ms: number | null
}

export interface TrailingIncident {
  start: string
  worst: Exclude<HealthStatus, 'healthy'>
}

class Timeline {
  dev = -1
  ino = -1
  /** bytes consumed: just after the last newline read */
  offset = 0
  times: number[] = []
  codes: number[] = []
  rts: (number | null)[] = []
  stamps: string[] = []
  failing: { start: number; stamp: string; worst: number } | null = null

  reset(): void {
    this.offset = 0
    this.times = []
    this.codes = []
    this.rts = []
    this.stamps = []
    this.failing = null
  }

  add(line: string): void {
    const check = parseHistoryLine(line)
    if (!check) return
    const code = SEVERITY[check.record.status]
    this.times.push(check.at)
    this.codes.push(code)
    this.rts.push(check.record.response_time_ms)
    this.stamps.push(check.record.timestamp)
    if (code === 0) this.failing = null
    else if (!this.failing) this.failing = { start: check.at, stamp: check.record.timestamp, worst: code }
    else if (code > this.failing.worst) this.failing.worst = code
  }

  /** Forget what fell out of the week; compacts once a good part has. */
  trim(now: number): void {
    let drop = 0
    while (drop < this.times.length && this.times[drop]! < now - KEEP_MS) drop++
    if (drop > 64 || drop === this.times.length) {
      this.times.splice(0, drop)
      this.codes.splice(0, drop)
      this.rts.splice(0, drop)
      this.stamps.splice(0, drop)
    }
  }
}

export class Timelines {
  private readonly molts = new Map<string, Timeline>()

  /**
   * Bring a molt's timeline up to date with its history file (opened without following links,
   * see safe-fs.ts; a missing file empties it). Throws what the file layer throws.
   */
  update(home: string, now: number): void {
    const t = this.molts.get(home) ?? new Timeline()
    this.molts.set(home, t)
    const file = openHomeFile(home, HISTORY_REL)
    if (!file) return t.reset()
    try {
      const { dev, ino, size } = file.stats
      if (dev !== t.dev || ino !== t.ino || size < t.offset) {
        // a new file (rotated, pruned, capped) or a first look: read its last week only
        t.reset()
        t.dev = dev
        t.ino = ino
        t.offset = weekStart(file.fd, size, now)
      }
      const scan = scanLines(file.fd, (buf, from, to) => {
        for (const line of buf.toString('utf8', from, to).split('\n')) t.add(line)
      }, { start: t.offset, end: Math.min(size, t.offset + HISTORY_READ_MAX_BYTES) })
      t.offset = scan.end
      t.trim(now)
    } finally {
      closeSync(file.fd)
    }
  }

  forget(home: string): void {
    this.molts.delete(home)
  }

  uptime(home: string, windowMs: number, now: number): UptimeWindow {
    const t = this.molts.get(home)
    let checks = 0
    let healthy = 0
    if (t) {
      for (let i = t.times.length - 1; i >= 0; i--) {
        if (t.times[i]! < now - windowMs) continue
        checks++
        if (t.codes[i] === 0) healthy++
      }
    }
    return { checks, healthy, percent: checks ? Math.round((healthy / checks) * 10_000) / 100 : null }
  }

  /** The newest `count` checks, oldest first. */
  recent(home: string, count: number): TimelinePoint[] {
    const t = this.molts.get(home)
    if (!t) return []
    const out: TimelinePoint[] = []
    for (let i = Math.max(0, t.times.length - count); i < t.times.length; i++) out.push({ timestamp: t.stamps[i]!, status: STATUSES[t.codes[i]!]!, response_time_ms: t.rts[i]! })
    return out
  }

  /** The run of failing checks at the end of the history, if any (its start may predate the week kept). */
  incident(home: string): TrailingIncident | null {
    const f = this.molts.get(home)?.failing
    return f ? { start: f.stamp, worst: STATUSES[f.worst] as TrailingIncident['worst'] } : null
  }
}

/**
 * Where the last week begins: the start of the newest stretch of whole lines whose first line is
 * already older than a week (or the file's start). The stretch doubles from 256 KiB: a week of
 * 5-minute checks is ~300 KB, of 1-minute checks ~1.5 MB.
 */
function weekStart(fd: number, size: number, now: number): number {
  for (let span = 256 * 1024; ; span *= 2) {
    if (span >= size || span >= HISTORY_READ_MAX_BYTES) return lineStartFrom(fd, size - Math.min(size, HISTORY_READ_MAX_BYTES), size)
    const start = lineStartFrom(fd, size - span, size)
    const first = firstCheckAt(fd, start, size)
    if (first !== null && first < now - KEEP_MS) return start
  }
}

function firstCheckAt(fd: number, start: number, size: number): number | null {
  const buf = Buffer.allocUnsafe(Math.min(64 * 1024, size - start))
  const got = readSync(fd, buf, 0, buf.length, start)
  for (const line of buf.toString('utf8', 0, got).split('\n').slice(0, 20)) {
    const check = parseHistoryLine(line)
    if (check) return check.at
  }
  return null
}
