import { closeSync, openSync, readSync } from 'node:fs'
import type { Compression } from './compress.ts'
import { CHECKSUMS_MEMBER, INDEX_MEMBER, normalizeMemberName } from './layout.ts'
import type { Manifest } from './manifest.ts'
import { inflateFile } from './file-inflate.ts'
import { ArchiveReadError } from './read.ts'
import { readAhead as inParallel } from './read-ahead.ts'
import type { ListRegions } from './restore-lists.ts'
import { readLocator, SeekLineScanner, type HeadRanges, type MoltRange } from './seek-index.ts'
import { listPieces } from './seek-lists.ts'
import { TarError, TarParser } from './tar-parse.ts'

/**
 * Reading only some molts of an archive through its molt index (seek-index.ts): the head (manifest,
 * global/), the selected molts' ranges and the tail (index.jsonl, checksums.sha256), each inflated
 * from its own offset and handed on as one tar stream, which restore reads and checks exactly as it
 * reads a whole archive. What is skipped is accounted for, so the checksum list's end line still
 * has to add up: from the molt index's counts, or in archives without them from index.jsonl (which
 * checksums.sha256 vouches for). Where the molt index places each molt's lines in the two lists,
 * only the lines of what is read are parsed (ListRegions, restore-lists.ts); where those lines are
 * chunks of their own (list chunks), only they are inflated, the others' are holes (seek-lists.ts).
 *
 * Nothing the index says is taken on trust. Before anything is extracted: the locator must lead to
 * a tail that inflates to exactly the size it gives (and, for gzip, to the trailer's size), holding
 * index.jsonl and checksums.sha256 and nothing else; the ranges must tile the file and the tar
 * stream from the head to the tail, one per molt of the manifest; and each selected range must start
 * with its molt's folder; list chunks must lie in order. Any miss: the archive is read whole
 * (`fallback` says why). A range or a list chunk that then inflates to anything but its length fails
 * the read (restore refuses, with one line).
 */
export interface SeekRead {
  chunks: AsyncIterable<Uint8Array>
  /** regular files (and their bytes) of the molts not read */
  skipped: { files: number; bytes: number }
  /** the parts of the lists about what is read; null: read the lists whole */
  regions: ListRegions | null
  /** state.jsonl was passed over (its own chunk, version 2): its lines are not checked, it is in `skipped` */
  stateSkipped: boolean
  /** list chunks: the lines of the molts not read are holes (zeros, isHole) in the lists; index.jsonl cannot be hashed whole */
  listHoles: boolean
}

export type SeekPlan = { read: SeekRead } | { read: null; fallback: string | null }

const READ_AHEAD = 1 << 20
/** how a range that does not inflate as its index says fails (a whole read may still succeed) */
export const INDEX_MISMATCH = 'the molt index does not match the archive'
/** a tail (index.jsonl and checksums.sha256: ~250 bytes a file) up to this size stays in memory between its check and its read */
const KEEP_TAIL = 16 << 20
/** enough for a molt's first headers (pax and ustar): the first member's name is all firstMember needs */
const FIRST_READ = 16 << 10

