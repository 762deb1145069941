import { describe, expect, test } from 'bun:test'
import { CronExpressionParser } from 'cron-parser'
import { checkCronExpression, cronField, describeSchedule, exactnessNote, nextRuns, onCalendar, planSchedule } from '../../src/schedule/cron-expr.ts'
import { defaultOffset } from '../../src/schedule/plan.ts'

const MINUTE = 60_000
const DAY = 1440

/** Every time any expression fires in [start, end), by cron-parser: what cron would do. */
function runTimes(expressions: string[], start: Date, end: Date): number[] {
  const times = new Set<number>()
  for (const expression of expressions) {
    const it = CronExpressionParser.parse(expression, { currentDate: new Date(start.getTime() - 1000) })
    for (let t = it.next().getTime(); t < end.getTime(); t = it.next().getTime()) times.add(t)
  }
  return [...times].sort((a, b) => a - b)
}

// mid-June: no daylight-saving change in either hemisphere, so every day has 1440 minutes
const START = new Date(2026, 5, 15, 0, 0)
const DAYS = 3
const END = new Date(2026, 5, 15 + DAYS, 0, 0)
const minuteOfDay = (t: number) => new Date(t).getHours() * 60 + new Date(t).getMinutes()

describe('planSchedule runs at the stated interval (checked with cron-parser over three days)', () => {
  test.each<[number, number]>([
    [1, 0], [5, 0], [5, 3], [5, 4], [7, 0], [7, 3], [7, 6], [13, 5], [15, 0], [15, 14], [45, 20],
    [60, 0], [60, 17], [90, 0], [90, 45], [100, 99], [180, 0], [180, 121], [720, 30], [1439, 1000], [1440, 0], [1440, 197],
  ])('every %i min, offset %i', (interval, offset) => {
    const plan = planSchedule(interval, offset)
    for (const expression of plan.expressions) expect(checkCronExpression(expression)).toBeNull()
    // hours that need the same minutes share a line: never more lines than hours
    expect(plan.expressions.length).toBeLessThanOrEqual(24)
    const runs = runTimes(plan.expressions, START, END)
    expect(runs.length).toBe(plan.runsPerDay * DAYS)
    expect(minuteOfDay(runs[0]!)).toBe(offset)
    const gaps = runs.slice(1).map((t, i) => (t - runs[i]!) / MINUTE)
    if (DAY % interval === 0) {
      // exact: every gap, across midnight too
      expect(plan.exact).toBe(true)
      expect(new Set(gaps)).toEqual(new Set([interval]))
      expect(exactnessNote(plan)).toBeNull()
    } else {
      // exact within each day; the cycle restarts at the offset every midnight
      expect(plan.exact).toBe(false)
      runs.slice(1).forEach((t, i) => {
        const crossesMidnight = new Date(t).getDate() !== new Date(runs[i]!).getDate()
        expect(gaps[i]).toBe(crossesMidnight ? plan.midnightGap : interval)
      })
      expect(plan.midnightGap).toBeLessThan(2 * interval)
      expect(exactnessNote(plan)).toContain(`gap across midnight is ${plan.midnightGap} minutes`)
    }
  })

  test('the expressions operators expect for simple intervals', () => {
    expect(planSchedule(1, 0).expressions).toEqual(['* * * * *'])
    expect(planSchedule(5, 0).expressions).toEqual(['*/5 * * * *'])
    expect(planSchedule(5, 3).expressions).toEqual(['3-59/5 * * * *'])
    expect(planSchedule(30, 10).expressions).toEqual(['10,40 * * * *'])
    expect(planSchedule(60, 17).expressions).toEqual(['17 * * * *'])
    expect(planSchedule(90, 0).expressions).toEqual(['0 */3 * * *', '30 1-23/3 * * *'])
    expect(planSchedule(180, 121).expressions).toEqual(['1 2-23/3 * * *'])
    expect(planSchedule(1440, 197).expressions).toEqual(['17 3 * * *'])
    expect(planSchedule(7, 0).expressions).toHaveLength(7)
  })

  test('7 minutes: one 5-minute gap at midnight for small offsets, a 12-minute one for large', () => {
    expect(planSchedule(7, 0)).toMatchObject({ runsPerDay: 206, midnightGap: 5 })
    expect(planSchedule(7, 6)).toMatchObject({ runsPerDay: 205, midnightGap: 12 })
  })

  test('out-of-range values are programming errors here (the command validates first)', () => {
    expect(() => planSchedule(0, 0)).toThrow(RangeError)
    expect(() => planSchedule(1441, 0)).toThrow(RangeError)
    expect(() => planSchedule(5, 5)).toThrow(RangeError)
    expect(() => planSchedule(5, -1)).toThrow(RangeError)
    expect(() => planSchedule(2.5, 0)).toThrow(RangeError)
  })
})

