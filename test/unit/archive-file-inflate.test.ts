import { expect, test } from 'bun:test'
import { readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createGunzip, createInflateRaw, gzipSync, deflateRawSync, constants } from 'node:zlib'
import { inflateFile } from '../../src/archive/file-inflate.ts'
import { makeTempDir } from '../helpers/temp-dirs.ts'

/** Text that compresses, in lines that differ (so a chunk in the wrong place or twice shows). */
function text(lines: number): Buffer {
  return Buffer.from(Array.from({ length: lines }, (_, i) => `line ${i} of the test stream, with some words to deflate\n`).join(''))
}

async function all(chunks: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Uint8Array[] = []
  for await (const chunk of chunks) parts.push(chunk.slice())
  return Buffer.concat(parts)
}

const openFiles = () => readdirSync('/proc/self/fd').length

test('a whole file and a range inflate to exactly their bytes, through buffers smaller than the file that go round', async () => {
  const dir = makeTempDir('clmnt-test-')
  const plain = text(40_000)
  const gz = gzipSync(plain)
  writeFileSync(join(dir, 'whole.gz'), gz)
  // 4 KiB reads: hundreds of reads through the same two buffers
  expect(Buffer.compare(await all(inflateFile(join(dir, 'whole.gz'), createGunzip(), 0, Number.POSITIVE_INFINITY, 4096)), plain)).toBe(0)

  // a raw deflate range in the middle of a file, as a molt's range of an archive
  const raw = deflateRawSync(plain, { finishFlush: constants.Z_SYNC_FLUSH })
  const before = Buffer.alloc(12345, 7)
  writeFileSync(join(dir, 'range'), Buffer.concat([before, raw, Buffer.from('junk after the range')]))
  const inflate = createInflateRaw({ finishFlush: constants.Z_SYNC_FLUSH })
  expect(Buffer.compare(await all(inflateFile(join(dir, 'range'), inflate, before.length, before.length + raw.length, 8192)), plain)).toBe(0)
})

test('a reader that stops early closes the file; a damaged stream fails as the decompressor says, the file closed', async () => {
  const dir = makeTempDir('clmnt-test-')
  const gz = gzipSync(text(200_000))
  writeFileSync(join(dir, 'big.gz'), gz)
  const open = openFiles()
  for (let i = 0; i < 5; i++) {
    for await (const chunk of inflateFile(join(dir, 'big.gz'), createGunzip({ chunkSize: 4096 }), 0, Number.POSITIVE_INFINITY, 4096)) {
      expect(chunk.length).toBeGreaterThan(0)
      break
    }
  }
  await Bun.sleep(20)
  expect(openFiles()).toBe(open)

  const damaged = Buffer.from(gz)
  damaged.fill(0xff, 100, 400)
  writeFileSync(join(dir, 'damaged.gz'), damaged)
  const error = await all(inflateFile(join(dir, 'damaged.gz'), createGunzip(), 0, Number.POSITIVE_INFINITY, 4096)).catch((e: NodeJS.ErrnoException) => e)
  expect(error).toBeInstanceOf(Error)
  expect((error as NodeJS.ErrnoException).syscall).toBeUndefined()
  await Bun.sleep(20)
  expect(openFiles()).toBe(open)
})

test('a file that cannot be read fails with the system call that failed', async () => {
  const dir = makeTempDir('clmnt-test-')
  const missing = await all(inflateFile(join(dir, 'missing.gz'), createGunzip(), 0, Number.POSITIVE_INFINITY, 4096)).catch((e: NodeJS.ErrnoException) => e)
  expect((missing as NodeJS.ErrnoException).code).toBe('ENOENT')
  // a folder opens, but read(2) says EISDIR
  const folder = await all(inflateFile(dir, createGunzip(), 0, Number.POSITIVE_INFINITY, 4096)).catch((e: NodeJS.ErrnoException) => e)
  expect((folder as NodeJS.ErrnoException).code).toBe('EISDIR')
  expect((folder as NodeJS.ErrnoException).syscall).toBe('read')
})

test('a FIFO in the archive\'s place fails at once, never waits for a writer', async () => {
  const dir = makeTempDir('clmnt-test-')
  const fifo = join(dir, 'fifo.gz')
  expect(Bun.spawnSync(['mkfifo', fifo]).exitCode).toBe(0)
  // (opened blocking, the open would wait for a writer until the test times out)
  const error = await all(inflateFile(fifo, createGunzip(), 0, Number.POSITIVE_INFINITY, 4096)).catch((e: NodeJS.ErrnoException) => e)
  expect(error).toMatchObject({ code: 'ESPIPE', syscall: 'read' })
})
