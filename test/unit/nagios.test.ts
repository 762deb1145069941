import { expect, test } from 'bun:test'
import { nagiosForFleet, nagiosForMolt, nagiosUnknown } from '../../src/health/nagios.ts'
import type { HealthRecord } from '../../src/health/record.ts'

const record = (molt: string, status: HealthRecord['status'], response_time_ms: number | null, reason: string | null = null): HealthRecord => ({
  timestamp: '2026-02-02T10:30:00Z',
  molt,
  status,
  pid: 1,
  port: 19001,
  http_status: status === 'healthy' ? 200 : null,
  response_time_ms,
  reason,
})

test.each([
  [record('mybot', 'healthy', 12), 0, "CLMNT OK - mybot healthy, 12 ms | 'response_time'=0.012s;;;0"],
  [record('mybot', 'healthy', 3.4), 0, "CLMNT OK - mybot healthy, 3.4 ms | 'response_time'=0.0034s;;;0"],
  [record('mybot', 'unhealthy', 8, 'HTTP 500'), 1, "CLMNT WARNING - mybot unhealthy, HTTP 500 | 'response_time'=0.008s;;;0"],
  [record('mybot', 'unhealthy', null, 'no answer within 5000 ms'), 1, 'CLMNT WARNING - mybot unhealthy, no answer within 5000 ms'],
  [record('mybot', 'dead', null, 'PID 42 from gateway.pid is not running'), 2, 'CLMNT CRITICAL - mybot dead, PID 42 from gateway.pid is not running'],
  [record('mybot', 'stopped', null, 'no gateway.pid and no gateway process'), 2, 'CLMNT CRITICAL - mybot stopped, no gateway.pid and no gateway process'],
  [record('mybot', 'unknown', null, 'port unknown'), 3, 'CLMNT UNKNOWN - mybot unknown, port unknown'],
])('%#: one plugin line and its exit code', (r, code, line) => {
  expect(nagiosForMolt(r)).toEqual({ code: code as 0, line: `${line}\n` })
})

test('the text can break neither the perfdata (|) nor the single line', () => {
  const { line } = nagiosForMolt(record('mybot', 'unhealthy', 5, 'bad | answer\nsecond line'))
  expect(line).toBe("CLMNT WARNING - mybot unhealthy, bad / answer second line | 'response_time'=0.005s;;;0\n")
  expect(line.split('|').length).toBe(2)
})

test('--all: the worst state wins (CRITICAL > WARNING > UNKNOWN > OK), perfdata per molt', () => {
  const ok = record('a', 'healthy', 10)
  expect(nagiosForFleet([ok, record('b', 'healthy', 20)])).toEqual({ code: 0, line: "CLMNT OK - 2/2 molts healthy | 'healthy'=2;;;0;2 'a_response_time'=0.01s;;;0 'b_response_time'=0.02s;;;0\n" })
  expect(nagiosForFleet([ok, record('u', 'unknown', null, 'port unknown')]).code).toBe(3)
  expect(nagiosForFleet([ok, record('u', 'unknown', null), record('w', 'unhealthy', 5, 'HTTP 503')]).code).toBe(1)
  const worst = nagiosForFleet([ok, record('w', 'unhealthy', 5, 'HTTP 503'), record('d', 'dead', null, 'stale PID')])
  expect(worst).toEqual({ code: 2, line: "CLMNT CRITICAL - 1/3 molts healthy; w unhealthy (HTTP 503), d dead (stale PID) | 'healthy'=1;;;0;3 'a_response_time'=0.01s;;;0 'w_response_time'=0.005s;;;0\n" })
  expect(nagiosForFleet([])).toEqual({ code: 3, line: 'CLMNT UNKNOWN - no molts found\n' })
})

test('could not check: UNKNOWN', () => {
  expect(nagiosUnknown('unknown molt "x"')).toEqual({ code: 3, line: 'CLMNT UNKNOWN - unknown molt "x"\n' })
})
