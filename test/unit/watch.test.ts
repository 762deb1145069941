import { describe, expect, test } from 'bun:test'
import type { HealthRecord, HealthStatus } from '../../src/health/record.ts'
import {
  countAttempt, decide, dueNotices, flipsOf, recordDelivery, recordRestart, retryAfterSettingsChange, settleOutbox, upgradeState,
  type Channel, type DecideOptions, type DeliveryOutcome, type Notice, type RestartAttempt, type StoredState, type WatchFile,
} from '../../src/health/watch.ts'

// The pure core, driven run by run with an injected clock: every scenario is data in, notices out.
const T0 = Date.parse('2026-02-02T10:00:00.000Z')
const MIN = 60_000
const at = (ms: number) => new Date(ms).toISOString()

function record(status: HealthStatus, now: number): HealthRecord {
  const healthy = status === 'healthy'
  return {
    timestamp: at(now),
    molt: 'mybot',
    status,
    pid: status === 'stopped' ? null : 4242,
    port: 19001,
    http_status: healthy ? 200 : status === 'unhealthy' ? 500 : null,
    response_time_ms: healthy ? 2.5 : null,
    reason: healthy ? null : status === 'dead' ? 'PID 4242 from gateway.pid is not running' : `it is ${status}`,
  }
}

const OPTIONS: DecideOptions = { threshold: 2, remindMs: null, restart: { enabled: false, unhealthy: false } }
const CHANNELS: Channel[] = ['email']

interface Run {
  /** delivered notices, in order */
  sent: Notice[]
  /** every delivery attempt: notice id and run index */
  tries: { id: string; run: number }[]
  state: WatchFile
}

/**
 * One cron run per result: F (dead) or S (healthy), `stepMs` apart. `transport` decides per run
 * whether the mail server takes the notice (default: always).
 */
function simulate(results: string, options: Partial<DecideOptions> & { stepMs?: number; start?: WatchFile; transport?: (run: number, notice: Notice) => DeliveryOutcome } = {}): Run {
  const opts = { ...OPTIONS, ...options }
  let state = options.start ?? upgradeState(null, opts.threshold, T0)
  const sent: Notice[] = []
  const tries: Run['tries'] = []
  ;[...results].forEach((result, run) => {
    const now = T0 + run * (options.stepMs ?? 5 * MIN)
    state = decide(state, record(result === 'S' ? 'healthy' : 'dead', now), now, opts).state
    const due = dueNotices(state, CHANNELS)
    for (const notice of due) {
      tries.push({ id: notice.id, run })
      const outcome = options.transport?.(run, notice) ?? { ok: true }
      state = recordDelivery(state, notice.id, 'email', outcome, now)
      if (outcome.ok) sent.push(notice)
    }
    state = settleOutbox(countAttempt(state, due.map((n) => n.id)), CHANNELS).state
  })
  return { sent, tries, state }
}

const kinds = (run: Run): string[] => run.sent.map((n) => n.kind)