describe('checkCronExpression: exactly five plain fields', () => {
  test.each([
    ['*/5 * * * *', true],
    ['3-59/5 1,4,7 * * *', true],
    ['', false],
    ['   ', false],
    ['* * * *', false], // cron-parser alone accepts this
    ['0 */5 * * * *', false], // cron-parser reads six fields as seconds first
    ['* * * * mon', false], // names: not ours, and easy to get wrong
    ['60 * * * *', false],
    ['* 24 * * *', false],
    ['*/0 * * * *', false],
    ['@hourly', false],
    ['* * * * * echo', false],
  ])('%p → valid %p', (expression, valid) => {
    expect(checkCronExpression(expression) === null).toBe(valid)
  })
})

describe('fields', () => {
  test.each<[number[], string]>([
    [Array.from({ length: 60 }, (_, i) => i), '*'],
    [[0, 15, 30, 45], '*/15'],
    [[3, 8, 13, 18, 23, 28, 33, 38, 43, 48, 53, 58], '3-59/5'],
    [[0, 10, 20], '0-20/10'],
    [[10, 40], '10,40'],
    [[7], '7'],
    [[1, 2, 4], '1,2,4'],
  ])('%p → %p', (values, field) => {
    expect(cronField(values, 0, 59)).toBe(field)
  })

  test('systemd OnCalendar for the same slots', () => {
    expect(planSchedule(5, 3).slots.map(onCalendar)).toEqual(['*-*-* *:03/05:00'])
    expect(planSchedule(90, 0).slots.map(onCalendar)).toEqual(['*-*-* 00/03:00:00', '*-*-* 01/03:30:00'])
    expect(planSchedule(1440, 197).slots.map(onCalendar)).toEqual(['*-*-* 03:17:00'])
    expect(planSchedule(720, 30).slots.map(onCalendar)).toEqual(['*-*-* 00,12:30:00'])
  })
})

describe('words and next runs', () => {
  test.each<[number, number, string]>([
    [1, 0, 'every minute'],
    [5, 3, 'every 5 minutes (:03, :08, … :58 past each hour)'],
    [15, 0, 'every 15 minutes (:00, :15, :30, :45 past each hour)'],
    [60, 17, 'hourly at :17'],
    [90, 45, 'every 90 minutes from 00:45 (16 runs a day, 00:45 … 23:15)'],
    [7, 3, 'every 7 minutes from 00:03 (206 runs a day, 00:03 … 23:58)'],
    [1440, 197, 'daily at 03:17'],
  ])('every %i min, offset %i: %p', (interval, offset, words) => {
    expect(describeSchedule(planSchedule(interval, offset))).toBe(words)
  })

  test('next three runs, merged across lines, in order', () => {
    const from = new Date(2026, 5, 15, 23, 59)
    const runs = nextRuns(planSchedule(90, 0).expressions, 3, from)
    expect(runs.map((d) => [d.getDate(), d.getHours(), d.getMinutes()])).toEqual([[16, 0, 0], [16, 1, 30], [16, 3, 0]])
  })
})

describe('defaultOffset staggers molts', () => {
  test('the k-th port of the grid gets minute k mod interval', () => {
    const offsets = Array.from({ length: 50 }, (_, k) => defaultOffset({ name: `m${k}`, port: 19001 + 20 * k }, 5))
    expect(offsets.every((o) => o.from === 'port')).toBe(true)
    // 50 molts over 5 minutes: 10 per minute, never 50 at minute 0
    const perMinute = [0, 1, 2, 3, 4].map((m) => offsets.filter((o) => o.offset === m).length)
    expect(perMinute).toEqual([10, 10, 10, 10, 10])
    expect(defaultOffset({ name: 'x', port: 19001 + 20 * 7 }, 60)).toEqual({ offset: 7, from: 'port' })
  })

  test('off the grid or no port: a stable hash of the name, within range', () => {
    const a = defaultOffset({ name: 'mybot', port: 43211 }, 15)
    expect(a.from).toBe('name')
    expect(defaultOffset({ name: 'mybot', port: null }, 15)).toEqual(a)
    for (const interval of [1, 7, 90, 1440]) {
      const { offset } = defaultOffset({ name: 'another', port: null }, interval)
      expect(offset).toBeGreaterThanOrEqual(0)
      expect(offset).toBeLessThan(interval)
    }
  })
})