export async function planSeekRead(path: string, compression: Compression, manifest: Manifest, wanted: ReadonlySet<string>): Promise<SeekPlan> {
  let found: ReturnType<typeof readLocator>
  try {
    found = readLocator(path, compression)
  } catch {
    return { read: null, fallback: null }
  }
  // older, foreign and recompressed archives: the ordinary full read, nothing to say
  if (!found) return { read: null, fallback: null }
  const mismatch = (why: string): SeekPlan => ({ read: null, fallback: `the archive's molt index does not match its content (${why}): reading the whole archive` })
  const { locator, dataStart, fileSize } = found
  const trailer = compression === 'gzip' ? 8 : 0
  if (locator.tailOffset < dataStart || locator.tailOffset > fileSize - trailer || locator.tailTarOffset > locator.tarSize) return mismatch('the tail lies outside the file')
  if (compression === 'gzip') {
    const isize = readAt(path, fileSize - 4, 4)
    if (new DataView(isize.buffer).getUint32(0, true) !== locator.tarSize % 2 ** 32) return mismatch("the tar size is not the gzip trailer's")
  }

  // the tail: index.jsonl, then checksums.sha256 with the #clmnt-seek lines
  const scanner = new SeekLineScanner()
  const ranges = scanner.ranges
  const tail = () => inflateRange(path, compression, locator.tailOffset, fileSize - trailer, locator.tarSize - locator.tailTarOffset, 'the tail')
  let kept: Uint8Array[] | null = null
  /** the lists' sizes, when the tail was read now (version 1) */
  let sizes: Map<string, number> | null = null
  if (locator.lines) {
    // version 2: the molt index lines' own chunk, a few KiB; the tail is read (and checked) with the molts
    const { offset, tarOffset } = locator.lines
    if (offset < locator.tailOffset || offset >= fileSize - trailer || tarOffset < locator.tailTarOffset || tarOffset >= locator.tarSize) return mismatch('its lines lie outside the tail')
    try {
      for await (const chunk of inflateRange(path, compression, offset, fileSize - trailer, locator.tarSize - tarOffset, 'the molt index lines')) scanner.push(chunk)
    } catch (error) {
      if (error instanceof ArchiveReadError) return mismatch(error.message)
      throw error
    }
    scanner.end()
  } else {
    // the tail as inflated now is what the read hands on last: kept, when it is small enough
    kept = locator.tarSize - locator.tailTarOffset <= KEEP_TAIL ? [] : null
    async function* keeping(): AsyncGenerator<Uint8Array> {
      for await (const chunk of tail()) {
        kept?.push(chunk)
        yield chunk
      }
    }
    let tailRead: Awaited<ReturnType<typeof readTail>>
    try {
      tailRead = await readTail(keeping(), { [CHECKSUMS_MEMBER]: scanner })
    } catch (error) {
      if (error instanceof ArchiveReadError || error instanceof TarError) return mismatch(error.message)
      throw error
    }
    if (!tailRead.complete || tailRead.members.join('\n') !== `${INDEX_MEMBER}\n${CHECKSUMS_MEMBER}`) return mismatch('the tail is not index.jsonl and checksums.sha256')
    sizes = tailRead.sizes
  }

  // the ranges tile the archive: head, one range per molt of the manifest in order, tail
  const names = manifest.molts.map((m) => m.name)
  if (ranges.length !== names.length || ranges.some((r, i) => r.molt !== names[i])) return mismatch('its molts are not the manifest\'s')
  for (let i = 0; i < ranges.length; i++) {
    const r = ranges[i]!
    const next = ranges[i + 1] ?? { offset: locator.tailOffset, tar_offset: locator.tailTarOffset }
    if (r.offset + r.length !== next.offset || r.tar_offset + r.tar_length !== next.tar_offset || r.offset < dataStart) return mismatch(`molt ${r.molt}'s range does not end where the next part starts`)
    if (r.tar_offset % 512 !== 0) return mismatch(`molt ${r.molt}'s range does not start on a tar block`)
  }
  const head = ranges.length ? { offset: ranges[0]!.offset, tar: ranges[0]!.tar_offset } : { offset: locator.tailOffset, tar: locator.tailTarOffset }
  const selected = ranges.filter((r) => wanted.has(r.molt))
  // version 2: the head in three chunks, manifest | state.jsonl | global/; the state is passed over
  const parts = headParts(scanner.head, dataStart, head)
  if (parts === 'mismatch') return mismatch('its head places do not tile the head')

  // the molts not read, and the parts of the lists to read: from the molt index, else from index.jsonl (read again)
  const lists = listRegions(ranges, wanted, sizes)
  // list chunks: the tail in pieces, the lines of the molts not read left out
  const pieces = lists && locator.lines ? listPieces(locator, fileSize - trailer, ranges, scanner.lists, wanted, (from, to, length) => inflateRange(path, compression, from, to, length, 'a part of the lists')) : null
  if (typeof pieces === 'string') return mismatch(pieces)
  let skipped = lists?.skipped
  if (!skipped) {
    const counted = { files: 0, bytes: 0 }
    const count = (line: string) => {
      const row = parseJson(line) as { type?: unknown; size?: unknown; molt?: unknown } | null
      if (row && row.type === 'file' && typeof row.molt === 'string' && !wanted.has(row.molt) && typeof row.size === 'number') {
        counted.files++
        counted.bytes += row.size
      }
    }
    const lines = new LineSplitter()
    try {
      await readTail(tail(), { [INDEX_MEMBER]: { push: (chunk) => lines.push(chunk, count), end: () => lines.end(count) } })
    } catch (error) {
      if (error instanceof ArchiveReadError || error instanceof TarError) return mismatch(error.message)
      throw error
    }
    skipped = counted
  }

  // each selected range starts with its molt's folder (when all are read, they are the whole stream: nothing to check)
  const partial = selected.length < ranges.length
  for (const r of partial ? selected : []) {
    if (r.tar_length === 0) continue
    const first = await firstMember(path, compression, r)
    if (first !== r.molt) return mismatch(`molt ${r.molt}'s range starts with ${first === null ? 'no tar member' : `member ${JSON.stringify(first)}`}`)
  }

  async function* tailChunks(): AsyncGenerator<Uint8Array> {
    if (kept) {
      const chunks = kept
      kept = null
      yield* chunks
    } else yield* tail()
  }
  // the next range inflates (on the thread pool) while this one is read
  if (parts) skipped = { files: skipped.files + (parts.stateBytes > 0 ? 1 : 0), bytes: skipped.bytes + parts.stateBytes }
  const sources = [
    ...(parts
      ? [
          () => inflateRange(path, compression, dataStart, parts.state.offset, parts.state.tar, 'the manifest'),
          () => inflateRange(path, compression, parts.global.offset, head.offset, head.tar - parts.global.tar, 'the global files'),
        ]
      : [() => inflateRange(path, compression, dataStart, head.offset, head.tar, 'the manifest and global files')]),
    ...selected.filter((r) => r.tar_length).map((r) => () => inflateRange(path, compression, r.offset, r.offset + r.length, r.tar_length, `molt ${r.molt}`)),
    ...(partial && pieces ? pieces : [tailChunks]),
  ]
  return { read: { chunks: inParallel(sources), skipped, regions: lists?.regions ?? null, stateSkipped: parts !== null, listHoles: partial && pieces !== null } }
}