describe('scenarios (N=2, a run every 5 minutes)', () => {
  test.each([
    ['F,F → one DOWN', 'FF', ['down']],
    ['F,S → nothing (a PENDING blip)', 'FS', []],
    ['F,F,F,F,F → one DOWN', 'FFFFF', ['down']],
    ['F,F,S → DOWN + RECOVERED', 'FFS', ['down', 'recovered']],
    ['F,S,S,S,F,S → nothing', 'FSSSFS', []],
    ['two incidents → two DOWN/RECOVERED pairs', 'FFSSSSSSSSSSSFFS', ['down', 'recovered', 'down', 'recovered']],
    ['S,S,S → nothing', 'SSS', []],
  ])('%s', (_, results, expected) => {
    expect(kinds(simulate(results))).toEqual(expected as string[])
  })

  test('F,F with the SMTP server down, then up → exactly one DOWN delivered, same Message-ID every try', () => {
    const run = simulate('FFFFF', { transport: (i) => (i < 4 ? { ok: false, permanent: false, error: 'msmtp exit 75' } : { ok: true }) })
    expect(kinds(run)).toEqual(['down'])
    expect(run.tries).toEqual([1, 2, 3, 4].map((i) => ({ id: run.sent[0]!.id, run: i })))
    expect(run.state.incident!.down_notified_at).toBe(at(T0 + 20 * MIN))
    expect(run.state.outbox).toEqual([])
  })

  test('the DOWN alert is not counted as sent until a transport took it', () => {
    const down = simulate('FF', { transport: () => ({ ok: false, permanent: false, error: 'timeout' }) })
    expect(down.state.alert_sent).toBe(false)
    expect(down.state.outbox).toHaveLength(1)
    expect(down.state.outbox[0]).toMatchObject({ kind: 'down', attempts: 1, last_error: 'email: timeout', delivered: {} })
    const later = simulate('F', { start: down.state })
    expect(later.state.alert_sent).toBe(true)
  })

  test('alternating F/S for 20 runs → at most 2 notices (one FLAPPING)', () => {
    const run = simulate('FS'.repeat(10))
    expect(run.sent.length).toBeLessThanOrEqual(2)
    expect(kinds(run)).toEqual(['flapping'])
    expect(run.state.flapping).not.toBeNull()
  })

  test('remind 1h over 3h of DOWN → 1 DOWN + 2 reminders (time-based: the same at a 1-minute cadence)', () => {
    const fiveMinutes = simulate('F'.repeat(36), { remindMs: 60 * MIN })
    expect(kinds(fiveMinutes)).toEqual(['down', 'reminder', 'reminder'])
    expect(fiveMinutes.sent.map((n) => n.created_at)).toEqual([at(T0 + 5 * MIN), at(T0 + 65 * MIN), at(T0 + 125 * MIN)])
    const everyMinute = simulate('F'.repeat(180), { remindMs: 60 * MIN, stepMs: MIN })
    expect(kinds(everyMinute)).toEqual(['down', 'reminder', 'reminder'])
  })

  test('no reminders without --remind, and none after the recovery', () => {
    expect(kinds(simulate('F'.repeat(40)))).toEqual(['down'])
    expect(kinds(simulate(`${'F'.repeat(10)}${'S'.repeat(20)}`, { remindMs: 30 * MIN }))).toEqual(['down', 'reminder', 'recovered'])
  })

  test('N=1 sends DOWN on the first failure; N=3 on the third', () => {
    expect(simulate('F', { threshold: 1 }).sent.map((n) => n.created_at)).toEqual([at(T0)])
    expect(simulate('FFF', { threshold: 3 }).sent.map((n) => n.created_at)).toEqual([at(T0 + 10 * MIN)])
    expect(kinds(simulate('FFS', { threshold: 3 }))).toEqual([])
  })
})

describe('incidents', () => {
  test('an incident is the time of its first failing check, with its first reason; PENDING k of N', () => {
    const one = simulate('SF', { threshold: 3 })
    expect(one.state).toMatchObject({ phase: 'pending', consecutive_failures: 1, threshold: 3, last_success: at(T0) })
    expect(one.state.incident).toMatchObject({ id: at(T0 + 5 * MIN), first_status: 'dead', first_reason: 'PID 4242 from gateway.pid is not running', down_at: null })
    const down = simulate('SFFF', { threshold: 3 })
    expect(down.state).toMatchObject({ phase: 'down', alert_sent: true })
    expect(down.state.incident).toMatchObject({ id: at(T0 + 5 * MIN), down_at: at(T0 + 15 * MIN), down_notified_at: at(T0 + 15 * MIN) })
  })

  test('RECOVERED tells the outage from the first failing check and threads under the DOWN', () => {
    const run = simulate('SFFFS')
    const [down, recovered] = run.sent as [Notice, Notice]
    expect(recovered.facts).toMatchObject({ outage: '15m', first_failure: '2026-02-02 10:05:00 UTC', first_reason: 'PID 4242 from gateway.pid is not running' })
    expect(recovered.in_reply_to).toBe(down.id)
    expect(recovered.facts.down_alert).toBe('The DOWN alert went out at 2026-02-02 10:10:00 UTC.')
    expect(run.state).toMatchObject({ phase: 'up', incident: null, alert_sent: false })
    expect(run.state.last_incident).toMatchObject({ id: at(T0 + 5 * MIN), ended_at: at(T0 + 20 * MIN), duration_ms: 15 * MIN })
  })

  test('a recovery while the DOWN is still undelivered → one RECOVERED that says so, not two mails', () => {
    const run = simulate('FFS', { transport: (i) => (i < 2 ? { ok: false, permanent: false, error: 'connection refused' } : { ok: true }) })
    expect(kinds(run)).toEqual(['recovered'])
    expect(run.sent[0]!.facts.down_alert).toBe('The DOWN alert could not be delivered (email: connection refused).')
    expect(run.sent[0]!.in_reply_to).toBeNull()
  })

  test('Message-IDs are unique per notice and stable per incident', () => {
    const run = simulate('FFFFFFFFSFFFS', { remindMs: 10 * MIN })
    const ids = run.sent.map((n) => n.id)
    expect(new Set(ids).size).toBe(ids.length)
    expect(ids[0]).toBe('down.20260202T100000000Z')
    expect(ids).toContain('reminder.20260202T100000000Z.1')
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9._-]+$/)
  })
})

