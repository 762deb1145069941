import { closeSync, fstatSync, openSync, readSync } from 'node:fs'
import type { Compression } from './compress.ts'

/**
 * The molt index: where each molt's part of an archive starts, so `restore --select` inflates only
 * that part (issue 18). Format 3 archives written since carry it in two places:
 *
 * - the **locator**, near the start of the file: where the archive's tail (index.jsonl and
 *   checksums.sha256) starts. In gzip it is the header's comment field (FCOMMENT, which every
 *   gunzip skips; not FEXTRA: Python's streaming tarfile misreads that); in zstd a skippable frame
 *   right after the manifest's frame. It is written as a placeholder and filled in when the archive
 *   is complete:
 *
 *     clmnt-seek 2 <tail offset> <tail tar offset> <tar size> <lines offset> <lines tar offset>
 *
 *   (16 hex digits each). Version 2 adds where the `#clmnt-seek` lines start: a compressed chunk of
 *   their own inside checksums.sha256, so a one-molt restore inflates a few KiB to find its molt,
 *   not the ~250 bytes a file of both lists (version 1, still read: the whole tail).
 *
 * - one `#clmnt-seek` line per molt in checksums.sha256 (a comment to `sha256sum -c`):
 *
 *     #clmnt-seek {"molt":"alpha","offset":10240,"tar_offset":20480,"length":4096,"tar_length":51200}
 *
 *   `offset`/`length`: the molt's compressed bytes in the file; `tar_offset`/`tar_length`: the
 *   same bytes inflated, as offsets in the tar stream. Archives written since also say where the
 *   molt's lines are in the two lists, so a one-molt restore parses only those, and how many
 *   regular files (and their bytes) index.jsonl lists for it, so the molts not read are accounted
 *   for without reading their lines (all six or none):
 *
 *     "index_offset":…,"index_length":…,"sums_offset":…,"sums_length":…,"files":…,"bytes":…
 *
 *   (byte offsets in index.jsonl's and checksums.sha256's content). Each molt starts a new compressed chunk:
 *   in gzip a deflate block boundary with an empty window (the chunk is compressed on its own, see
 *   compress.ts), in zstd a new frame, so inflating can start there with nothing before it. The
 *   archive stays one gzip member: every reader still reads it whole.
 *
 * - one `#clmnt-seek-head` line before them (version 2): where state.jsonl and global/ start, each a
 *   chunk of its own, and state.jsonl's size, so a one-molt restore of a full archive skips the
 *   state (a few MB; only the next --incremental and a chain restore read it):
 *
 *     #clmnt-seek-head {"state_offset":…,"state_tar_offset":…,"global_offset":…,"global_tar_offset":…,"state_bytes":…}
 *
 * - list chunks (archives written since): each molt's lines in index.jsonl and in checksums.sha256
 *   start a chunk of their own, and so does what follows the last molt's lines, so a one-molt
 *   restore inflates only its molt's lines of the two lists (~250 bytes a file of the whole fleet
 *   otherwise: 10 MB for 40,000 files). Each molt line says where its two chunks start, the head
 *   line where the lists' contents start in the tar stream and where the chunks after the molts'
 *   lines start (all six or none):
 *
 *     #clmnt-seek {…,"index_chunk":…,"sums_chunk":…}
 *     #clmnt-seek-head {…,"index_data":…,"index_end_chunk":…,"sums_data":…,"sums_end_chunk":…}
 *
 *   Their numbers are written 16 characters wide (spaces before the digits): these lines are part
 *   of checksums.sha256, whose size is in its tar header, written before its own chunks are
 *   compressed and their offsets known.
 *
 * Nothing of it is trusted: a recompressed archive (`gunzip | gzip`) has no locator, and whatever a
 * locator or a line says is checked against what inflates at that offset (seek-read.ts).
 */
export const SEEK_LINE = '#clmnt-seek '
export const SEEK_HEAD_LINE = '#clmnt-seek-head '

export interface MoltRange {
  molt: string
  offset: number
  tar_offset: number
  length: number
  tar_length: number
  /** where its lines are in the lists, and its files; null in archives written before (and on a line that gives only some of it) */
  lists: MoltLists | null
  /** where its lines start in the lists' compressed bytes, each a chunk of its own; null in archives written before */
  chunks: MoltChunks | null
}