/**
 * The head's chunks from a `#clmnt-seek-head` line: where the state and global/ start. They must lie
 * in order between the data's start and the first molt, in the file and in the tar stream; null
 * without a line (the head is read whole).
 */
function headParts(line: HeadRanges | null, dataStart: number, head: { offset: number; tar: number }): { state: { offset: number; tar: number }; global: { offset: number; tar: number }; stateBytes: number } | null | 'mismatch' {
  if (!line) return null
  const state = { offset: line.state_offset, tar: line.state_tar_offset }
  const global = { offset: line.global_offset, tar: line.global_tar_offset }
  const inOrder = dataStart < state.offset && state.offset <= global.offset && global.offset <= head.offset && 0 < state.tar && state.tar <= global.tar && global.tar <= head.tar
  if (!inOrder || state.tar % 512 !== 0 || global.tar % 512 !== 0 || line.state_bytes > global.tar - state.tar) return 'mismatch'
  return { state, global, stateBytes: line.state_bytes }
}

/** The tail's members (names, and sizes of the two lists), the content of those in `readers` handed to them. */
async function readTail(chunks: AsyncIterable<Uint8Array>, readers: Partial<Record<string, { push(chunk: Uint8Array): void; end(): void }>>): Promise<{ members: string[]; sizes: Map<string, number>; complete: boolean }> {
  const members: string[] = []
  const sizes = new Map<string, number>()
  let current: { push(chunk: Uint8Array): void; end(): void } | null = null
  const parser = new TarParser({
    entry(e) {
      const name = normalizeMemberName(e.name)
      members.push(name)
      if (e.type === 'file') sizes.set(name, e.size)
      current = (e.type === 'file' && readers[name]) || null
    },
    data(chunk) {
      current?.push(chunk)
    },
    entryEnd() {
      current?.end()
      current = null
    },
  })
  for await (const chunk of chunks) parser.push(chunk)
  parser.end()
  return { members, sizes, complete: parser.complete }
}

/**
 * Where the molt index places each molt's lines in index.jsonl and checksums.sha256: the parts to
 * read (the archive's own lines before and after the molts', and the selected molts'), and the
 * files of the others. Null when a line lacks them (archives written before) or they do not tile
 * each list from the first molt's line to the last.
 */
