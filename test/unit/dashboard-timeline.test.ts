import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { appendFileSync, mkdirSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Timelines } from '../../src/dashboard/timeline.ts'
import { historyStats } from '../../src/health/history-stats.ts'
import { historyLine, type HealthRecord } from '../../src/health/record.ts'
import { removeDir, tempDir } from '../helpers/fleet.ts'

const NOW = Date.parse('2026-03-01T12:00:00.000Z')
const MIN = 60_000
const DAY = 1440 * MIN

const check = (at: number, status: HealthRecord['status'] = 'healthy', ms: number | null = 10): string =>
  historyLine({ timestamp: new Date(at).toISOString(), status, pid: status === 'healthy' ? 42 : null, port: 19001, http_status: status === 'healthy' ? 200 : null, response_time_ms: status === 'healthy' ? ms : null, reason: status === 'healthy' ? null : 'refused' })

/** 20 days of 5-minute checks with an outage every 97th check and a dead stretch two days ago. */
function days(n: number, end = NOW): string {
  const lines: string[] = []
  for (let at = end - n * DAY, i = 0; at < end; at += 5 * MIN, i++) {
    const status = i % 97 === 0 ? 'unhealthy' : end - at < 2 * DAY && end - at > 2 * DAY - 30 * MIN ? 'dead' : 'healthy'
    lines.push(check(at, status, (i % 50) + 1))
  }
  return lines.join('')
}

let home: string
let file: string
beforeEach(() => {
  home = tempDir()
  mkdirSync(join(home, '.molt-state'))
  file = join(home, '.molt-state', 'health-history.jsonl')
})
afterEach(() => removeDir(home))