export interface MoltChunks {
  index_chunk: number
  sums_chunk: number
}

export interface MoltLists {
  index_offset: number
  index_length: number
  sums_offset: number
  sums_length: number
  /** regular files index.jsonl lists for the molt (hard links are not), and their bytes */
  files: number
  bytes: number
}

const RANGE_KEYS = ['offset', 'tar_offset', 'length', 'tar_length'] as const
const LIST_KEYS = ['index_offset', 'index_length', 'sums_offset', 'sums_length', 'files', 'bytes'] as const

/** Where the state and global/ start (version 2): both chunks of their own. */
export interface HeadRanges {
  state_offset: number
  state_tar_offset: number
  global_offset: number
  global_tar_offset: number
  /** state.jsonl's content bytes (0: none) */
  state_bytes: number
}

const HEAD_KEYS = ['state_offset', 'state_tar_offset', 'global_offset', 'global_tar_offset', 'state_bytes'] as const

/** The lists' places in the tar stream, and where the chunks after the molts' lines start (list chunks). */
export interface ListEnds {
  /** tar offsets of index.jsonl's and checksums.sha256's contents */
  index_data: number
  sums_data: number
  /** compressed offsets of the chunks that start after the last molt's lines */
  index_end_chunk: number
  sums_end_chunk: number
}

const CHUNK_KEYS = ['index_chunk', 'sums_chunk'] as const
const LIST_END_KEYS = ['index_data', 'index_end_chunk', 'sums_data', 'sums_end_chunk'] as const
/** the width of a list chunk number (2^53 has 16 digits) */
const WIDE = 16

export interface Locator {
  /** compressed offset of the tail (the chunk holding index.jsonl's header) */
  tailOffset: number
  tailTarOffset: number
  /** the whole tar stream, end-of-archive blocks included */
  tarSize: number
  /** version 2: the chunk starting with the molt index lines (in checksums.sha256's content); null in version 1 */
  lines: { offset: number; tarOffset: number } | null
}

const PREFIX = 'clmnt-seek 2 '
export const LOCATOR_LENGTH = PREFIX.length + 5 * 16 + 4
/** archives written before the molt index lines had a chunk of their own */
const V1_PREFIX = 'clmnt-seek 1 '
const V1_LENGTH = V1_PREFIX.length + 3 * 16 + 2
const encoder = new TextEncoder()

export function seekLine(range: MoltRange): string {
  const { lists, chunks, ...where } = range
  return `${SEEK_LINE}${withWide(JSON.stringify({ ...where, ...lists }), chunks)}\n`
}

export function seekHeadLine(head: HeadRanges, lists: ListEnds | null = null): string {
  return `${SEEK_HEAD_LINE}${withWide(JSON.stringify(head), lists)}\n`
}

/** `json` (an object) with `wide`'s numbers added, each 16 characters wide: a line's length does not depend on them. */
function withWide(json: string, wide: object | null): string {
  if (!wide) return json
  const fields = Object.entries(wide).map(([key, n]) => `"${key}":${String(n).padStart(WIDE)}`)
  return `${json.slice(0, -1)},${fields.join(',')}}`
}

/** The JSON object after `prefix` on a line, or null when the line does not start with it or holds none. */
function objectAfter(line: string, prefix: string): Record<string, unknown> | null {
  if (!line.startsWith(prefix)) return null
  let data: unknown
  try {
    data = JSON.parse(line.slice(prefix.length))
  } catch {
    return null
  }
  return data && typeof data === 'object' ? (data as Record<string, unknown>) : null
}

/** The fields `keys` of `r`, each a count (a safe integer ≥ 0), or null when one is not. */
function counts<K extends string>(r: Record<string, unknown>, keys: readonly K[]): Record<K, number> | null {
  if (!keys.every((key) => Number.isSafeInteger(r[key]) && (r[key] as number) >= 0)) return null
  return Object.fromEntries(keys.map((key) => [key, r[key]])) as Record<K, number>
}

/** A `#clmnt-seek-head` line's places, or null when it is not one (or lacks a field). */
export function parseSeekHeadLine(line: string): { head: HeadRanges; lists: ListEnds | null } | null {
  const r = objectAfter(line, SEEK_HEAD_LINE)
  const head = r && counts(r, HEAD_KEYS)
  return head && { head, lists: counts(r, LIST_END_KEYS) }
}