describe('delivery failures', () => {
  test('a permanent failure is not retried until the alert settings change', () => {
    const start = retryAfterSettingsChange(upgradeState(null, 2, T0), 'a')
    let state = simulate('FF', { start, transport: () => ({ ok: false, permanent: true, error: 'EAUTH: 535 bad password' }) }).state
    state = retryAfterSettingsChange(state, 'a')
    expect(dueNotices(state, CHANNELS)).toEqual([])
    state = simulate('F', { start: state, transport: () => ({ ok: true }) }).state
    expect(state.outbox).toHaveLength(1)
    expect(state.outbox[0]!.failed).toEqual({ email: 'EAUTH: 535 bad password' })
    state = retryAfterSettingsChange(state, 'b')
    expect(dueNotices(state, CHANNELS).map((n) => n.kind)).toEqual(['down'])
    expect(retryAfterSettingsChange(state, 'b')).toBe(state)
  })

  test('with two channels a notice leaves the outbox once each took it or refused it for good', () => {
    let state = simulate('FF', { transport: () => ({ ok: true }) }).state
    state = decide(state, record('healthy', T0 + 10 * MIN), T0 + 10 * MIN, OPTIONS).state
    const recovered = state.outbox[0]!
    state = recordDelivery(state, recovered.id, 'email', { ok: true }, T0)
    expect(settleOutbox(state, ['email', 'webhook']).state.outbox).toHaveLength(1)
    state = recordDelivery(state, recovered.id, 'webhook', { ok: false, permanent: true, error: '401' }, T0)
    expect(settleOutbox(state, ['email', 'webhook']).state.outbox).toHaveLength(0)
  })

  test('the outbox never holds more than 10 notices', () => {
    const run = simulate('FFS'.repeat(30) + 'FF', { transport: () => ({ ok: false, permanent: false, error: 'down' }) })
    expect(run.state.outbox.length).toBeLessThanOrEqual(10)
  })
})

describe('flapping', () => {
  test('flips are weighted towards the newest', () => {
    expect(flipsOf('')).toEqual({ changes: 0, weight: 0 })
    expect(flipsOf('SSSS')).toEqual({ changes: 0, weight: 0 })
    expect(flipsOf('FSFS')).toMatchObject({ changes: 3, weight: 3 / 9 })
    expect(flipsOf('FS'.repeat(10))).toMatchObject({ changes: 19, weight: 1 })
    expect(flipsOf('FSSSSSSSSS').weight).toBeLessThan(flipsOf('SSSSSSSSFS').weight)
  })

  test('a single blip or a long incident is not flapping', () => {
    expect(simulate('SSSSSSSSSFSSSSSSSSSSS').state.flapping).toBeNull()
    expect(simulate('SSSSFFFFFFFFSSSSSSSS').state.flapping).toBeNull()
  })

  test('down-up-down-up with N=2: two incidents told, then FLAPPING instead of a stream', () => {
    const run = simulate('FFSS'.repeat(10))
    expect(kinds(run)).toEqual(['down', 'recovered', 'down', 'recovered', 'flapping'])
  })

  test('flapping ends after 10 stable checks: healthy → one RECOVERED "stable again"', () => {
    const run = simulate(`${'FS'.repeat(6)}${'S'.repeat(10)}`)
    expect(kinds(run)).toEqual(['flapping', 'recovered'])
    expect(run.sent[1]!.facts.subject_note).toBe(' (stable again)')
    expect(run.sent[1]!.in_reply_to).toBe(run.sent[0]!.id)
    expect(run.state.flapping).toBeNull()
  })

  test('flapping ends after 10 stable checks: failing → one DOWN', () => {
    const run = simulate(`${'FS'.repeat(6)}${'F'.repeat(10)}`)
    expect(kinds(run)).toEqual(['flapping', 'down'])
    expect(run.state.phase).toBe('down')
  })
})