describe('Timelines: what a card needs, read incrementally', () => {
  test('uptime over 24 h and 7 d equals the full statistics pass, though only the last week is read', () => {
    writeFileSync(file, days(20))
    const t = new Timelines()
    t.update(home, NOW)
    const full = historyStats(file, { now: NOW })
    expect(t.uptime(home, DAY, NOW)).toEqual(full.uptime['24h'])
    expect(t.uptime(home, 7 * DAY, NOW)).toEqual(full.uptime['7d'])
  })

  test('appended lines are picked up, a half-written last line waits for its newline', () => {
    writeFileSync(file, days(3))
    const t = new Timelines()
    t.update(home, NOW)
    const before = t.uptime(home, DAY, NOW + 10 * MIN)
    appendFileSync(file, check(NOW + MIN, 'dead'))
    const cut = check(NOW + 2 * MIN, 'dead')
    appendFileSync(file, cut.slice(0, 20))
    t.update(home, NOW + 10 * MIN)
    expect(t.uptime(home, DAY, NOW + 10 * MIN).checks).toBe(before.checks + 1)
    expect(t.incident(home)).toEqual({ start: new Date(NOW + MIN).toISOString(), worst: 'dead' })
    appendFileSync(file, cut.slice(20))
    t.update(home, NOW + 10 * MIN)
    expect(t.uptime(home, DAY, NOW + 10 * MIN).checks).toBe(before.checks + 2)
    expect(t.recent(home, 2).map((p) => p.status)).toEqual(['dead', 'dead'])
    appendFileSync(file, check(NOW + 3 * MIN))
    t.update(home, NOW + 10 * MIN)
    expect(t.incident(home)).toBeNull()
    expect(t.uptime(home, DAY, NOW + 10 * MIN)).toEqual(historyStats(file, { now: NOW + 10 * MIN }).uptime['24h'])
  })

  test('a replaced file (prune, rotation) is read afresh; a removed one empties the card', () => {
    writeFileSync(file, days(3))
    const t = new Timelines()
    t.update(home, NOW)
    writeFileSync(join(home, 'new.jsonl'), check(NOW - MIN, 'stopped'))
    renameSync(join(home, 'new.jsonl'), file)
    t.update(home, NOW)
    expect(t.uptime(home, DAY, NOW)).toEqual({ checks: 1, healthy: 0, percent: 0 })
    expect(t.recent(home, 30)).toEqual([{ timestamp: new Date(NOW - MIN).toISOString(), status: 'stopped', response_time_ms: null }])
    removeDir(file)
    t.update(home, NOW)
    expect(t.uptime(home, DAY, NOW)).toEqual({ checks: 0, healthy: 0, percent: null })
  })

  test('the sparkline: the newest checks, oldest first', () => {
    writeFileSync(file, days(1))
    const t = new Timelines()
    t.update(home, NOW)
    const recent = t.recent(home, 30)
    expect(recent).toHaveLength(30)
    expect(Date.parse(recent.at(-1)!.timestamp)).toBe(NOW - 5 * MIN)
    expect(recent.every((p, i) => i === 0 || Date.parse(p.timestamp) > Date.parse(recent[i - 1]!.timestamp))).toBe(true)
  })

  test('a first look of the tail reads the sparkline and more; the backfill brings the week, equal to the full pass', async () => {
    writeFileSync(file, days(20))
    const t = new Timelines()
    t.update(home, NOW, { firstLook: 'tail' })
    const full = historyStats(file, { now: NOW })
    expect(t.recent(home, 30)).toHaveLength(30)
    expect(Date.parse(t.recent(home, 1)[0]!.timestamp)).toBe(NOW - 5 * MIN)
    // the day and the week are not known yet: said so, not guessed from the tail
    expect(t.uptime(home, DAY, NOW)).toEqual({ checks: 0, healthy: 0, percent: null })
    expect(t.uptime(home, 7 * DAY, NOW)).toEqual({ checks: 0, healthy: 0, percent: null })
    expect(t.pending).toBe(1)
    expect(t.unreadBytes).toBeGreaterThan(0)
    appendFileSync(file, check(NOW + MIN, 'dead'))
    t.update(home, NOW + 2 * MIN, { firstLook: 'tail' })
    await t.backfill(NOW + 2 * MIN, async () => {})
    expect(t.pending).toBe(0)
    expect(t.uptime(home, DAY, NOW + 2 * MIN)).toEqual(historyStats(file, { now: NOW + 2 * MIN }).uptime['24h'])
    expect(t.uptime(home, 7 * DAY, NOW + 2 * MIN)).toEqual(historyStats(file, { now: NOW + 2 * MIN }).uptime['7d'])
    expect(full.uptime['7d'].checks).toBeGreaterThan(2000)
    expect(t.incident(home)).toEqual({ start: new Date(NOW + MIN).toISOString(), worst: 'dead' })
  })

  test('an outage that began before the day read is found whole by the backfill', async () => {
    // healthy for 10 days, then dead for the last 3: the tail holds only dead checks
    const lines: string[] = []
    for (let at = NOW - 13 * DAY; at < NOW; at += 5 * MIN) lines.push(check(at, at < NOW - 3 * DAY ? 'healthy' : 'dead'))
    writeFileSync(file, lines.join(''))
    const t = new Timelines()
    t.update(home, NOW, { firstLook: 'tail' })
    expect(Date.parse(t.incident(home)!.start)).toBeGreaterThan(NOW - 3 * DAY)
    await t.backfill(NOW, async () => {})
    expect(t.incident(home)).toEqual({ start: new Date(NOW - 3 * DAY).toISOString(), worst: 'dead' })
    expect(t.uptime(home, 7 * DAY, NOW)).toEqual(historyStats(file, { now: NOW }).uptime['7d'])
  })

  test('a short history is read whole by the first look: nothing left to backfill', () => {
    writeFileSync(file, days(0.2))
    const t = new Timelines()
    t.update(home, NOW, { firstLook: 'tail' })
    expect(t.pending).toBe(0)
    expect(t.uptime(home, 7 * DAY, NOW)).toEqual(historyStats(file, { now: NOW }).uptime['7d'])
  })
})
