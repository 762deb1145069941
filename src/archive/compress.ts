import { availableParallelism } from 'node:os'
import { writeAll } from '../lib/safe-fs.ts'
import { WORKER_SOURCE } from './compress-worker.ts'
import { GZIP_LOCATOR_AT, gzipHeader, locatorBytes, ZSTD_LOCATOR_IN_FRAME, zstdLocatorFrame, type Locator } from './seek-index.ts'

/**
 * Parallel compression: the tar stream is cut into 1 MiB chunks, each compressed on its own by a
 * worker thread, written in order by the main thread, so the main thread reads and hashes files
 * while every core compresses. Memory: `maxInFlight` chunks in and out.
 *
 * gzip is ONE member, as pigz writes it: each chunk becomes raw deflate blocks ending in a sync
 * flush (byte-aligned, not final), and the blocks of all chunks follow one gzip header; `finish`
 * adds the final block and one trailer. Its CRC-32 runs over each chunk as it is submitted, on the
 * main thread (zlib's CRC-32 runs at ~10 GB/s: cheaper than joining per-chunk CRCs). Several
 * members would be valid gzip too, but streaming readers (Python's `tarfile` 'r|gz') stop after
 * the first one. Each chunk starts with an empty window: ~0.1% bigger than one deflate stream.
 * zstd: one frame per chunk (zstd readers all read concatenated frames).
 *
 * Buffers go round, never to the collector: a chunk buffer goes to a worker with an output buffer,
 * both come back, the output is written and both wait in the spare lists for the next chunk. Fresh
 * buffers for every chunk made ~1 MiB of garbage per MiB archived, which the main thread could only
 * keep in check with a full collection every few chunks (~50 ms each, half its time).
 */
export type Compression = 'gzip' | 'zstd'

export const CHUNK_SIZE = 1 << 20
/** room for what a chunk compresses to: deflate's and zstd's worst cases add well under 1% */
const OUT_SIZE = CHUNK_SIZE + (64 << 10)
let workerUrl: string | undefined

interface Result {
  id: number
  /** the output buffer, its first `size` bytes the compressed chunk */
  out: Uint8Array
  size: number
  error?: string
  buf: Uint8Array
}

/** gzip header: deflate, the molt index's locator as comment (seek-index.ts), no mtime, OS unix */
const GZIP_HEADER = gzipHeader()
/** the last deflate block: stored, final, holding the end-of-archive blocks (1024 zero bytes) */
const FINAL_BLOCK = new Uint8Array([0x01, 0x00, 0x04, 0xff, 0xfb])

export interface CompressorOptions {
  fd: number
  compression: Compression
  level: number
  workers?: number
  /** bytes written to fd so far, after each write */
  onWrite?: (bytesOut: number) => void
}

export class ParallelCompressor {
  readonly #fd: number
  readonly #options: CompressorOptions
  readonly #workers: Worker[] = []
  readonly #pending: number[] = []
  readonly #done = new Map<number, Result>()
  readonly #spare: Uint8Array[] = []
  readonly #spareOut: Uint8Array[] = []
  readonly #maxInFlight: number
  #nextId = 0
  #nextWrite = 0
  #inFlight = 0
  #failure: Error | null = null
  /** gzip: CRC-32 and size of everything written so far */
  #crc = 0
  // zlib's CRC-32 (~10 GB/s), required here: a top-level import would load zlib on every start of the CLI (cron)
  readonly #crc32 = (require('node:zlib') as typeof import('node:zlib')).crc32
  #size = 0
  #wake: (() => void) | null = null
  /** chunk id → its offset in the file, for the chunks asked for with `boundary()` */
  readonly #boundaries = new Map<number, number>()
  /** where the locator's placeholder is in the file (seek-index.ts) */
  #locatorAt = -1
  bytesOut = 0

  constructor(options: CompressorOptions) {
    this.#fd = options.fd
    this.#options = options
    const count = Math.max(1, Math.min(options.workers ?? availableParallelism(), 8))
    this.#maxInFlight = count * 2 + 1
    workerUrl ??= URL.createObjectURL(new Blob([WORKER_SOURCE], { type: 'application/javascript' }))
    for (let i = 0; i < count; i++) {
      const worker = new Worker(workerUrl)
      worker.onmessage = (event: MessageEvent<Result>) => this.#onResult(i, event.data)
      worker.onerror = (event) => this.#fail(new Error(`compression worker failed: ${event.message}`))
      this.#workers.push(worker)
      this.#pending.push(0)
    }
  }