describe('restarts', () => {
  const restartOptions: Partial<DecideOptions> = { restart: { enabled: true, unhealthy: false } }
  const attempt = (n: number, now: number, result: HealthStatus, exit = 0): RestartAttempt => ({
    attempt: n, at: at(now), command: 'openclaw gateway restart', user: null, exit_code: exit, signal: null, error: null, duration_ms: 40, output: '', result,
  })

  test('asked for when DOWN as dead or stopped; for unhealthy only with --restart-unhealthy', () => {
    const start = simulate('F', restartOptions).state
    const now = T0 + 5 * MIN
    expect(decide(start, record('dead', now), now, { ...OPTIONS, ...restartOptions }).restart).toEqual({ attempt: 1, max: 3 })
    expect(decide(start, record('stopped', now), now, { ...OPTIONS, ...restartOptions }).restart).toEqual({ attempt: 1, max: 3 })
    expect(decide(start, record('unhealthy', now), now, { ...OPTIONS, ...restartOptions }).restart).toBeNull()
    expect(decide(start, record('unhealthy', now), now, { ...OPTIONS, restart: { enabled: true, unhealthy: true } }).restart).toEqual({ attempt: 1, max: 3 })
    expect(decide(start, record('dead', now), now, OPTIONS).restart).toBeNull()
    // PENDING is not DOWN: no restart yet
    expect(decide(upgradeState(null, 2, T0), record('dead', T0), T0, { ...OPTIONS, ...restartOptions }).restart).toBeNull()
  })

  test('a restart that works: one RECOVERED that tells of it, no DOWN mail', () => {
    const opts = { ...OPTIONS, ...restartOptions }
    let state = simulate('F', restartOptions).state
    const now = T0 + 5 * MIN
    const first = decide(state, record('dead', now), now, opts)
    expect(first.restart).toEqual({ attempt: 1, max: 3 })
    state = recordRestart(first.state, attempt(1, now, 'healthy'))
    expect(state.outbox[0]!.facts.restart_note).toContain('Automatic restart 1 of 3')
    const second = decide(state, record('healthy', now + 2000), now + 2000, opts)
    expect(second.restart).toBeNull()
    expect(second.state.outbox.map((n) => n.kind)).toEqual(['recovered'])
    expect(second.dropped.map((n) => n.kind)).toEqual(['down'])
    const recovered = second.state.outbox[0]!
    expect(recovered.facts.restart_note).toBe('Automatic restart 1 of 3 at 2026-02-02 10:05:00 UTC: openclaw gateway restart (exit 0); the check after it found the gateway back and ready.')
    expect(recovered.facts.down_alert).toBe('No DOWN alert went out: the molt was back before one was sent.')
  })

  test('"exit 0" is not a restart: the check after it decides what the notice says', () => {
    const opts = { ...OPTIONS, ...restartOptions }
    const state = simulate('F', restartOptions).state
    const now = T0 + 5 * MIN
    const first = decide(state, record('stopped', now), now, opts)
    const nothing = recordRestart(first.state, attempt(1, now, 'stopped', 0))
    expect(nothing.outbox[0]!.facts.restart_note).toContain('(exit 0); the check after it still found it stopped: the command restarted nothing')
    const back = recordRestart(first.state, attempt(1, now, 'starting', 0))
    expect(back.outbox[0]!.facts.restart_note).toContain('(exit 0); the check after it found a new gateway starting (not ready yet).')
    const failed = recordRestart(first.state, attempt(1, now, 'dead', 3))
    expect(failed.outbox[0]!.facts.restart_note).toContain('(exit 3); the check after it still found it dead.')
  })

  test('at most one attempt per 5 minutes and 3 per incident; then "recovery failed after 3 attempts"', () => {
    const opts = { ...OPTIONS, ...restartOptions }
    let state = upgradeState(null, 2, T0)
    const asked: number[] = []
    const kindsQueued: string[] = []
    for (let minute = 0; minute <= 40; minute++) {
      const now = T0 + minute * MIN
      let d = decide(state, record('dead', now), now, opts)
      kindsQueued.push(...d.queued.map((n) => n.kind))
      state = d.state
      if (d.restart) {
        asked.push(minute)
        state = recordRestart(state, attempt(d.restart.attempt, now, 'dead', 1))
        d = decide(state, record('dead', now + 1000), now + 1000, opts)
        kindsQueued.push(...d.queued.map((n) => n.kind))
        state = d.state
      }
      state = settleOutbox(state, ['stderr']).state
    }
    expect(asked).toEqual([1, 6, 11])
    expect(kindsQueued).toEqual(['down', 'restart-failed'])
    expect(state.incident!.restarts).toHaveLength(3)
    expect(state.outbox.find((n) => n.kind === 'restart-failed')!.facts.restart_note).toEndWith('Recovery failed after 3 attempts.')
  })

  test('the spacing also holds across incidents; a new incident gets 3 new attempts', () => {
    const opts = { ...OPTIONS, threshold: 1, ...restartOptions }
    let state = upgradeState(null, 1, T0)
    const d1 = decide(state, record('dead', T0), T0, opts)
    state = decide(recordRestart(d1.state, attempt(1, T0, 'healthy')), record('healthy', T0 + 1000), T0 + 1000, opts).state
    expect(decide(state, record('dead', T0 + 2 * MIN), T0 + 2 * MIN, opts).restart).toBeNull()
    expect(decide(state, record('dead', T0 + 5 * MIN), T0 + 5 * MIN, opts).restart).toEqual({ attempt: 1, max: 3 })
  })
})

