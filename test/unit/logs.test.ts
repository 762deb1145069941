import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { appendFileSync, copyFileSync, mkdirSync, renameSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { findLogFile, followLog, logCandidates, readLastLines, type FollowEvent } from '../../src/health/logs.ts'
import { ClmntError } from '../../src/lib/errors.ts'
import { removeDir, tempDir } from '../helpers/fleet.ts'

let home: string
const healthLog = () => join(home, '.molt-state', 'health.log')
const stateCron = () => join(home, '.molt-state', 'cron.log')
const homeCron = () => join(home, 'cron.log')

beforeEach(() => {
  home = tempDir()
  mkdirSync(join(home, '.molt-state'))
})
afterEach(() => removeDir(home))

/** Poll for a condition with a deadline, so tests wait exactly as long as they need. */
async function waitFor(what: string, condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await Bun.sleep(5)
  }
}

/** followLog running in the background, with what it emitted so far. */
function follow(lines: number, extra: { maxLineBytes?: number; chunkSize?: number } = {}) {
  const seen: string[] = []
  const events: FollowEvent[] = []
  const stop = new AbortController()
  const done = followLog(home, { lines, signal: stop.signal, intervalMs: 5, onLines: (l) => void seen.push(...l), onEvent: (e) => void events.push(e), ...extra })
  const has = (type: FollowEvent['type']) => events.some((e) => e.type === type)
  return { seen, events, has, done, stop: () => (stop.abort(), done) }
}

describe('findLogFile', () => {
  const cases: { name: string; files: (() => string)[]; expected: (() => string) | null; legacy?: boolean }[] = [
    { name: 'nothing there', files: [], expected: null },
    { name: 'health.log wins over every cron.log', files: [healthLog, stateCron, homeCron], expected: healthLog, legacy: false },
    { name: '.molt-state/cron.log before ~/cron.log', files: [stateCron, homeCron], expected: stateCron, legacy: true },
    { name: '~/cron.log when it is all there is', files: [homeCron], expected: homeCron, legacy: true },
  ]
  for (const c of cases) {
    test(c.name, () => {
      for (const file of c.files) writeFileSync(file(), 'x\n')
      const found = findLogFile(home)
      if (!c.expected) expect(found).toBeNull()
      else expect(found).toMatchObject({ path: c.expected(), legacy: c.legacy! })
    })
  }

  test('a folder named health.log is not a log', () => {
    mkdirSync(healthLog())
    writeFileSync(homeCron(), 'x\n')
    expect(findLogFile(home)).toMatchObject({ path: homeCron(), legacy: true })
  })
})

describe('readLastLines', () => {
  test('the last N lines, all of them when there are fewer, none for 0', () => {
    writeFileSync(healthLog(), Array.from({ length: 10 }, (_, i) => `line ${i + 1}`).join('\n') + '\n')
    expect(readLastLines(logCandidates(home)[0]!, 3)).toEqual(['line 8', 'line 9', 'line 10'])
    expect(readLastLines(logCandidates(home)[0]!, 50)).toHaveLength(10)
    expect(readLastLines(logCandidates(home)[0]!, 0)).toEqual([])
  })

  test('a missing file is an expected failure, not a crash', () => {
    expect(() => readLastLines(logCandidates(home)[0]!, 3)).toThrow(ClmntError)
  })
})