function listRegions(ranges: MoltRange[], wanted: ReadonlySet<string>, sizes: Map<string, number> | null): { regions: ListRegions; skipped: { files: number; bytes: number } } | null {
  if (!ranges.length || ranges.some((r) => r.lists === null)) return null
  const regions: ListRegions = { index: [], sums: [] }
  // sizes not known yet (version 2: the tail is read with the molts): the last part goes to the list's end, whatever it is
  const sizeOf = (member: string) => (sizes ? (sizes.get(member) ?? 0) : Number.MAX_SAFE_INTEGER)
  const parts = [
    [regions.index, sizeOf(INDEX_MEMBER), (r: MoltRange): [number, number] => [r.lists!.index_offset, r.lists!.index_length]],
    [regions.sums, sizeOf(CHECKSUMS_MEMBER), (r: MoltRange): [number, number] => [r.lists!.sums_offset, r.lists!.sums_length]],
  ] as const
  for (const [out, size, where] of parts) {
    let at = where(ranges[0]!)[0]
    const add = (from: number, to: number) => {
      const last = out.at(-1)
      if (last && last[1] === from) last[1] = to
      else if (to > from) out.push([from, to])
    }
    add(0, at)
    for (const r of ranges) {
      const [offset, length] = where(r)
      if (offset !== at) return null
      if (wanted.has(r.molt)) add(at, at + length)
      at += length
    }
    if (at > size) return null
    add(at, size)
  }
  const skipped = { files: 0, bytes: 0 }
  for (const r of ranges) {
    if (wanted.has(r.molt)) continue
    skipped.files += r.lists!.files
    skipped.bytes += r.lists!.bytes
  }
  return { regions, skipped }
}

/** The first member's name in a range (its molt folder), or null. Reads and inflates a few KiB. */
async function firstMember(path: string, compression: Compression, r: MoltRange): Promise<string | null> {
  let name: string | null = null
  const parser = new TarParser({
    entry(e) {
      name = normalizeMemberName(e.name)
      return 'stop'
    },
  })
  try {
    for await (const chunk of inflateRange(path, compression, r.offset, r.offset + r.length, r.tar_length, `molt ${r.molt}`, FIRST_READ)) if (!parser.push(chunk)) break
  } catch (error) {
    if (error instanceof ArchiveReadError || error instanceof TarError) return null
    throw error
  }
  return name
}

/**
 * The compressed bytes [from, to) inflated: exactly `expected` bytes, or an ArchiveReadError. gzip
 * ranges are raw deflate starting at a block boundary with an empty window; zstd ranges whole frames.
 */
export async function* inflateRange(path: string, compression: Compression, from: number, to: number, expected: number, what: string, readAhead = READ_AHEAD): AsyncGenerator<Uint8Array> {
  const fail = (why: string) => new ArchiveReadError(`${INDEX_MISMATCH}: ${what} ${why}`, 'compression')
  if (to <= from) {
    if (expected !== 0) throw fail('has no compressed bytes')
    return
  }
  const zlib = require('node:zlib') as typeof import('node:zlib')
  const chunkSize = Math.min(readAhead, 256 << 10)
  // a range of gzip ends with a sync flush, not a final block: no "unexpected end" at its end
  const inflate = compression === 'gzip' ? zlib.createInflateRaw({ chunkSize, finishFlush: zlib.constants.Z_SYNC_FLUSH }) : zlib.createZstdDecompress({ chunkSize })
  let got = 0
  try {
    for await (const chunk of inflateFile(path, inflate, from, to, readAhead)) {
      got += chunk.length
      if (got > expected) throw fail(`inflates to more than ${expected} bytes`)
      yield chunk
    }
  } catch (error) {
    if (error instanceof ArchiveReadError) throw error
    if ((error as NodeJS.ErrnoException).syscall) throw new ArchiveReadError(`cannot read the archive: ${(error as NodeJS.ErrnoException).code}`, 'io')
    throw fail(`does not inflate (${(error as Error).message})`)
  }
  if (got !== expected) throw fail(`inflates to ${got} bytes, not ${expected}`)
}

function readAt(path: string, at: number, length: number): Uint8Array {
  const fd = openSync(path, 'r')
  try {
    const buf = new Uint8Array(length)
    readSync(fd, buf, 0, length, at)
    return buf
  } finally {
    closeSync(fd)
  }
}

/** Lines of a member's content as it streams by (names in it are bytes: latin1). */
export class LineSplitter {
  #rest = ''

  push(chunk: Uint8Array, onLine: (line: string) => void): void {
    const text = this.#rest + Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length).toString('latin1')
    const parts = text.split('\n')
    this.#rest = parts.pop()!
    for (const line of parts) onLine(line)
  }

  end(onLine: (line: string) => void): void {
    if (this.#rest) onLine(this.#rest)
    this.#rest = ''
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return null
  }
}
