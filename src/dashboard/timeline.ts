import { closeSync, readSync } from 'node:fs'
import { openHomeFile } from '../lib/safe-read.ts'
import { HISTORY_READ_MAX_BYTES, lineStartFrom, parseHistoryLine, scanLines } from '../health/history.ts'
import type { UptimeWindow } from '../health/history-stats.ts'
import { HISTORY_REL } from '../health/paths.ts'
import type { HealthStatus } from '../health/record.ts'

/**
 * What a card needs from a molt's history — uptime over 24 h and 7 d, the last checks, the
 * incident still going on — kept in memory and read incrementally: the history is append-only, so
 * each look parses only the bytes added since the last one (a line per watch run), and a first
 * look reads only the file's last week — or, for the dashboard's first snapshot, only its tail
 * (the sparkline's checks and more), the rest of the week being read afterwards (`backfill`): the
 * first page load after a start must not wait for 500 weeks of history. A whole-file pass per molt (1.4–5.4 s for 200 molts) is
 * what `history` does, not what every dashboard refresh can afford.
 */

const DAY = 86_400_000
/** The longest window a card shows. */
const KEEP_MS = 7 * DAY
/** A first look of the tail: ~110 checks, three times a sparkline. */
const TAIL_BYTES = 16 * 1024
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
  /** bytes before this offset that belong to the week are not read yet (a first look of the tail); 0: none */
  unread = 0

  reset(): void {
    this.offset = 0
    this.unread = 0
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

  /** Older checks (read by backfill) go before the ones kept; a failing run at the end may reach into them. */
  prepend(older: Timeline): void {
    const allFailing = this.failing !== null && this.codes.every((c) => c !== 0)
    const none = this.times.length === 0
    this.times = older.times.concat(this.times)
    this.codes = older.codes.concat(this.codes)
    this.rts = older.rts.concat(this.rts)
    this.stamps = older.stamps.concat(this.stamps)
    if (allFailing && older.failing) {
      this.failing = { start: older.failing.start, stamp: older.failing.stamp, worst: Math.max(older.failing.worst, this.failing!.worst) }
    } else if (none) this.failing = older.failing
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
   * see safe-fs.ts; a missing file empties it). A first look reads the file's last week, or with
   * `firstLook: 'tail'` its last 16 KiB only (then `backfill` reads the rest). Throws what the file
   * layer throws.
   */
  update(home: string, now: number, options: { firstLook?: 'tail' | 'week' } = {}): void {
    const t = this.molts.get(home) ?? new Timeline()
    this.molts.set(home, t)
    const file = openHomeFile(home, HISTORY_REL)
    if (!file) return t.reset()
    try {
      const { dev, ino, size } = file.stats
      if (dev !== t.dev || ino !== t.ino || size < t.offset) {
        // a new file (rotated, pruned, capped) or a first look: read its last week (or tail) only
        t.reset()
        t.dev = dev
        t.ino = ino
        if (options.firstLook === 'tail') {
          t.offset = lineStartFrom(file.fd, size - Math.min(size, TAIL_BYTES), size)
          t.unread = t.offset > 0 && !olderThan(file.fd, t.offset, size, now - KEEP_MS) ? t.offset : 0
        } else t.offset = spanStart(file.fd, size, now, KEEP_MS)
      }
      readLines(t, file.fd, t.offset, size)
      t.trim(now)
    } finally {
      closeSync(file.fd)
    }
  }

  /** Bytes of the week not read yet (an upper bound: up to where the day began). */
  get unreadBytes(): number {
    let n = 0
    for (const t of this.molts.values()) n += t.unread
    return n
  }

  /** Molts whose week is not read whole yet (after a first look of the tail). */
  get pending(): number {
    let n = 0
    for (const t of this.molts.values()) if (t.unread) n++
    return n
  }

  /**
   * Read the rest of the week of the molts first looked at by their tail, one molt at a time, with
   * `pause` between them; stops early when `stopAt()` says so. The file must still be the one
   * read (same device and inode), else the next update reads it afresh anyway.
   */
  async backfill(now: number, pause: () => Promise<void>, stopAt: () => boolean = () => false): Promise<void> {
    for (const [home, t] of this.molts) {
      if (!t.unread) continue
      if (stopAt()) return
      await pause()
      const end = t.unread
      t.unread = 0
      let file: ReturnType<typeof openHomeFile>
      try {
        file = openHomeFile(home, HISTORY_REL)
      } catch {
        continue
      }
      if (!file) continue
      try {
        if (file.stats.dev !== t.dev || file.stats.ino !== t.ino) continue
        const older = new Timeline()
        readLines(older, file.fd, spanStart(file.fd, end, now, KEEP_MS), end)
        t.prepend(older)
        t.trim(now)
      } finally {
        closeSync(file.fd)
      }
    }
  }

  forget(home: string): void {
    this.molts.delete(home)
  }

  /** The checks kept (the last week), oldest first: the arrays themselves, not to be changed. */
  points(home: string): { times: readonly number[]; codes: readonly number[]; rts: readonly (number | null)[] } | null {
    const t = this.molts.get(home)
    return t ? { times: t.times, codes: t.codes, rts: t.rts } : null
  }

  /** Uptime over the window; `percent` null (and no checks) while the window reaches back past what was read. */
  uptime(home: string, windowMs: number, now: number): UptimeWindow {
    const t = this.molts.get(home)
    if (t?.unread && (!t.times.length || now - windowMs < t.times[0]!)) return { checks: 0, healthy: 0, percent: null }
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

/** `SEVERITY` codes back to statuses (series.ts). */
export const STATUS_OF_CODE = STATUSES

function readLines(t: Timeline, fd: number, start: number, size: number): void {
  const end = Math.min(size, start + HISTORY_READ_MAX_BYTES)
  // a buffer the size of what is new (a line or two per molt and refresh), not 1 MiB each time
  const chunkSize = Math.min(1 << 20, Math.max(64 * 1024, end - start))
  const scan = scanLines(fd, (buf, from, to) => {
    for (const line of buf.toString('utf8', from, to).split('\n')) t.add(line)
  }, { start, end, chunkSize })
  t.offset = Math.max(t.offset, scan.end)
}

/**
 * Where the last `spanMs` begins in the file's first `size` bytes: the start of the newest stretch
 * of whole lines whose first line is already older than that (or the file's start). The stretch
 * doubles from 256 KiB: a week of 5-minute checks is ~300 KB, of 1-minute checks ~1.5 MB.
 */
function spanStart(fd: number, size: number, now: number, spanMs: number): number {
  for (let span = 256 * 1024; ; span *= 2) {
    if (span >= size || span >= HISTORY_READ_MAX_BYTES) return lineStartFrom(fd, size - Math.min(size, HISTORY_READ_MAX_BYTES), size)
    const start = lineStartFrom(fd, size - span, size)
    if (olderThan(fd, start, size, now - spanMs)) return start
  }
}

function olderThan(fd: number, start: number, size: number, limit: number): boolean {
  const first = firstCheckAt(fd, start, size)
  return first !== null && first < limit
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
