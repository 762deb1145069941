import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { appendFileSync, chmodSync, rmSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { capHistory, pruneHistory, rewriteHistory } from '../../src/health/history-prune.ts'
import { appendHistory, parseHistoryLine } from '../../src/health/history.ts'
import { historyFile } from '../../src/health/paths.ts'
import { historyLine, type HealthRecord } from '../../src/health/record.ts'
import { removeDir, tempDir } from '../helpers/fleet.ts'

const NOW = Date.parse('2026-03-01T12:00:00.000Z')
const DAY = 86_400_000

const record = (at: number, status: HealthRecord['status'] = 'healthy'): HealthRecord => ({
  timestamp: new Date(at).toISOString(),
  status,
  pid: 4242,
  port: 19001,
  http_status: status === 'healthy' ? 200 : null,
  response_time_ms: status === 'healthy' ? 12.5 : null,
  reason: status === 'healthy' ? null : 'connection refused',
})
const line = (daysAgo: number, status?: HealthRecord['status']) => historyLine(record(NOW - daysAgo * DAY, status))
const LEGACY = `${JSON.stringify({ last_check: new Date(NOW - DAY).toISOString(), status: 'unhealthy', pid: '1234', port: '19001', http_status: '000000', response_time_ms: 'null' })}\n`

let home: string
let path: string
beforeEach(() => {
  home = tempDir()
  path = historyFile(home)
  appendHistory(home, record(NOW - 400 * DAY)) // creates .molt-state
  writeFileSync(path, '')
})
afterEach(() => removeDir(home))

const lines = () => readFileSync(path, 'utf8').split('\n').filter(Boolean)
const tempFiles = () => readdirSync(join(home, '.molt-state')).filter((f) => f.endsWith('.tmp'))

describe('pruneHistory', () => {
  test('keeps checks at or after the cutoff, drops unreadable lines, writes legacy lines clean', () => {
    writeFileSync(path, [line(120), line(91, 'dead'), line(89), 'garbage\n', '\n', LEGACY, line(1)].join(''))
    chmodSync(path, 0o640)
    const result = pruneHistory(home, { cutoff: NOW - 90 * DAY })!
    expect(result).toMatchObject({ kept: 3, removed: 2, invalid: 2, normalized: 1, rewritten: true, appended_during: 0, cutoff: new Date(NOW - 90 * DAY).toISOString() })
    expect(readFileSync(path, 'utf8')).toBe([line(89), historyLine({ ...record(NOW - DAY, 'unhealthy'), pid: 1234, reason: undefined, response_time_ms: null }), line(1)].join(''))
    expect(result.bytes_after).toBe(statSync(path).size)
    expect(statSync(path).mode & 0o777).toBe(0o640)
    expect(tempFiles()).toEqual([])
  })

  test('nothing to remove: the file is left alone (same inode)', () => {
    writeFileSync(path, line(10) + line(1))
    const inode = statSync(path).ino
    expect(pruneHistory(home, { cutoff: NOW - 90 * DAY })).toMatchObject({ kept: 2, removed: 0, rewritten: false })
    expect(statSync(path).ino).toBe(inode)
    expect(tempFiles()).toEqual([])
  })

  test('a last line without its newline is kept byte for byte (it may be a write in progress)', () => {
    writeFileSync(path, `${line(100)}${line(1)}{"timestamp":"2026-03-01T11:`)
    pruneHistory(home, { cutoff: NOW - 90 * DAY })
    expect(readFileSync(path, 'utf8')).toBe(`${line(1)}{"timestamp":"2026-03-01T11:`)
  })

  test('a missing file: null', () => {
    rmSync(path)
    expect(pruneHistory(home, { cutoff: NOW })).toBeNull()
  })
})

describe('rewriteHistory', () => {
  test('lines appended while rewriting are carried over, in order', () => {
    writeFileSync(path, line(100) + line(50))
    const result = rewriteHistory(home, (_src, size, out) => {
      // a concurrent `health check` lands two lines after we read the file
      appendHistory(home, record(NOW))
      appendHistory(home, record(NOW + 1000, 'dead'))
      out.write(line(50))
      return { consumed: size, changed: true }
    })!
    expect(result.appended_during).toBe(historyLine(record(NOW)).length + historyLine(record(NOW + 1000, 'dead')).length)
    expect(lines().map((l) => parseHistoryLine(l)!.at)).toEqual([NOW - 50 * DAY, NOW, NOW + 1000])
    expect(tempFiles()).toEqual([])
  })

  test('if someone else replaced the file meanwhile, their version wins', () => {
    writeFileSync(path, line(100) + line(50))
    const other = join(home, 'other.jsonl')
    const result = rewriteHistory(home, (_src, size) => {
      writeFileSync(other, line(1))
      renameSync(other, path)
      return { consumed: size, changed: true }
    })!
    expect(result.rewritten).toBe(false)
    expect(readFileSync(path, 'utf8')).toBe(line(1))
    expect(tempFiles()).toEqual([])
  })

  test('a failure leaves the original and no temp file', () => {
    writeFileSync(path, line(100))
    expect(() =>
      rewriteHistory(home, () => {
        throw new Error('disk full')
      }),
    ).toThrow('disk full')
    expect(readFileSync(path, 'utf8')).toBe(line(100))
    expect(tempFiles()).toEqual([])
  })
})

describe('size cap', () => {
  const one = line(0).length

  test('appendHistory cuts the file to the newest whole lines once it passes the cap', () => {
    const cap = { capBytes: one * 10, keepBytes: one * 4 + 5 }
    let capped = 0
    for (let i = 0; i < 25; i++) {
      const result = appendHistory(home, record(NOW + i * 1000), undefined, cap)
      if (result.capped) capped++
      expect(result.capError).toBeUndefined()
      expect(result.size).toBeLessThanOrEqual(cap.capBytes)
    }
    expect(capped).toBeGreaterThan(0)
    const kept = lines().map((l) => parseHistoryLine(l))
    expect(kept.every(Boolean)).toBe(true)
    expect(kept.at(-1)!.at).toBe(NOW + 24_000)
    // consecutive: nothing lost in the middle of what is kept
    kept.forEach((k, i) => i && expect(k!.at - kept[i - 1]!.at).toBe(1000))
    expect(tempFiles()).toEqual([])
  })

  test('capHistory starts at a line boundary and keeps at most keepBytes', () => {
    appendFileSync(path, Array.from({ length: 10 }, (_, i) => line(10 - i)).join(''))
    const result = capHistory(home, one * 3 + 1)!
    expect(result.rewritten).toBe(true)
    expect(readFileSync(path, 'utf8')).toBe(line(3) + line(2) + line(1))
  })

  test('below the cap nothing happens', () => {
    expect(appendHistory(home, record(NOW), undefined, { capBytes: 1 << 20 }).capped).toBeUndefined()
    expect(capHistory(home, 1 << 20)).toMatchObject({ rewritten: false })
  })
})
