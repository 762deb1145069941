import { afterAll, expect, test } from 'bun:test'
import { constants, readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { FileWriter } from '../../src/archive/restore-writer.ts'
import { removeDir, tempDir } from '../helpers/fleet.ts'

// restore-writer.ts writes a restore's files on the thread pool: what lands must be what was
// handed over, in place, truncated and timed once the last write is done, and a failed write must
// surface as writeSync's error would have.
const root = tempDir('clmnt-writer-')
afterAll(() => removeDir(root))
const CREATE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW
const openFds = () => readdirSync('/proc/self/fd').length

test('many files, many writes each, out of order and with holes: each file holds exactly its bytes, size and mtime', async () => {
  const writer = new FileWriter()
  const expected: Buffer[] = []
  for (let f = 0; f < 200; f++) {
    const size = 1 + ((f * 7919) % (3 << 20))
    const content = Buffer.alloc(size)
    for (let i = 0; i < size; i += 997) content[i] = (f + i) & 0xff || 1
    // a hole of 64 KiB at the start of every third file, and one at the end of every fifth
    const from = f % 3 === 0 ? Math.min(size, 64 << 10) : 0
    const to = f % 5 === 0 ? Math.max(from, size - (64 << 10)) : size
    content.fill(0, 0, from)
    content.fill(0, to)
    expected.push(content)
    const fd = writer.open(join(root, `f${f}`), CREATE, 0o640)
    // pieces written last first: positions, not order, place the bytes
    const pieces: [number, number][] = []
    for (let at = from; at < to; at += 300_001) pieces.push([at, Math.min(to, at + 300_001)])
    for (const [a, b] of pieces.reverse()) writer.write(fd, content.subarray(a, b), a)
    // `end`: where the last byte written lies (nothing written: 0)
    writer.finish(fd, size, from < to ? to : 0, 1_700_000_000 + f)
    const behind = writer.backlog()
    if (behind) await behind
  }
  await writer.settle()
  for (let f = 0; f < 200; f++) {
    const path = join(root, `f${f}`)
    expect(readFileSync(path).equals(expected[f]!)).toBe(true)
    const st = statSync(path)
    expect(st.mtimeMs).toBe((1_700_000_000 + f) * 1000)
    expect(st.mode & 0o777).toBe(0o640)
  }
})

test('a write that fails (ENOSPC on /dev/full) is thrown by the next call and by settle; nothing stays open', async () => {
  const before = openFds()
  const writer = new FileWriter()
  const full = writer.open('/dev/full', constants.O_WRONLY, 0)
  writer.write(full, Buffer.alloc(4096, 1), 0)
  writer.finish(full, 4096, 4096, 1_700_000_000)
  await expect(writer.settle()).rejects.toMatchObject({ code: 'ENOSPC' })
  const next = writer.open(join(root, 'after-failure'), CREATE, 0o600)
  expect(() => writer.write(next, Buffer.alloc(10), 0)).toThrow(/ENOSPC|no space/)
  await expect(writer.settle()).rejects.toMatchObject({ code: 'ENOSPC' })
  expect(openFds()).toBe(before)
})

test('settle closes a file left unfinished (an extraction that stopped) once its writes are done', async () => {
  const before = openFds()
  const writer = new FileWriter()
  const path = join(root, 'unfinished')
  const fd = writer.open(path, CREATE, 0o600)
  writer.write(fd, Buffer.alloc(1 << 20, 7), 0)
  await writer.settle()
  expect(statSync(path).size).toBe(1 << 20)
  expect(openFds()).toBe(before)
})

test('every `flushEvery` bytes written, sync -f runs in the background (one at a time) and the bytes stay what was written', async () => {
  const writer = new FileWriter({ flushDir: root, flushEvery: 1 << 20 })
  const content = Buffer.alloc(6 << 20)
  for (let i = 0; i < content.length; i += 4093) content[i] = (i >> 12) & 0xff || 1
  const fd = writer.open(join(root, 'flushed'), CREATE, 0o600)
  for (let at = 0; at < content.length; at += 1 << 20) {
    writer.write(fd, content.subarray(at, at + (1 << 20)), at)
    // a pause after each write: the flushes start as the bytes land, not all at the end
    await Bun.sleep(20)
  }
  writer.finish(fd, content.length, content.length, 1_700_000_000)
  await writer.settle()
  for (let waited = 0; writer.flushed === 0 && waited < 5000; waited += 10) await Bun.sleep(10)
  expect(writer.flushed).toBeGreaterThanOrEqual(1)
  expect(readFileSync(join(root, 'flushed')).equals(content)).toBe(true)
})

test('no flush folder, no flush', async () => {
  const writer = new FileWriter({ flushEvery: 1 })
  const fd = writer.open(join(root, 'unflushed'), CREATE, 0o600)
  writer.write(fd, Buffer.alloc(1 << 20, 3), 0)
  writer.finish(fd, 1 << 20, 1 << 20, 1_700_000_000)
  await writer.settle()
  await Bun.sleep(50)
  expect(writer.flushed).toBe(0)
})

test('the reader waits while too many files are open, not only while too many bytes are in flight', async () => {
  const before = openFds()
  const writer = new FileWriter()
  const fds: number[] = []
  for (let f = 0; f < 300; f++) {
    const fd = writer.open(join(root, `small-${f}`), CREATE, 0o600)
    writer.write(fd, Buffer.from(`mail ${f}\n`), 0)
    writer.finish(fd, `mail ${f}\n`.length, `mail ${f}\n`.length, 1_700_000_000)
    fds.push(fd)
  }
  // 300 files, each with its write still in flight (callbacks come from the event loop): a few bytes, but past the open-file cap
  const behind = writer.backlog()
  expect(behind).not.toBeNull()
  await behind
  expect(openFds() - before).toBeLessThanOrEqual(256)
  await writer.settle()
  expect(openFds()).toBe(before)
  expect(readFileSync(join(root, 'small-299'), 'utf8')).toBe('mail 299\n')
})
