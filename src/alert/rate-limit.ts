import type { Notice, WatchFile } from '../health/watch-types.ts'

/**
 * The per-molt cap on notices (seed 002: at most one alert per hour per molt): notices over the
 * cap are not sent but counted, and the next notice that goes out says how many were held back
 * and which. A RECOVERED that closes a DOWN the operator received always goes: it ends a worry;
 * so does "recovery failed", once per incident: it asks for a human now.
 * The bookkeeping lives in the molt's watch state (`alert_rate`), next to the outbox it gates.
 */
export interface RateLimit {
  max: number
  windowMs: number
}

export interface AlertRate {
  /** when admitted notices went out, newest last (within the window) */
  sent: string[]
  /** ids already admitted (a retried notice is not counted twice) */
  admitted: string[]
  suppressed: number
  kinds: string[]
  since: string | null
}

export const DEFAULT_RATE_LIMIT = '1/1h'

/** "1/1h", "3/30m" → the cap; "off" → null; anything else → undefined. */
export function parseRateLimit(text: string): RateLimit | null | undefined {
  if (text === 'off') return null
  const match = /^(\d{1,3})\/(\d{1,4})([smhd])$/.exec(text)
  if (!match || Number(match[1]) < 1 || Number(match[2]) < 1) return undefined
  const unit = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[3] as 's' | 'm' | 'h' | 'd']
  return { max: Number(match[1]), windowMs: Number(match[2]) * unit }
}

export function readRate(state: WatchFile): AlertRate {
  const raw = state.alert_rate as Partial<AlertRate> | undefined
  const strings = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [])
  return {
    sent: strings(raw?.sent).filter((t) => !Number.isNaN(Date.parse(t))),
    admitted: strings(raw?.admitted),
    suppressed: Number.isInteger(raw?.suppressed) && raw!.suppressed! > 0 ? raw!.suppressed! : 0,
    kinds: strings(raw?.kinds),
    since: typeof raw?.since === 'string' && !Number.isNaN(Date.parse(raw.since)) ? raw.since : null,
  }
}

/** Gate the outbox: admit what the cap allows, take out (and count) the rest. */
export function applyRateLimit(previous: WatchFile, limit: RateLimit, now: number): { state: WatchFile; suppressed: Notice[] } {
  const s = structuredClone(previous)
  const rate = readRate(s)
  rate.sent = rate.sent.filter((t) => now - Date.parse(t) < limit.windowMs)
  const suppressed: Notice[] = []
  for (const notice of [...s.outbox]) {
    if (rate.admitted.includes(notice.id)) continue
    const closesThread = notice.kind === 'recovered' && notice.in_reply_to !== null
    // "recovery failed after 3 attempts" comes once per incident and asks for a human now
    const escalation = notice.kind === 'restart-failed'
    if (!closesThread && !escalation && rate.sent.length >= limit.max) {
      suppressed.push(notice)
      s.outbox = s.outbox.filter((n) => n.id !== notice.id)
      rate.suppressed += 1
      rate.kinds.push(notice.kind)
      rate.since ??= notice.created_at
      continue
    }
    if (rate.suppressed) {
      const kinds = summarizeKinds(rate.kinds)
      notice.facts.rate_note = `The rate limit (${limit.max} per ${span(limit.windowMs)} for this molt) held back ${rate.suppressed} notice(s) since ${rate.since!.slice(0, 16).replace('T', ' ')} UTC: ${kinds}.`
      rate.suppressed = 0
      rate.kinds = []
      rate.since = null
    }
    rate.sent.push(new Date(now).toISOString())
    rate.admitted = [...rate.admitted, notice.id].slice(-20)
  }
  s.alert_rate = rate as unknown as WatchFile[string]
  return { state: s, suppressed }
}

function summarizeKinds(kinds: string[]): string {
  const counts = new Map<string, number>()
  for (const k of kinds) counts.set(k, (counts.get(k) ?? 0) + 1)
  return [...counts].map(([k, n]) => (n > 1 ? `${k} ×${n}` : k)).join(', ')
}

function span(ms: number): string {
  for (const [unit, size] of [['day', 86_400_000], ['hour', 3_600_000], ['minute', 60_000], ['second', 1000]] as const) {
    if (ms % size === 0) return ms === size ? unit : `${ms / size} ${unit}s`
  }
  return `${ms} ms`
}