  /** A chunk buffer to fill; given back to `submit`. */
  takeBuffer(): Uint8Array {
    return this.#spare.pop() ?? new Uint8Array(CHUNK_SIZE)
  }

  /**
   * Compress `buf[0, length)` into the next member(s); `marks` are offsets where file data starts
   * or ends. The buffer is handed over (transferred).
   * Returns a promise only when the caller must wait for room (backpressure).
   */
  submit(buf: Uint8Array, length: number, marks: number[] = []): Promise<void> | undefined {
    if (this.#failure) throw this.#failure
    const id = this.#nextId++
    let target = 0
    for (let i = 1; i < this.#workers.length; i++) if (this.#pending[i]! < this.#pending[target]!) target = i
    this.#pending[target]!++
    this.#inFlight++
    const { level, compression } = this.#options
    if (compression === 'gzip') {
      this.#crc = this.#crc32(buf.subarray(0, length), this.#crc)
      this.#size += length
    }
    const out = this.#spareOut.pop() ?? new Uint8Array(OUT_SIZE)
    this.#workers[target]!.postMessage({ id, buf, length, level, compression, marks, out }, [buf.buffer as ArrayBuffer, out.buffer as ArrayBuffer])
    if (this.#inFlight >= this.#maxInFlight) return this.#waitBelow(this.#maxInFlight)
    return undefined
  }

  /**
   * The next chunk starts a molt (or the archive's tail): its offset in the file is kept, for the
   * molt index. Call after the tar stream's flush(), so the chunk starts exactly there.
   */
  boundary(): number {
    this.#boundaries.set(this.#nextId, -1)
    return this.#nextId
  }

  /** The file offset of a chunk asked for with boundary(), once everything before it is written (see settle()). */
  offsetOf(id: number): number {
    const at = this.#boundaries.get(id)
    if (at === undefined) throw new Error(`chunk ${id} was not marked as a boundary`)
    // nothing submitted since the mark: the chunk will start where the file ends now
    if (at < 0 && id === this.#nextId && this.#nextWrite === id) return this.bytesOut
    if (at < 0) throw new Error(`chunk ${id} is not written yet`)
    return at
  }

  /** Wait until every chunk submitted so far is in the file. */
  async settle(): Promise<void> {
    await this.#waitBelow(1)
  }

  /** Fill in the locator placeholder written near the start of the file (after finish()). */
  writeLocator(locator: Locator): void {
    if (this.#locatorAt < 0) throw new Error('no locator placeholder in this archive')
    const bytes = locatorBytes(locator)
    writeAll(this.#fd, bytes, bytes.length, this.#locatorAt)
  }

  /**
   * Wait until everything submitted is written, then end the stream with the end-of-archive
   * blocks: gzip in a final stored block and the trailer, zstd in a frame of their own. Either way
   * every complete archive ends with the same bytes (see endsLikeCompleteArchive).
   */
  async finish(): Promise<number> {
    if (this.#options.compression === 'zstd') {
      const buf = this.takeBuffer()
      buf.set(END_OF_ARCHIVE)
      const wait = this.submit(buf, END_OF_ARCHIVE.length)
      if (wait) await wait
    }
    await this.#waitBelow(1)
    if (this.#failure) throw this.#failure
    if (this.#options.compression === 'gzip') {
      const crc = this.#crc32(END_OF_ARCHIVE, this.#crc)
      const trailer = new Uint8Array(8)
      const view = new DataView(trailer.buffer)
      view.setUint32(0, crc, true)
      view.setUint32(4, (this.#size + END_OF_ARCHIVE.length) % 2 ** 32, true)
      if (this.#nextWrite === 0) this.#writeGzipHeader()
      this.#write(Buffer.concat([FINAL_BLOCK, END_OF_ARCHIVE, trailer]))
    }
    return this.bytesOut
  }

  close(): void {
    for (const worker of this.#workers) worker.terminate()
    this.#workers.length = 0
  }

  async #waitBelow(limit: number): Promise<void> {
    while (this.#inFlight >= limit && !this.#failure) await new Promise<void>((resolve) => (this.#wake = resolve))
    if (this.#failure) throw this.#failure
  }

  #onResult(worker: number, result: Result): void {
    this.#pending[worker]!--
    this.#spare.push(result.buf)
    if (result.error !== undefined) {
      this.#spareOut.push(result.out)
      return this.#fail(new Error(`compression failed: ${result.error}`))
    }
    this.#done.set(result.id, result)
    try {
      // members go to the file in order; a chunk finished early waits here for the ones before it
      for (let done = this.#done.get(this.#nextWrite); done; done = this.#done.get(this.#nextWrite)) {
        this.#done.delete(this.#nextWrite)
        if (this.#options.compression === 'gzip' && this.#nextWrite === 0) this.#writeGzipHeader()
        if (this.#boundaries.has(this.#nextWrite)) this.#boundaries.set(this.#nextWrite, this.bytesOut)
        this.#nextWrite++
        this.#write(done.out.subarray(0, done.size))
        if (done.out.length === OUT_SIZE) this.#spareOut.push(done.out)
        if (this.#options.compression === 'zstd' && this.#nextWrite === 1) {
          // the locator's frame follows the first frame (the manifest's): the file still starts with zstd's magic
          this.#locatorAt = this.bytesOut + ZSTD_LOCATOR_IN_FRAME
          this.#write(zstdLocatorFrame())
        }
        this.#inFlight--
        this.#options.onWrite?.(this.bytesOut)
      }
    } catch (error) {
      return this.#fail(error as Error)
    }
    this.#wakeUp()
  }

  #writeGzipHeader(): void {
    this.#locatorAt = GZIP_LOCATOR_AT
    this.#write(GZIP_HEADER)
  }

  #write(data: Uint8Array): void {
    writeAll(this.#fd, data)
    this.bytesOut += data.length
  }

  #fail(error: Error): void {
    this.#failure ??= error
    this.#wakeUp()
  }

  #wakeUp(): void {
    const wake = this.#wake
    this.#wake = null
    wake?.()
  }
}

/** gzip or zstd by magic bytes; null for anything else. */
export function detectCompression(head: Uint8Array): Compression | null {
  if (head[0] === 0x1f && head[1] === 0x8b) return 'gzip'
  if (head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return 'zstd'
  return null
}

export const END_OF_ARCHIVE = new Uint8Array(1024)

const END_CRC = Bun.hash.crc32(END_OF_ARCHIVE) >>> 0

/** How many bytes at the end of a file `endsLikeCompleteArchive` wants to see. */
export const COMPLETE_TAIL_LENGTH = FINAL_BLOCK.length + END_OF_ARCHIVE.length + 8

/**
 * Does a file ending with `tail` (its last COMPLETE_TAIL_LENGTH bytes, or all of a shorter file)
 * end like a complete clmnt archive? list-backups asks this to tell a complete archive from a cut
 * one without reading it. gzip (format 3): the final stored block holding the end-of-archive
 * blocks, then an 8-byte trailer; format 2 wrote the end blocks as a gzip member of their own,
 * so its files end with that member's trailer. zstd: the end blocks' own frame, whose last 4
 * bytes are the low 32 bits of their XXH64.
 */
export function endsLikeCompleteArchive(tail: Uint8Array, compression: Compression): boolean {
  const endsWith = (expected: Uint8Array, at = tail.length - expected.length) => at >= 0 && expected.every((b, i) => tail[at + i] === b)
  if (compression === 'zstd') return tail.length >= 4 + 18 && endsWith(completeArchiveTail('zstd'))
  const finalBlock = tail.length - COMPLETE_TAIL_LENGTH
  if (finalBlock >= 0 && endsWith(FINAL_BLOCK, finalBlock) && tail.subarray(finalBlock + FINAL_BLOCK.length, tail.length - 8).every((b) => b === 0)) return true
  return tail.length >= 8 + 18 && endsWith(completeArchiveTail('gzip'))
}

/** Format 2's trailers (gzip: CRC-32 and size of the 1024 zero bytes; zstd: the end blocks' frame checksum). */
export function completeArchiveTail(compression: Compression): Uint8Array {
  if (compression === 'gzip') {
    const tail = new Uint8Array(8)
    const view = new DataView(tail.buffer)
    view.setUint32(0, END_CRC, true)
    view.setUint32(4, END_OF_ARCHIVE.length, true)
    return tail
  }
  const tail = new Uint8Array(4)
  new DataView(tail.buffer).setUint32(0, Number(BigInt.asUintN(32, Bun.hash.xxHash64(END_OF_ARCHIVE, 0n))), true)
  return tail
}