describe('followLog', () => {
  test('emits the last N whole lines, then lines as they are appended', async () => {
    writeFileSync(healthLog(), 'a\nb\nc\nhalf')
    const f = follow(2)
    await waitFor('the tail', () => f.seen.length === 2)
    expect(f.seen).toEqual(['b', 'c'])
    appendFileSync(healthLog(), ' done\nd\n')
    await waitFor('appended lines', () => f.seen.length === 4)
    await f.stop()
    expect(f.seen).toEqual(['b', 'c', 'half done', 'd'])
    expect(f.events).toMatchObject([{ type: 'opened', file: { path: healthLog(), legacy: false }, waited: false }])
  })

  test('survives rename rotation: drains the old file, then reads the new one from its start', async () => {
    writeFileSync(healthLog(), 'old 1\n')
    const f = follow(10)
    await waitFor('the tail', () => f.seen.length === 1)
    renameSync(healthLog(), `${healthLog()}.1`)
    // the writer has not reopened yet: its line lands in the renamed file
    appendFileSync(`${healthLog()}.1`, 'old 2\n')
    await waitFor('the line written after the rename', () => f.seen.length === 2)
    writeFileSync(healthLog(), 'new 1\n')
    await waitFor('the new file', () => f.seen.length === 3)
    appendFileSync(healthLog(), 'new 2\n')
    await waitFor('a line appended to the new file', () => f.seen.length === 4)
    await f.stop()
    expect(f.seen).toEqual(['old 1', 'old 2', 'new 1', 'new 2'])
    expect(f.has('rotated')).toBe(true)
  })

  test('survives copytruncate: continues from the start of the truncated file', async () => {
    writeFileSync(healthLog(), 'before 1\nbefore 2\n')
    const f = follow(0)
    await waitFor('the file to be opened', () => f.has('opened'))
    appendFileSync(healthLog(), 'before 3\n')
    await waitFor('an appended line', () => f.seen.length === 1)
    copyFileSync(healthLog(), `${healthLog()}.1`)
    truncateSync(healthLog(), 0)
    // polling cannot tell a truncation that has already grown past the old end: wait until it is seen
    await waitFor('the truncation', () => f.has('truncated'))
    appendFileSync(healthLog(), 'after 1\n')
    await waitFor('the line after truncation', () => f.seen.length === 2)
    await f.stop()
    expect(f.seen).toEqual(['before 3', 'after 1'])
  })

  test('waits for a log that does not exist yet and reads it from its start', async () => {
    const f = follow(5)
    await waitFor('the waiting note', () => f.has('waiting'))
    writeFileSync(healthLog(), 'first\nsecond\n')
    await waitFor('the new file', () => f.seen.length === 2)
    await f.stop()
    expect(f.seen).toEqual(['first', 'second'])
    expect(f.events[0]).toEqual({ type: 'waiting', looked: [healthLog(), stateCron(), homeCron()] })
    expect(f.events[1]).toMatchObject({ type: 'opened', file: { path: healthLog(), legacy: false }, waited: true })
  })

  test('leaves a legacy cron.log for health.log when the new watcher starts writing', async () => {
    writeFileSync(homeCron(), 'legacy 1\n')
    const f = follow(5)
    await waitFor('the legacy tail', () => f.seen.length === 1)
    writeFileSync(healthLog(), 'ours 1\n')
    await waitFor('health.log', () => f.seen.length === 2)
    await f.stop()
    expect(f.seen).toEqual(['legacy 1', 'ours 1'])
    expect(f.events.map((e) => e.type)).toEqual(['opened', 'switched'])
  })

  test('stops on abort and flushes a partial line', async () => {
    writeFileSync(healthLog(), '')
    const f = follow(5)
    await waitFor('the file to be opened', () => f.has('opened'))
    appendFileSync(healthLog(), 'whole\npartial')
    await waitFor('the whole line', () => f.seen.length === 1)
    await f.stop()
    expect(f.seen).toEqual(['whole', 'partial'])
  })

  test('a line that never ends is emitted in bounded pieces', async () => {
    writeFileSync(healthLog(), '')
    const f = follow(0, { maxLineBytes: 8, chunkSize: 4 })
    await waitFor('the file to be opened', () => f.has('opened'))
    appendFileSync(healthLog(), 'x'.repeat(20))
    await waitFor('two pieces', () => f.seen.length === 2)
    await f.stop()
    expect(f.seen).toEqual(['x'.repeat(8), 'x'.repeat(8), 'x'.repeat(4)])
  })
})
