import { describe, expect, test } from 'bun:test'
import { formatAgo, formatDuration, parseDuration, parseSince } from '../../src/lib/duration.ts'
import { UsageError } from '../../src/lib/errors.ts'
import { intOption } from '../../src/lib/numbers.ts'

describe('durations', () => {
  test.each([
    ['90d', 90 * 86_400_000],
    ['24h', 86_400_000],
    ['30m', 1_800_000],
    ['45s', 45_000],
    ['2w', 14 * 86_400_000],
    ['0d', null],
    ['7', null],
    ['d', null],
    ['-1h', null],
    ['1.5h', null],
    ['1 h', null],
  ])('parseDuration(%p) = %p', (text, ms) => expect(parseDuration(text)).toBe(ms))

  test('since: a duration back from now, or an ISO time', () => {
    const now = Date.parse('2026-11-21T00:00:00Z')
    expect(parseSince('24h', '--since', now)).toBe(now - 86_400_000)
    expect(parseSince('2026-11-01T00:00:00Z', '--since', now)).toBe(Date.parse('2026-11-01T00:00:00Z'))
    expect(() => parseSince('last week', '--since', now)).toThrow(UsageError)
  })

  test.each([
    [0, '0s'],
    [95_000, '1m 35s'],
    [3_600_000, '1h'],
    [90_061_000, '1d 1h'],
  ])('formatDuration(%p) = %p', (ms, text) => expect(formatDuration(ms)).toBe(text))

  test('formatAgo', () => {
    expect(formatAgo(1000, 181_000)).toBe('3m ago')
    expect(formatAgo(Number.NaN)).toBe('at an unreadable time')
  })
})

describe('whole-number options', () => {
  test.each(['abc', '-1', '1.5', '', ' ', '0x10', '1e3'])('rejects %p', (value) => {
    expect(() => intOption(value, '--limit', { min: 1, max: 100 })).toThrow(UsageError)
  })
  test('range is checked', () => {
    expect(() => intOption('101', '--limit', { min: 1, max: 100 })).toThrow('from 1 to 100')
    expect(intOption('100', '--limit', { min: 1, max: 100 })).toBe(100)
    expect(intOption(undefined, '--limit', { min: 1, max: 100 })).toBeUndefined()
  })
})
