import { describe, expect, test } from 'bun:test'
import { toRecord } from '../../src/health/record.ts'
import { legacyBoolean, legacyHttpStatus, legacyNumber, parseLegacyJson } from '../../src/lib/legacy.ts'

describe('values written by the bash toolkit', () => {
  test.each([
    [1234, 1234],
    ['1234', 1234],
    [' 12.5 ', 12.5],
    ['null', null],
    ['', null],
    [null, null],
    [undefined, null],
    ['abc', null],
    ['12abc', null],
    [Number.NaN, null],
    [true, null],
  ])('legacyNumber(%p) = %p', (input, expected) => expect(legacyNumber(input)).toBe(expected))

  test.each([
    [200, 200],
    ['200', 200],
    ['000', null],
    ['000000', null],
    ['null', null],
    [0, null],
    ['999', null],
  ])('legacyHttpStatus(%p) = %p', (input, expected) => expect(legacyHttpStatus(input)).toBe(expected))

  test.each([
    [true, true],
    [0, false],
    [1, true],
    ['true', true],
    ['0', false],
    [null, false],
  ])('legacyBoolean(%p) = %p', (input, expected) => expect(legacyBoolean(input)).toBe(expected))

  test('empty JSON values become null; valid JSON is unchanged', () => {
    expect(parseLegacyJson('{"alert_sent": ,"a": 1, "b":}')).toEqual({ alert_sent: null, a: 1, b: null })
    expect(parseLegacyJson('{"a": "x: ,", "alert_sent": , "c": "\\": }"}')).toEqual({ a: 'x: ,', alert_sent: null, c: '": }' })
    const valid = '{"a": "x: ,", "b": [1, 2], "c": {"d": null}}'
    expect(parseLegacyJson(valid)).toEqual(JSON.parse(valid))
    expect(() => parseLegacyJson('{"a": 1')).toThrow()
  })
})

describe('health records', () => {
  test('a clean record passes through untouched', () => {
    const record = { timestamp: '2026-11-21T00:00:00.000Z', status: 'healthy' as const, pid: 10, port: 19001, http_status: 200, response_time_ms: 1.5, reason: null }
    expect(toRecord(record)).toEqual({ record, legacy: false })
  })

  test('a bash-toolkit record is coerced to real types', () => {
    const parsed = toRecord({ last_check: '2026-02-02T10:30:00Z', status: 'Unhealthy', pid: '1234', port: '19001', http_status: '000000', response_time_ms: 'null' })
    expect(parsed?.legacy).toBe(true)
    expect(parsed?.record).toMatchObject({ timestamp: '2026-02-02T10:30:00Z', status: 'unhealthy', pid: 1234, port: 19001, http_status: null, response_time_ms: null })
  })

  test.each([
    ['no timestamp', { status: 'healthy' }],
    ['unparseable timestamp', { timestamp: 'yesterday', status: 'healthy' }],
    ['not an object', 42],
    ['null', null],
  ])('not a record: %s', (_label, raw) => expect(toRecord(raw)).toBeNull())

  test('an unknown status word reads as unknown, out-of-range numbers as null', () => {
    expect(toRecord({ timestamp: '2026-02-02T10:30:00Z', status: 'exploded', pid: '-5', port: '70000', http_status: '200', response_time_ms: '-1' })?.record).toMatchObject({
      status: 'unknown',
      pid: null,
      port: null,
      http_status: 200,
      response_time_ms: null,
    })
  })
})
