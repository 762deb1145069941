import { closeSync, readSync } from 'node:fs'
import type { Owner } from '../lib/atomic.ts'
import { parseLegacyJson } from '../lib/legacy.ts'
import { inHomeDir } from '../lib/safe-fs.ts'
import { openHomeFile } from '../lib/safe-read.ts'
import { tailLines } from '../lib/tail.ts'
import type { RewriteResult } from './history-prune.ts'
import { HISTORY_REL, historyFile } from './paths.ts'
import { historyLine, isCleanRecord, toRecord, type HealthRecord } from './record.ts'

/**
 * A year of 5-minute checks is ~15 MB. Past the cap the file is cut to its newest part, so a
 * forgotten cron entry cannot fill the disk; `history --prune` is the deliberate retention.
 */
export const HISTORY_CAP_BYTES = 16 * 1024 * 1024
export const HISTORY_KEEP_BYTES = 8 * 1024 * 1024
/**
 * Readers (statistics, prune) take at most the newest this-many bytes: a molt's user can make its
 * history a sparse terabyte, and one molt must not stall the fleet.
 */
export const HISTORY_READ_MAX_BYTES = 64 * 1024 * 1024

export interface AppendOptions {
  capBytes?: number
  keepBytes?: number
}

export interface AppendResult {
  size: number
  /** the file passed the cap and was cut */
  capped?: RewriteResult
  /** the line was written but cutting the file failed: the check itself is recorded */
  capError?: string
}

/**
 * Append one check as one write on an O_APPEND descriptor: concurrent writers never interleave
 * inside a line. The file is created owned by the molt's user when running as root.
 */
export function appendHistory(home: string, record: HealthRecord, owner?: Owner, options: AppendOptions = {}): AppendResult {
  const path = historyFile(home)
  const size = inHomeDir(home, HISTORY_REL, { owner, create: true }, (dir, name) => dir.append(name, historyLine(record)))
  if (size <= (options.capBytes ?? HISTORY_CAP_BYTES)) return { size }
  try {
    // loaded only when needed: `health watch` runs from cron for every molt and the cap is rare
    const { capHistory } = require('./history-prune.ts') as typeof import('./history-prune.ts')
    const capped = capHistory(home, options.keepBytes ?? HISTORY_KEEP_BYTES, owner) ?? undefined
    return { size: capped?.bytes_after ?? size, capped }
  } catch (error) {
    return { size, capError: `could not cap ${path}: ${(error as Error).message}` }
  }
}

/** A parsed JSON value → check + time; null for anything that is not a readable check. */
export function toCheck(raw: unknown): { record: HealthRecord; at: number; legacy: boolean } | null {
  let record: HealthRecord
  let legacy = false
  if (isCleanRecord(raw)) record = raw
  else {
    const parsed = toRecord(raw)
    if (!parsed) return null
    record = parsed.record
    legacy = true
  }
  const at = timestampMs(record.timestamp)
  return Number.isNaN(at) ? null : { record, at, legacy }
}

/**
 * One line as JSON; the bash toolkit could leave a value out (`"pid": ,`), which is repaired.
 * `undefined` when it is not JSON at all.
 */
export function parseJsonLine(line: string): unknown {
  try {
    return parseLegacyJson(line)
  } catch {
    return undefined
  }
}

export function parseHistoryLine(line: string): ReturnType<typeof toCheck> {
  const raw = parseJsonLine(line)
  return raw === undefined ? null : toCheck(raw)
}

export interface RecentChecks {
  checks: HealthRecord[]
  /** unreadable lines met on the way back */
  skipped: number
}

/**
 * The last `limit` checks of a molt, oldest first; none when it has no history. Read from the
 * end, so the cost grows with `limit`, not with the file; unreadable lines are stepped over
 * (reading a little further back).
 */
export function recentChecks(home: string, limit: number): RecentChecks {
  const file = openHomeFile(home, HISTORY_REL)
  if (!file) return { checks: [], skipped: 0 }
  try {
    return recentChecksOf(file.fd, limit)
  } finally {
    closeSync(file.fd)
  }
}

export function recentChecksOf(fd: number, limit: number): RecentChecks {
  for (let want = limit; ; ) {
    const lines = tailLines(fd, want)
    const checks: HealthRecord[] = []
    let skipped = 0
    for (let i = lines.length - 1; i >= 0 && checks.length < limit; i--) {
      const parsed = parseHistoryLine(lines[i]!)
      if (parsed) checks.push(parsed.record)
      else skipped++
    }
    // short of checks and the file goes further back: look again, further
    if (checks.length === limit || lines.length < want) return { checks: checks.reverse(), skipped }
    want += Math.max(limit - checks.length, skipped)
  }
}

