import { UsageError, quote } from './errors.ts'

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000,
}

/**
 * One unit style wherever clmnt takes a time: "500ms", "5s", "30m", "24h", "90d", "2w" →
 * milliseconds; null when it is not a duration.
 */
export function parseDuration(text: string): number | null {
  const match = /^(\d+)(ms|[smhdw])$/.exec(text.trim())
  if (!match) return null
  const amount = Number(match[1])
  if (amount <= 0) return null
  return amount * UNIT_MS[match[2]!]!
}

/** A window start: a duration back from `now`, or an absolute ISO 8601 time. */
export function parseSince(text: string, option: string, now = Date.now()): number {
  const duration = parseDuration(text)
  if (duration !== null) return now - duration
  if (/^\d{4}-\d{2}-\d{2}/.test(text)) {
    const at = Date.parse(text)
    if (!Number.isNaN(at)) return at
  }
  throw new UsageError(`invalid value ${quote(text)} for ${option}: expected a duration like 7d, 24h, 30m or an ISO 8601 time`)
}

export function requireDuration(text: string, option: string): number {
  const ms = parseDuration(text)
  if (ms === null) throw new UsageError(`invalid value ${quote(text)} for ${option}: expected a duration like 90d, 24h, 30m`)
  return ms
}

/**
 * A time option: a duration ("5s", "500ms", "5m", "1h"), or — as the options took before units
 * existed, and as crontab lines already written still pass them — a bare number in `bare` units
 * (ms for --timeout, minutes for --interval). Returns milliseconds within [min, max].
 */
export function durationOption(value: string | undefined, option: string, o: { bare: 'ms' | 'm'; min: number; max: number; whole?: 'm' }): number | undefined {
  if (value === undefined) return undefined
  const text = value.trim()
  // zero is a duration where the range allows it (an --offset of 0m)
  const zero = o.min === 0 && /^0+(ms|[smhdw])?$/.test(text)
  const ms = /^\d+$/.test(text) ? Number(text) * UNIT_MS[o.bare]! : zero ? 0 : parseDuration(text)
  const range = `from ${unitDuration(o.min)} to ${unitDuration(o.max)}`
  const example = o.bare === 'ms' ? '500ms, 5s or 1m' : '5m, 90m or 1h'
  if (ms === null || ms < o.min || ms > o.max) throw new UsageError(`invalid value ${quote(value)} for ${option}: expected a duration like ${example}, ${range}`)
  if (o.whole === 'm' && ms % 60_000 !== 0) throw new UsageError(`invalid value ${quote(value)} for ${option}: expected whole minutes, like 5m or 1h`)
  return ms
}

/** In the largest unit that divides it: 600000 → "10m", 1 → "1ms", 86400000 → "1d" (for option ranges). */
export function unitDuration(ms: number): string {
  if (ms === 0) return '0'
  for (const unit of ['d', 'h', 'm', 's'] as const) if (ms >= UNIT_MS[unit]! && ms % UNIT_MS[unit]! === 0) return `${ms / UNIT_MS[unit]!}${unit}`
  return `${ms}ms`
}

const UNITS = [['d', 86400], ['h', 3600], ['m', 60], ['s', 1]] as const

/**
 * 0 → "0s", 95_000 → "1m 35s", 90_061_000 → "1d 1h", 10_801_000 → "3h". The largest unit and the
 * next smaller one when it is not zero: enough for an operator ("3h 1s" would be noise).
 */
export function formatDuration(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000))
  const first = UNITS.findIndex(([, size]) => seconds >= size)
  if (first === -1) return '0s'
  const [unit, size] = UNITS[first]!
  const parts = [`${Math.floor(seconds / size)}${unit}`]
  const next = UNITS[first + 1]
  if (next && Math.floor((seconds % size) / next[1]) > 0) parts.push(`${Math.floor((seconds % size) / next[1])}${next[0]}`)
  return parts.join(' ')
}

export function formatAgo(timestamp: number, now = Date.now()): string {
  if (Number.isNaN(timestamp)) return 'at an unreadable time'
  const delta = now - timestamp
  if (delta < 0) return `in ${formatDuration(-delta)}`
  if (delta < 1000) return 'just now'
  return `${formatDuration(delta)} ago`
}
