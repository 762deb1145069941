import { afterEach, expect, test } from 'bun:test'
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { openSync, closeSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { crc32, deflateRawSync, gunzipSync, zstdDecompressSync } from 'node:zlib'
import { COMPLETE_TAIL_LENGTH, endsLikeCompleteArchive, ParallelCompressor, type Compression } from '../../src/archive/compress.ts'
import { byteNameOfText } from '../../src/archive/byte-names.ts'
import { TarParser, type TarEntry } from '../../src/archive/tar-parse.ts'
import { encodeHeader, padded, type HeaderInput } from '../../src/archive/tar.ts'
import { removeDir, tempDir } from '../helpers/fleet.ts'

let dir: string
afterEach(() => dir && removeDir(dir))

const base: HeaderInput = { name: 'alpha/x', type: 'file', size: 3, mode: 0o640, mtimeSec: 1_700_000_000, uid: 1000, gid: 1000, uname: 'alpha', gname: 'alpha' }

function tarOf(members: [HeaderInput, Uint8Array?][]): Uint8Array {
  const parts: Uint8Array[] = []
  for (const [h, data] of members) {
    parts.push(encodeHeader(h))
    if (data) {
      const block = new Uint8Array(padded(data.length))
      block.set(data)
      parts.push(block)
    }
  }
  parts.push(new Uint8Array(1024))
  return Buffer.concat(parts)
}

function parse(bytes: Uint8Array, chunk = 7): TarEntry[] {
  const entries: TarEntry[] = []
  const parser = new TarParser({ entry: (e) => void entries.push(e) })
  for (let i = 0; i < bytes.length; i += chunk) parser.push(bytes.subarray(i, i + chunk))
  parser.end()
  return entries
}

test.each([
  ['a short name', base],
  ['a name over 100 bytes (ustar prefix)', { ...base, name: `alpha/${'d'.repeat(90)}/${'f'.repeat(60)}` }],
  ['a name that cannot be split (pax path)', { ...base, name: `alpha/${'f'.repeat(150)}` }],
  ['unicode (pax path)', { ...base, name: 'alpha/Maildir/new/ünïcødé ✉ message' }],
  ['a long symlink target', { ...base, type: 'symlink' as const, size: 0, name: 'alpha/l', linkname: `${'../'.repeat(10)}${'t'.repeat(100)}` }],
  ['a sub-second mtime', { ...base, mtimeNsec: 250_000_000 }],
  ['a size beyond 8 GiB', { ...base, size: 10 * 2 ** 30 }],
  ['a long user name', { ...base, uname: 'u'.repeat(40) }],
])('headers round-trip: %s', (_, header) => {
  const bytes = Buffer.concat([encodeHeader(header), new Uint8Array(1024)])
  const parser = new TarParser({ entry: (e) => void entries.push(e) })
  const entries: TarEntry[] = []
  parser.push(bytes)
  const [entry] = entries
  expect(entry).toMatchObject({ name: byteNameOfText(header.name as string), size: header.type === 'symlink' ? 0 : header.size, mode: header.mode, uid: 1000, uname: header.uname, linkname: byteNameOfText((header.linkname as string | undefined) ?? '') })
  expect(entry!.mtime).toBeCloseTo(header.mtimeSec + (header.mtimeNsec ?? 0) / 1e9, 6)
})

test('GNU tar reads what we write: names, modes, links, mtimes', () => {
  dir = tempDir()
  const bytes = tarOf([
    [{ ...base, name: 'alpha/', type: 'directory', size: 0, mode: 0o700 }],
    [{ ...base, name: 'alpha/ünï côdé', mtimeNsec: 500_000_000 }, new TextEncoder().encode('abc')],
    [{ ...base, name: `alpha/${'d'.repeat(120)}`, size: 0 }, new Uint8Array()],
    [{ ...base, name: 'alpha/link', type: 'symlink', size: 0, linkname: 'ünï côdé' }],
  ])
  writeFileSync(join(dir, 't.tar'), bytes)
  const listing = spawnSync('tar', ['--full-time', '-tvf', join(dir, 't.tar')], { encoding: 'utf8' })
  expect(listing.status).toBe(0)
  expect(listing.stderr).toBe('')
  const lines = listing.stdout.trim().split('\n')
  expect(lines[0]).toStartWith('drwx------ alpha/alpha')
  expect(lines[1]).toMatch(/^-rw-r----- alpha\/alpha\s+3 2023-11-1\d \d\d:\d\d:20(\.5)? alpha\/ünï côdé$/)
  expect(lines[2]).toEndWith(`alpha/${'d'.repeat(120)}`)
  expect(lines[3]).toEndWith('alpha/link -> ünï côdé')
})

test('the parser reads GNU tar archives (long names in GNU format) and skips data it is not asked for', () => {
  dir = tempDir()
  const long = 'n'.repeat(150)
  writeFileSync(join(dir, long), 'x'.repeat(1000))
  spawnSync('tar', ['--format=gnu', '-cf', 'g.tar', long, '-C', dir], { cwd: dir })
  const entries = parse(readFileSync(join(dir, 'g.tar')), 4096)
  expect(entries.map((e) => [e.name, e.size, e.type])).toEqual([[long, 1000, 'file']])
})

test('broken streams are errors: bad checksum, cut inside a member, no end blocks', () => {
  const good = tarOf([[base, new TextEncoder().encode('abc')]])
  const bad = Uint8Array.from(good)
  bad[10]! ^= 1
  expect(() => parse(bad)).toThrow('checksum mismatch')
  expect(() => parse(good.subarray(0, 514))).toThrow('tar stream ends early inside member "alpha/x" (truncated)')
  expect(() => parse(good.subarray(0, 600))).toThrow('tar stream ends early after member "alpha/x" (truncated)')
  // at a member boundary without the end blocks: complete, as GNU tar and bsdtar read it
  const cut = new TarParser({ entry() {} })
  cut.push(good.subarray(0, 1024))
  cut.end()
  expect(cut.endMissing).toBe('none')
})

test('a sink can stop after the first member', () => {
  const bytes = tarOf([[base, new TextEncoder().encode('abc')], [{ ...base, name: 'alpha/y' }, new TextEncoder().encode('def')]])
  const seen: string[] = []
  const parser = new TarParser({ entry: (e) => void seen.push(e.name), entryEnd: () => 'stop' })
  expect(parser.push(bytes)).toBe(false)
  expect(seen).toEqual(['alpha/x'])
})

async function compressChunks(compression: Compression, chunks: [Uint8Array, number[]][]): Promise<Uint8Array> {
  dir = tempDir()
  const path = join(dir, 'out')
  const fd = openSync(path, 'w')
  const c = new ParallelCompressor({ fd, compression, level: 6, workers: 2 })
  try {
    for (const [data, marks] of chunks) {
      const buf = c.takeBuffer()
      buf.set(data)
      const wait = c.submit(buf, data.length, marks)
      if (wait) await wait
    }
    await c.finish()
  } finally {
    c.close()
    closeSync(fd)
  }
  return readFileSync(path)
}

/** How a strict single-stream reader sees a gzip file: Python's zlib with the gzip wrapper, no member loop. */
function pythonSingleMember(data: Uint8Array): { plainLength: number; eof: boolean; unused: number } {
  const script = 'import sys,zlib,json\nd=zlib.decompressobj(31)\nb=sys.stdin.buffer.read()\nout=d.decompress(b)\nprint(json.dumps({"plainLength":len(out),"eof":d.eof,"unused":len(d.unused_data)}))'
  const run = spawnSync('python3', ['-c', script], { input: data })
  if (run.status !== 0) throw new Error(String(run.stderr))
  return JSON.parse(String(run.stdout))
}

test('parallel gzip is one member in order: random regions are stored, text deflated, end blocks last', async () => {
  const text = new TextEncoder().encode('the quick brown fox jumps over the lazy dog; '.repeat(4000)).subarray(0, 150_000)
  const random = randomBytes(300_000)
  const mixed = Buffer.concat([text, random, text])
  const chunks: [Uint8Array, number[]][] = Array.from({ length: 9 }, (_, i) => [i % 3 === 0 ? mixed : i % 3 === 1 ? text : random, i % 3 === 0 ? [150_000, 450_000] : []])
  const out = await compressChunks('gzip', chunks)
  const plain = Buffer.concat([...chunks.map(([d]) => d), new Uint8Array(1024)])
  expect(Buffer.compare(gunzipSync(out), plain)).toBe(0)
  // one member: a reader that does not loop over members still sees every byte, and nothing follows
  expect(pythonSingleMember(out)).toEqual({ plainLength: plain.length, eof: true, unused: 0 })
  // random bytes cost ~their size, text almost nothing
  const randomBytesIn = 3 * 300_000 + 3 * 300_000
  expect(out.length).toBeGreaterThan(randomBytesIn)
  expect(out.length).toBeLessThan(randomBytesIn * 1.01 + 20_000)
  expect(spawnSync('gzip', ['-t'], { input: out }).status).toBe(0)
}, 30_000)

test('gzip: base64 attachments (6 bits a byte) are Huffman-coded: the size level 6 gives them, text around them deflated', async () => {
  const text = new TextEncoder().encode('Subject: report\n\nthe quick brown fox jumps over the lazy dog; '.repeat(2000)).subarray(0, 60_000)
  const base64 = new TextEncoder().encode(randomBytes(150_000).toString('base64').replace(/.{76}/g, '$&\n'))
  const mail = Buffer.concat([text, base64, text])
  const out = await compressChunks('gzip', [[mail, [text.length, text.length + base64.length]]])
  expect(Buffer.compare(gunzipSync(out), Buffer.concat([mail, new Uint8Array(1024)]))).toBe(0)
  const level6 = deflateRawSync(base64, { level: 6 }).length
  expect(out.length).toBeLessThan(level6 * 1.01 + 2 * deflateRawSync(text, { level: 6 }).length + 200)
  expect(out.length).toBeLessThan(base64.length * 0.78)
  expect(spawnSync('gzip', ['-t'], { input: out }).status).toBe(0)
  // Huffman-only: no search for repeats (the time saved); level 6 would have found this one
  const repeated = Buffer.concat(Array.from({ length: 8 }, () => base64.subarray(0, 8_000)))
  const coded = await compressChunks('gzip', [[repeated, [0, repeated.length]]])
  expect(deflateRawSync(repeated, { level: 6 }).length).toBeLessThan(repeated.length * 0.2)
  expect(coded.length).toBeGreaterThan(repeated.length * 0.7)
}, 30_000)

test('gzip: an empty stream is still one valid member', async () => {
  const out = await compressChunks('gzip', [])
  expect(gunzipSync(out).length).toBe(1024)
  expect(pythonSingleMember(out)).toEqual({ plainLength: 1024, eof: true, unused: 0 })
}, 30_000)

test.each(['gzip', 'zstd'] as const)('%s: a complete stream ends the way list-backups looks for; a cut one does not', async (compression) => {
  const out = await compressChunks(compression, [[randomBytes(1000), []], [new TextEncoder().encode('x'.repeat(5000)), []]])
  const tail = (bytes: Uint8Array) => bytes.subarray(Math.max(0, bytes.length - COMPLETE_TAIL_LENGTH))
  expect(endsLikeCompleteArchive(tail(out), compression)).toBe(true)
  expect(endsLikeCompleteArchive(tail(out.subarray(0, out.length - 1)), compression)).toBe(false)
  expect(endsLikeCompleteArchive(tail(out.subarray(0, out.length - 30)), compression)).toBe(false)
  const plain = compression === 'gzip' ? gunzipSync(out) : zstdDecompressSync(out)
  expect(plain.length).toBe(7024)
  // format 2 archives ended with the end blocks as a gzip member of their own: still complete
  if (compression === 'gzip') expect(endsLikeCompleteArchive(tail(Buffer.concat([Bun.gzipSync('x'), Bun.gzipSync(new Uint8Array(1024))])), 'gzip')).toBe(true)
})

test('gzip: the trailer holds the CRC-32 and size of the whole tar stream, however many chunks and workers made it', async () => {
  // chunks of uneven sizes and kinds finish out of order on two workers; the CRC runs over them in stream order
  const sizes = [1, 1 << 20, 77_777, 0, 513, 300_001, 5, 1 << 20]
  const chunks: [Uint8Array, number[]][] = sizes.map((n, i) => [i % 2 ? randomBytes(n) : new TextEncoder().encode('molt mail text '.repeat(Math.ceil(n / 15) + 1)).subarray(0, n), []])
  const out = await compressChunks('gzip', chunks)
  const plain = Buffer.concat([...chunks.map(([d]) => d), new Uint8Array(1024)])
  const trailer = new DataView(out.buffer, out.byteOffset + out.length - 8, 8)
  expect(trailer.getUint32(0, true)).toBe(crc32(plain))
  expect(trailer.getUint32(4, true)).toBe(plain.length)
  expect(pythonSingleMember(out)).toEqual({ plainLength: plain.length, eof: true, unused: 0 })
  expect(spawnSync('gzip', ['-t'], { input: out }).status).toBe(0)
}, 30_000)