describe('legacy state of the bash toolkit', () => {
  const legacy = (fields: Partial<StoredState>): StoredState => ({ consecutive_failures: 0, last_check: null, last_status: null, last_success: null, alert_sent: false, interval_minutes: null, ...fields })

  test('alert already sent: no second DOWN, and RECOVERED when healthy', () => {
    const start = upgradeState(legacy({ consecutive_failures: 3, alert_sent: true, last_check: '2026-02-02T09:50:00Z', last_status: 'dead' }), 2, T0)
    expect(start).toMatchObject({ version: 2, phase: 'down', alert_sent: true })
    expect(start.incident).toMatchObject({ id: '2026-02-02T09:50:00.000Z', estimated: true, down_notice: 'legacy' })
    const run = simulate('FFS', { start })
    expect(kinds(run)).toEqual(['recovered'])
    expect(run.sent[0]!.facts.first_failure).toBe('2026-02-02 09:50:00 UTC (estimated)')
    expect(run.sent[0]!.in_reply_to).toBeNull()
  })

  test('failures counted but no alert sent (alert_sent 0, or the invalid empty value): DOWN on the next failure', () => {
    const start = upgradeState(legacy({ consecutive_failures: 3, alert_sent: false, last_success: null }), 2, T0)
    expect(kinds(simulate('F', { start }))).toEqual(['down'])
  })

  test('a healthy legacy state carries its last success on', () => {
    const start = upgradeState(legacy({ last_success: '2026-02-01T00:00:00Z' }), 2, T0)
    expect(start).toMatchObject({ phase: 'up', incident: null, last_success: '2026-02-01T00:00:00Z', recent: 'S' })
    expect(kinds(simulate('FS', { start }))).toEqual([])
  })
})

describe('starting: a gateway within its start-up grace', () => {
  test('neither a failure nor a recovery: the count, the incident and the flap window hold', () => {
    const pending = simulate('F').state
    const now = T0 + 5 * MIN
    const held = decide(pending, record('starting', now), now, OPTIONS)
    expect(held.queued).toEqual([])
    expect(held.restart).toBeNull()
    expect(held.state).toMatchObject({ phase: 'pending', consecutive_failures: 1, recent: pending.recent, last_status: 'starting', last_check: at(now) })
    expect(held.state.incident).toEqual(pending.incident)
    // the next real failure is the N-th: DOWN, as if the starting check had not been there
    const next = decide(held.state, record('dead', now + 5 * MIN), now + 5 * MIN, OPTIONS)
    expect(next.queued.map((n) => n.kind)).toEqual(['down'])
  })

  test('a DOWN molt that is starting again is not RECOVERED until it is ready, and is not restarted', () => {
    const opts = { ...OPTIONS, restart: { enabled: true, unhealthy: true } }
    const down = simulate('FF').state
    const now = T0 + 10 * MIN
    const starting = decide(down, record('starting', now), now, opts)
    expect(starting.queued).toEqual([])
    expect(starting.restart).toBeNull()
    expect(starting.state.phase).toBe('down')
    expect(decide(starting.state, record('healthy', now + MIN), now + MIN, opts).queued.map((n) => n.kind)).toEqual(['recovered'])
  })

  test('starting for longer than the grace across checks (a restart loop, young at every check) is a failure', () => {
    const opts = { ...OPTIONS, startupGraceMs: 2 * MIN }
    let state = upgradeState(null, 2, T0)
    const kinds: string[] = []
    for (let run = 0; run < 4; run++) {
      const now = T0 + run * MIN
      const d = decide(state, record('starting', now), now, opts)
      state = d.state
      kinds.push(...d.queued.map((n) => n.kind))
    }
    // 0, 1 min: within the grace; 2 min: the first failure; 3 min: the second, DOWN
    expect(kinds).toEqual(['down'])
    expect(state.phase).toBe('down')
    expect(state.incident!.first_reason).toMatch(/^not ready for 2m, longer than the 2m start-up grace \(restarting again and again\?\): it is starting$/)
    // a check that is not starting ends the run of starting checks
    const ready = decide(state, record('healthy', T0 + 5 * MIN), T0 + 5 * MIN, opts)
    expect(ready.state.starting_since).toBeNull()
    expect(ready.queued.map((n) => n.kind)).toEqual(['recovered'])
  })
})
