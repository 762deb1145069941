import { describe, expect, test } from 'bun:test'
import { durationOption, formatAgo, formatDuration, parseDuration, parseSince, unitDuration } from '../../src/lib/duration.ts'
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
    // the second unit is the next smaller one or none: 3h 0m 1s is "3h", not "3h 1s"
    [10_801_000, '3h'],
    [86_460_000, '1d'],
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

describe('one unit style for every time option', () => {
  test.each([
    ['500ms', 'ms', 500],
    ['5s', 'ms', 5000],
    ['1m', 'ms', 60_000],
    ['2000', 'ms', 2000], // bare numbers keep their old unit: crontab lines written before units still run
    ['5', 'm', 300_000],
    ['5m', 'm', 300_000],
    ['1h', 'm', 3_600_000],
  ] as const)('%p (bare: %p) → %p ms', (text, bare, ms) => {
    expect(durationOption(text, '--x', { bare, min: 1, max: 86_400_000 })).toBe(ms)
  })
  test.each([
    ['0', 'expected a duration like 500ms, 5s or 1m, from 1ms to 10m'],
    ['11m', 'from 1ms to 10m'],
    ['5 s', 'expected a duration'],
    ['-1', 'expected a duration'],
    ['1.5s', 'expected a duration'],
  ])('%p is refused', (text, message) => {
    expect(() => durationOption(text, '--timeout', { bare: 'ms', min: 1, max: 600_000 })).toThrow(message)
  })
  test('whole minutes where a schedule needs them', () => {
    expect(() => durationOption('90s', '--interval', { bare: 'm', min: 60_000, max: 86_400_000, whole: 'm' })).toThrow('expected whole minutes, like 5m or 1h')
    expect(unitDuration(600_000)).toBe('10m')
    expect(unitDuration(1)).toBe('1ms')
    expect(parseDuration('250ms')).toBe(250)
  })
})

test('zero where the range starts at zero (an --offset), and only there', () => {
  expect(durationOption('0m', '--offset', { bare: 'm', min: 0, max: 240_000, whole: 'm' })).toBe(0)
  expect(durationOption('3m', '--offset', { bare: 'm', min: 0, max: 240_000, whole: 'm' })).toBe(180_000)
  expect(() => durationOption('5m', '--offset', { bare: 'm', min: 0, max: 240_000, whole: 'm' })).toThrow('from 0 to 4m')
  expect(() => durationOption('0s', '--timeout', { bare: 'ms', min: 1, max: 600_000 })).toThrow('expected a duration')
})
