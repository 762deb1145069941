import { expect, test } from 'bun:test'
import { applyRateLimit, parseRateLimit, readRate } from '../../src/alert/rate-limit.ts'
import { initialState, type Notice, type WatchFile } from '../../src/health/watch.ts'

const T = Date.parse('2026-12-05T03:00:00.000Z')
const notice = (id: string, kind: Notice['kind'], at: number, inReplyTo: string | null = null): Notice => ({
  id, kind, created_at: new Date(at).toISOString(), incident: null, in_reply_to: inReplyTo, facts: {}, attempts: 0, last_attempt_at: null, last_error: null, delivered: {}, failed: {},
})
const withOutbox = (s: WatchFile, ...notices: Notice[]) => ({ ...s, outbox: [...s.outbox, ...notices] })
const hour = parseRateLimit('1/1h')!

test.each([
  ['1/1h', { max: 1, windowMs: 3_600_000 }],
  ['3/30m', { max: 3, windowMs: 1_800_000 }],
  ['off', null],
  ['0/1h', undefined],
  ['1h', undefined],
  ['1/0m', undefined],
])('parseRateLimit(%p)', (text, expected) => expect(parseRateLimit(text)).toEqual(expected as never))

test('one notice an hour per molt; the rest are counted and named in the next notice that goes', () => {
  let s = withOutbox(initialState(1), notice('down.1', 'down', T))
  s = applyRateLimit(s, hour, T).state
  expect(s.outbox.map((n) => n.id)).toEqual(['down.1'])
  s = { ...s, outbox: [] } // delivered
  // a retried notice is not counted twice
  expect(applyRateLimit(withOutbox(s), hour, T + 1000).suppressed).toEqual([])
  // the DOWN was never delivered, so this RECOVERED closes no thread: held back, like the next DOWN
  let gated = applyRateLimit(withOutbox(s, notice('recovered.1', 'recovered', T + 60_000), notice('down.2', 'down', T + 120_000)), hour, T + 120_000)
  expect(gated.suppressed.map((n) => n.id)).toEqual(['recovered.1', 'down.2'])
  expect(gated.state.outbox).toEqual([])
  expect(readRate(gated.state)).toMatchObject({ suppressed: 2, kinds: ['recovered', 'down'], since: new Date(T + 60_000).toISOString() })
  // an hour after the first, the next notice goes and carries the count
  gated = applyRateLimit(withOutbox(gated.state, notice('down.3', 'down', T + 3_600_000)), hour, T + 3_600_000)
  expect(gated.state.outbox[0]!.facts.rate_note).toBe('The rate limit (1 per hour for this molt) held back 2 notice(s) since 2026-12-05 03:01 UTC: recovered, down.')
  expect(readRate(gated.state).suppressed).toBe(0)
})

test('a RECOVERED that closes a DOWN the operator received always goes, and so does "recovery failed"', () => {
  let s = applyRateLimit(withOutbox(initialState(1), notice('down.1', 'down', T)), hour, T).state
  s = { ...s, outbox: [] }
  const gated = applyRateLimit(withOutbox(s, notice('restart-failed.1', 'restart-failed', T + 30_000, 'down.1'), notice('recovered.1', 'recovered', T + 60_000, 'down.1')), hour, T + 60_000)
  expect(gated.suppressed).toEqual([])
  expect(gated.state.outbox.map((n) => n.id)).toEqual(['restart-failed.1', 'recovered.1'])
})