export interface LineScan {
  /** file offset just after the last newline read: every byte before it was handed over */
  end: number
  /** bytes after the last newline (decoded): not handed over */
  tail: string
  /** lines longer than the buffer: dropped unread, so one bad line cannot eat the memory */
  overlong: number
}

/**
 * The complete lines of `fd` from `start` to `end` (default: EOF), in fixed-size chunks with the
 * partial last line carried over: memory stays at one buffer whatever the file's size.
 * `onLines` gets buf[from, to) holding whole lines joined by "\n" (no final newline) and may
 * overwrite those bytes. Splitting at byte 0x0A is UTF-8 safe: it never occurs inside a character.
 */
export function scanLines(fd: number, onLines: (buf: Buffer, from: number, to: number) => void, options: { start?: number; end?: number; chunkSize?: number } = {}): LineScan {
  const buf = Buffer.allocUnsafe(options.chunkSize ?? 1 << 20)
  const limit = options.end ?? Infinity
  let position = options.start ?? 0
  let end = position
  let carry = 0
  let dropping = false
  let overlong = 0
  for (;;) {
    const want = Math.min(buf.length - carry, limit - position)
    const got = want > 0 ? readSync(fd, buf, carry, want, position) : 0
    if (got === 0) break
    position += got
    const filled = carry + got
    const lastNewline = buf.lastIndexOf(10, filled - 1)
    if (lastNewline < 0) {
      if (filled === buf.length) dropping = true
      carry = dropping ? 0 : filled
      continue
    }
    let from = 0
    if (dropping) {
      from = buf.indexOf(10) + 1
      dropping = false
      overlong++
    }
    if (lastNewline >= from) onLines(buf, from, lastNewline)
    carry = filled - lastNewline - 1
    buf.copy(buf, 0, lastNewline + 1, filled)
    end = position - carry
  }
  if (dropping) overlong++
  return { end, tail: dropping ? '' : buf.toString('utf8', 0, carry), overlong }
}

/** The offset of the first line that begins at or after `from` (size when none does). */
export function lineStartFrom(fd: number, from: number, size: number): number {
  if (from <= 0) return 0
  const buf = Buffer.allocUnsafe(64 * 1024)
  for (let at = from - 1; at < size; ) {
    const got = readSync(fd, buf, 0, Math.min(buf.length, size - at), at)
    if (got === 0) break
    const newline = buf.subarray(0, got).indexOf(10)
    if (newline >= 0) return at + newline + 1
    at += got
  }
  return size
}

/** scanLines, one decoded line at a time. */
export function forEachLine(fd: number, onLine: (line: string) => void, options: { start?: number; end?: number; chunkSize?: number } = {}): LineScan {
  return scanLines(fd, (buf, from, to) => {
    const lines = buf.toString('utf8', from, to).split('\n')
    for (let i = 0; i < lines.length; i++) onLine(lines[i]!)
  }, options)
}

const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]

/**
 * Date.parse is a fifth of the pass on 100k lines; clmnt writes "YYYY-MM-DDTHH:MM:SS.sssZ", so
 * that shape is computed with integer arithmetic and anything else goes to Date.parse.
 */
export function timestampMs(s: string): number {
  const n = s.length
  if ((n !== 24 && n !== 20) || s.charCodeAt(n - 1) !== 90 /* Z */ || s.charCodeAt(10) !== 84 /* T */) return Date.parse(s)
  if (s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45 || s.charCodeAt(13) !== 58 || s.charCodeAt(16) !== 58) return Date.parse(s)
  if (n === 24 && s.charCodeAt(19) !== 46) return Date.parse(s)
  const y1 = two(s, 0), y2 = two(s, 2), month = two(s, 5), day = two(s, 8)
  const h = two(s, 11), m = two(s, 14), sec = two(s, 17)
  const centis = n === 24 ? two(s, 20) : 0
  const last = n === 24 ? two(s, 21) : 0
  // rare shapes (Feb 29, out-of-range fields) are left to Date.parse so both paths agree
  if (y1 < 0 || y2 < 0 || h < 0 || m < 0 || sec < 0 || centis < 0 || last < 0 || month < 1 || month > 12 || day < 1 || day > DAYS_IN_MONTH[month - 1]! || (month === 2 && day === 29) || h > 23 || m > 59 || sec > 59) return Date.parse(s)
  return (daysFromCivil(y1 * 100 + y2, month, day) * 86_400 + (h * 60 + m) * 60 + sec) * 1000 + centis * 10 + (last % 10)
}

/** Two decimal digits at `i`, or -1. */
function two(s: string, i: number): number {
  const a = s.charCodeAt(i) - 48
  const b = s.charCodeAt(i + 1) - 48
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1
}

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
function daysFromCivil(y: number, m: number, d: number): number {
  y -= m <= 2 ? 1 : 0
  const era = Math.floor(y / 400)
  const yoe = y - era * 400
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy
  return era * 146_097 + doe - 719_468
}
