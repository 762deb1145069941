import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { watchLogFile, watchStateFile } from '../../src/health/paths.ts'
import type { HealthRecord } from '../../src/health/record.ts'
import { decide, recordDelivery, recordRestart, upgradeState, type WatchFile } from '../../src/health/watch.ts'
import { appendWatchLog, logLine } from '../../src/health/watch-log.ts'
import { isQuietWatchState, readWatchState, watchStateSchema, writeWatchState } from '../../src/health/watch-state.ts'
import { LEGACY_WATCH_STATE_INVALID, removeDir, tempDir, writeState } from '../helpers/fleet.ts'

let home: string
beforeEach(() => {
  home = tempDir()
})
afterEach(() => removeDir(home))

const T0 = Date.parse('2026-02-02T10:00:00.000Z')
const check = (status: HealthRecord['status'], now: number): HealthRecord => ({
  timestamp: new Date(now).toISOString(), molt: 'mybot', status, pid: 7, port: 19001,
  http_status: status === 'healthy' ? 200 : null, response_time_ms: status === 'healthy' ? 1.5 : null, reason: status === 'healthy' ? null : 'gone',
})
const options = { threshold: 2, remindMs: 3_600_000, restart: { enabled: true, unhealthy: false } }

/** A state with everything in it: an incident with a restart, a flapping episode's notice, a waiting DOWN. */
function busyState(): WatchFile {
  let state = upgradeState(null, 2, T0)
  for (let i = 0; i < 5; i++) state = decide(state, check(i % 2 ? 'healthy' : 'dead', T0 + i * 300_000), T0 + i * 300_000, options).state
  for (let i = 5; i < 8; i++) state = decide(state, check('dead', T0 + i * 300_000), T0 + i * 300_000, options).state
  state = recordRestart(state, { attempt: 1, at: new Date(T0).toISOString(), command: 'openclaw gateway restart', user: 'mybot', exit_code: 1, signal: null, error: null, duration_ms: 12, output: 'no such service', result: 'dead' })
  state = recordDelivery(state, state.outbox[0]!.id, 'email', { ok: false, permanent: false, error: 'msmtp exit 75' }, T0)
  return state
}

describe('reading', () => {
  test.each([
    ['the invalid `"alert_sent": ,`', LEGACY_WATCH_STATE_INVALID, { consecutive_failures: 3, last_success: null, alert_sent: false, last_check: '2026-02-02T10:30:00Z' }],
    ['"last_success": "null" and "alert_sent": 0', '{"consecutive_failures": 0, "last_success": "null", "alert_sent": 0}', { consecutive_failures: 0, last_success: null, alert_sent: false }],
    ['"alert_sent": 1 and numbers as strings', '{"consecutive_failures": "5", "last_success": "2026-02-01T00:00:00Z", "alert_sent": 1, "interval_minutes": "10"}', { consecutive_failures: 5, alert_sent: true, interval_minutes: 10 }],
  ])('bash toolkit state: %s', (_, text, expected) => {
    writeState(home, 'health-watch-state.json', text)
    const read = readWatchState(home)
    expect(read.warning).toBeUndefined()
    expect(read.state).toMatchObject(expected)
    expect(read.state?.version).toBeUndefined()
  })

  test('what the watch writes reads back identical, busy or quiet', () => {
    const busy = busyState()
    expect(busy.incident?.restarts).toHaveLength(1)
    expect(busy.outbox.length).toBeGreaterThan(0)
    writeWatchState(home, busy)
    expect(isQuietWatchState(JSON.parse(readFileSync(watchStateFile(home), 'utf8')))).toBe(false)
    expect(readWatchState(home).state).toEqual(busy as never)

    const quiet = decide(upgradeState(null, 2, T0), check('healthy', T0), T0, options).state
    writeWatchState(home, quiet)
    const raw = JSON.parse(readFileSync(watchStateFile(home), 'utf8'))
    expect(isQuietWatchState(raw)).toBe(true)
    // the fast path and the schema agree
    expect(watchStateSchema().parse(raw)).toEqual(raw)
    expect(Object.keys(raw).slice(0, 3)).toEqual(['version', 'consecutive_failures', 'last_check'])
  })

  test('a damaged part is dropped, the rest carried on', () => {
    const busy = busyState()
    const damaged = { ...busy, incident: 'garbage', outbox: [...busy.outbox, { id: 'bad id with spaces', kind: 'down' }, 42], recent: 'XYZ', flapping: { since: 'never' } }
    writeState(home, 'health-watch-state.json', damaged)
    const state = readWatchState(home).state!
    expect(state.incident).toBeNull()
    expect(state.outbox).toEqual(busy.outbox as never)
    expect(state.recent).toBeUndefined()
    expect(state.flapping).toBeNull()
    expect(state.consecutive_failures).toBe(busy.consecutive_failures)
    // and the watch fills the holes
    const upgraded = upgradeState(state as never, 2, T0)
    expect(upgraded.recent).toBe('')
  })

  test('corrupt JSON is a warning and no state', () => {
    writeState(home, 'health-watch-state.json', '{"consecutive_failures": 2, "las')
    expect(readWatchState(home)).toEqual({ state: null, warning: expect.stringContaining('not valid JSON') })
  })
})

describe('health.log', () => {
  test('one line per call; control characters cannot split it', () => {
    appendWatchLog(home, logLine('2026-02-02T10:00:00.000Z', 'watch a: DOWN dead (evil\nfake line\r\x1b[31m)'))
    expect(readFileSync(watchLogFile(home), 'utf8')).toBe('2026-02-02T10:00:00.000Z watch a: DOWN dead (evil fake line [31m)\n')
  })

  test('rotated by size, keeping 3: health.log → .1 → .2 → .3', () => {
    const line = `${'x'.repeat(99)}\n`
    for (let i = 0; i < 50; i++) appendWatchLog(home, line, { rotate: true, maxBytes: 1000, keep: 3 })
    const path = watchLogFile(home)
    expect(readFileSync(path, 'utf8').length).toBeLessThanOrEqual(1000)
    for (const n of [1, 2, 3]) expect(readFileSync(`${path}.${n}`, 'utf8')).toBe(line.repeat(10))
    expect(existsSync(`${path}.4`)).toBe(false)
  })

  test('a run that does not hold the lock never rotates', () => {
    const path = watchLogFile(home)
    writeState(home, 'health.log', 'x'.repeat(2000))
    appendWatchLog(home, 'skipped\n', { maxBytes: 1000 })
    expect(existsSync(`${path}.1`)).toBe(false)
    writeFileSync(path, '')
  })
})

test('a legacy state file upgraded carries the alert on (no second DOWN)', () => {
  writeState(home, 'health-watch-state.json', { consecutive_failures: '4', last_success: 'null', alert_sent: 1, last_check: '2026-02-02T09:00:00Z', last_status: 'dead' })
  const state = upgradeState(readWatchState(home).state, 2, T0)
  expect(state.incident).toMatchObject({ down_notice: 'legacy', estimated: true })
  const quiet = { ...options, remindMs: null }
  const next = decide(state, check('dead', T0), T0, quiet)
  expect(next.queued).toEqual([])
  // with --remind the hour since the bash toolkit's alert counts
  expect(decide(state, check('dead', T0), T0, options).queued.map((n) => n.kind)).toEqual(['reminder'])
  expect(decide(next.state, check('healthy', T0 + 1), T0 + 1, quiet).queued.map((n) => n.kind)).toEqual(['recovered'])
})