/** A `#clmnt-seek` line's range, or null when it is not one. */
export function parseSeekLine(line: string): MoltRange | null {
  const r = objectAfter(line, SEEK_LINE)
  if (!r || typeof r.molt !== 'string') return null
  const range = counts(r, RANGE_KEYS)
  return range && { molt: r.molt, ...range, lists: counts(r, LIST_KEYS), chunks: counts(r, CHUNK_KEYS) }
}

/** a molt index line is a few hundred bytes: a longer line starting with '#' is something else */
const MAX_SEEK_LINE = 4096

/**
 * The molt index lines of checksums.sha256 as it streams by. Only lines that start with '#' are
 * decoded (the header, the molt index, notes, the end line); the sum lines, one per file, are
 * passed over at the speed of a byte search.
 */
export class SeekLineScanner {
  readonly ranges: MoltRange[] = []
  head: HeadRanges | null = null
  /** list chunks: where the lists' contents are, and the chunks after the molts' lines */
  lists: ListEnds | null = null
  /** the start of a line that began with '#' and goes on in the next chunk */
  #carry: Buffer | null = null
  /** inside a line that is not one */
  #skipping = false

  push(chunk: Uint8Array): void {
    const bytes = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length)
    let start = 0
    if (this.#carry || this.#skipping) {
      const nl = bytes.indexOf(0x0a)
      if (this.#carry) {
        this.#carry = Buffer.concat([this.#carry, bytes.subarray(0, nl < 0 ? bytes.length : nl)])
        if (this.#carry.length > MAX_SEEK_LINE) [this.#carry, this.#skipping] = [null, true]
      }
      if (nl < 0) return
      if (this.#carry) this.#line(this.#carry.toString('latin1'))
      this.#carry = null
      this.#skipping = false
      start = nl + 1
    }
    while (start < bytes.length) {
      const nl = bytes.indexOf(0x0a, start)
      if (nl < 0) {
        if (bytes[start] === 0x23) this.#carry = Buffer.from(bytes.subarray(start))
        else this.#skipping = true
        return
      }
      if (bytes[start] === 0x23) this.#line(bytes.toString('latin1', start, nl))
      start = nl + 1
    }
  }

  end(): void {
    if (this.#carry) this.#line(this.#carry.toString('latin1'))
    this.#carry = null
    this.#skipping = false
  }

  #line(line: string): void {
    const range = parseSeekLine(line)
    if (range) this.ranges.push(range)
    else if (!this.head) {
      const parsed = parseSeekHeadLine(line)
      if (parsed) [this.head, this.lists] = [parsed.head, parsed.lists]
    }
  }
}

/** The locator text, or a placeholder (zeros) while the archive is written. */
export function locatorBytes(locator: Locator | null): Uint8Array {
  const hex = (n: number) => n.toString(16).padStart(16, '0')
  const l = locator ?? { tailOffset: 0, tailTarOffset: 0, tarSize: 0, lines: null }
  const lines = l.lines ?? { offset: 0, tarOffset: 0 }
  return encoder.encode(`${PREFIX}${[l.tailOffset, l.tailTarOffset, l.tarSize, lines.offset, lines.tarOffset].map(hex).join(' ')}`)
}

function parseLocator(bytes: Uint8Array): Locator | null {
  const text = new TextDecoder('latin1').decode(bytes)
  const match = /^clmnt-seek (?:1 ([0-9a-f]{16}) ([0-9a-f]{16}) ([0-9a-f]{16})|2 ([0-9a-f]{16}) ([0-9a-f]{16}) ([0-9a-f]{16}) ([0-9a-f]{16}) ([0-9a-f]{16}))$/.exec(text)
  if (!match) return null
  const numbers = match.slice(1).filter((h) => h !== undefined).map((h) => Number.parseInt(h, 16))
  const [tailOffset, tailTarOffset, tarSize, linesOffset, linesTar] = numbers as [number, number, number, number?, number?]
  if (tailOffset === 0 || tarSize === 0) return null
  const lines = linesOffset ? { offset: linesOffset, tarOffset: linesTar! } : null
  return { tailOffset, tailTarOffset, tarSize, lines }
}

/** gzip header with the locator's room: deflate, FCOMMENT, no mtime (the manifest tells the time), OS unix. */
export const GZIP_LOCATOR_AT = 10
export function gzipHeader(): Uint8Array {
  const header = new Uint8Array(GZIP_LOCATOR_AT + LOCATOR_LENGTH + 1)
  header.set([0x1f, 0x8b, 0x08, 0x10, 0, 0, 0, 0, 0x00, 0x03])
  header.set(locatorBytes(null), GZIP_LOCATOR_AT)
  return header
}

/** zstd skippable frame (magic 0x184D2A5C) holding the locator; the locator starts 8 bytes in. */
export const ZSTD_LOCATOR_IN_FRAME = 8
export function zstdLocatorFrame(): Uint8Array {
  const frame = new Uint8Array(8 + LOCATOR_LENGTH)
  const view = new DataView(frame.buffer)
  view.setUint32(0, 0x184d2a5c, true)
  view.setUint32(4, LOCATOR_LENGTH, true)
  frame.set(locatorBytes(null), 8)
  return frame
}

export interface FoundLocator {
  locator: Locator
  /** where compressed data starts: after the gzip header; 0 for zstd (its decoder skips the locator frame) */
  dataStart: number
  fileSize: number
}

/** The locator of an archive file, or null when it has none (older, foreign or recompressed archives). */
export function readLocator(path: string, compression: Compression): FoundLocator | null {
  const fd = openSync(path, 'r')
  try {
    const fileSize = fstatSync(fd).size
    const read = (at: number, length: number): Uint8Array => {
      const buf = new Uint8Array(length)
      const n = at < fileSize ? readSync(fd, buf, 0, length, at) : 0
      return buf.subarray(0, n)
    }
    if (compression === 'gzip') {
      const head = read(0, GZIP_LOCATOR_AT + LOCATOR_LENGTH + 1)
      // exactly the header clmnt writes: FCOMMENT alone, the comment NUL-terminated (either version's length)
      const length = head.length > GZIP_LOCATOR_AT + V1_LENGTH && head[GZIP_LOCATOR_AT + V1_LENGTH] === 0 ? V1_LENGTH : LOCATOR_LENGTH
      if (head.length < GZIP_LOCATOR_AT + length + 1 || head[3] !== 0x10 || head[GZIP_LOCATOR_AT + length] !== 0) return null
      const locator = parseLocator(head.subarray(GZIP_LOCATOR_AT, GZIP_LOCATOR_AT + length))
      return locator && { locator, dataStart: GZIP_LOCATOR_AT + length + 1, fileSize }
    }
    const frameEnd = zstdFrameEnd(read, fileSize)
    if (frameEnd === null) return null
    const frame = read(frameEnd, 8 + LOCATOR_LENGTH)
    if (frame.length < 8 + V1_LENGTH) return null
    const view = new DataView(frame.buffer, frame.byteOffset)
    const length = view.getUint32(4, true)
    if (view.getUint32(0, true) !== 0x184d2a5c || (length !== LOCATOR_LENGTH && length !== V1_LENGTH) || frame.length < 8 + length) return null
    const locator = parseLocator(frame.subarray(8, 8 + length))
    return locator && { locator, dataStart: 0, fileSize }
  } finally {
    closeSync(fd)
  }
}

/** Where the zstd frame at offset 0 ends (RFC 8878: frame header, blocks, optional checksum), or null. */
function zstdFrameEnd(read: (at: number, length: number) => Uint8Array, fileSize: number): number | null {
  const head = read(0, 18)
  if (head.length < 6 || head[0] !== 0x28 || head[1] !== 0xb5 || head[2] !== 0x2f || head[3] !== 0xfd) return null
  const descriptor = head[4]!
  const singleSegment = (descriptor >> 5) & 1
  const fcsBytes = [singleSegment, 2, 4, 8][descriptor >> 6]!
  const dictBytes = [0, 1, 2, 4][descriptor & 3]!
  let at = 5 + (singleSegment ? 0 : 1) + dictBytes + fcsBytes
  for (let blocks = 0; at + 3 <= fileSize && blocks < 1 << 16; blocks++) {
    const b = read(at, 3)
    if (b.length < 3) return null
    const header = b[0]! | (b[1]! << 8) | (b[2]! << 16)
    const type = (header >> 1) & 3
    if (type === 3) return null
    at += 3 + (type === 1 ? 1 : header >> 3)
    if (header & 1) return at + ((descriptor >> 2) & 1 ? 4 : 0)
  }
  return null
}
