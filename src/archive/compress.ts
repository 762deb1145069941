import { writeSync } from 'node:fs'
import { availableParallelism } from 'node:os'

/**
 * Parallel compression: the tar stream is cut into 1 MiB chunks, each compressed on its own by a
 * worker thread into complete gzip members (or a zstd frame), written in order by the main thread.
 * Concatenated members are one valid gzip stream (RFC 1952; GNU tar, gunzip, node-tar and zlib all
 * read it), so the main thread reads and hashes files while every core compresses.
 * Memory: `maxInFlight` chunks in and out. (Workers writing in turn through a shared counter saved
 * ~7 MB but cost 25% in time: a worker waiting for its turn is a worker not compressing.)
 *
 * gzip uses libdeflate (bundled with Bun) at the requested level: about twice zlib's speed at the
 * same level, on random data as on text, and a better ratio.
 */
export type Compression = 'gzip' | 'zstd'

export const CHUNK_SIZE = 1 << 20
/**
 * Random data (encrypted or already compressed attachments) does not deflate: level 6 spends
 * ~20 ms per MiB on it to emit, in the end, stored blocks. The writer marks where each file's data
 * starts and ends; a file region of 16 KiB or more whose byte entropy (sampled every other byte) is
 * as high as uniform random data gives for that sample size (less a 0.02 bit margin: ~7.96-7.98
 * bits/byte) goes out as stored deflate blocks at memcpy speed. JPEG, zip, base64 and text measure
 * lower and are deflated. Everything else is compressed at the level asked, so the archive is what
 * level 6 would give, give or take a few bytes of member headers.
 */
const STORE_MIN = 16 << 10

// A Blob URL: works the same from source and from the compiled binary, which has no worker file.
const WORKER_SOURCE = `
import { zstdCompressSync, constants } from 'node:zlib'
const histogram = new Uint32Array(256)
function looksRandom(buf, from, to) {
  histogram.fill(0)
  let n = 0
  for (let k = from; k < to; k += 2) { histogram[buf[k]]++; n++ }
  let bits = 0
  for (let i = 0; i < 256; i++) { const c = histogram[i]; if (c) { const p = c / n; bits -= p * Math.log2(p) } }
  return bits > 8 - 255 / (2 * n * Math.LN2) - 0.02
}
function gzip(buf, length, level, marks) {
  const parts = []
  let start = 0, runStored = false, from = 0
  const cut = (at, stored) => {
    if (at > start && stored !== runStored) {
      parts.push(Bun.gzipSync(buf.subarray(start, at), { level: runStored ? 0 : level, library: 'libdeflate' }))
      start = at
    }
    runStored = stored
  }
  for (const to of [...marks, length]) {
    if (to <= from) continue
    cut(from, to - from >= ${STORE_MIN} && looksRandom(buf, from, to))
    from = to
  }
  if (length > start) parts.push(Bun.gzipSync(buf.subarray(start, length), { level: runStored ? 0 : level, library: 'libdeflate' }))
  if (parts.length === 1) return parts[0]
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) { out.set(p, at); at += p.length }
  return out
}
let handled = 0
self.onmessage = (event) => {
  if (++handled % 16 === 0) Bun.gc(true)
  const { id, buf, length, level, compression, marks } = event.data
  try {
    const out = compression === 'zstd'
      ? new Uint8Array(zstdCompressSync(buf.subarray(0, length), { params: { [constants.ZSTD_c_compressionLevel]: level, [constants.ZSTD_c_checksumFlag]: 1 } }))
      : gzip(buf, length, level, marks)
    postMessage({ id, out, buf }, [out.buffer, buf.buffer])
  } catch (error) {
    postMessage({ id, error: String(error && error.message || error), buf }, [buf.buffer])
  }
}
`

let workerUrl: string | undefined

interface Result {
  id: number
  out?: Uint8Array
  error?: string
  buf: Uint8Array
}

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
  readonly #done = new Map<number, Uint8Array>()
  readonly #spare: Uint8Array[] = []
  readonly #maxInFlight: number
  #nextId = 0
  #nextWrite = 0
  #inFlight = 0
  #written = 0
  #failure: Error | null = null
  #wake: (() => void) | null = null
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
    this.#workers[target]!.postMessage({ id, buf, length, level, compression, marks }, [buf.buffer as ArrayBuffer])
    if (this.#inFlight >= this.#maxInFlight) return this.#waitBelow(this.#maxInFlight)
    return undefined
  }

  /** Wait until everything submitted is written. */
  async finish(): Promise<number> {
    await this.#waitBelow(1)
    if (this.#failure) throw this.#failure
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
    if (result.error !== undefined) return this.#fail(new Error(`compression failed: ${result.error}`))
    this.#done.set(result.id, result.out!)
    try {
      // members go to the file in order; a chunk finished early waits here for the ones before it
      for (let out = this.#done.get(this.#nextWrite); out; out = this.#done.get(this.#nextWrite)) {
        this.#done.delete(this.#nextWrite++)
        writeAll(this.#fd, out)
        this.bytesOut += out.length
        this.#inFlight--
        // the collector is slow to notice garbage made this fast: ask now and then (keeps RSS flat)
        if (++this.#written % 16 === 0) Bun.gc(true)
        this.#options.onWrite?.(this.bytesOut)
      }
    } catch (error) {
      return this.#fail(error as Error)
    }
    this.#wakeUp()
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

export function writeAll(fd: number, data: Uint8Array): void {
  for (let at = 0; at < data.length; ) at += writeSync(fd, data, at, data.length - at)
}

/** gzip or zstd by magic bytes; null for anything else. */
export function detectCompression(head: Uint8Array): Compression | null {
  if (head[0] === 0x1f && head[1] === 0x8b) return 'gzip'
  if (head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return 'zstd'
  return null
}

export const END_OF_ARCHIVE = new Uint8Array(1024)

/**
 * The last bytes of every complete clmnt archive: the end-of-archive blocks are compressed alone,
 * so the file ends with that member's trailer whatever compressor or level wrote it
 * (gzip: CRC-32 and size of 1024 zero bytes; zstd: the low 32 bits of their XXH64).
 * list-backups checks these bytes to tell a complete archive from a cut one without reading it.
 */
export function completeArchiveTail(compression: Compression): Uint8Array {
  if (compression === 'gzip') {
    const tail = new Uint8Array(8)
    const view = new DataView(tail.buffer)
    view.setUint32(0, Bun.hash.crc32(END_OF_ARCHIVE) >>> 0, true)
    view.setUint32(4, END_OF_ARCHIVE.length, true)
    return tail
  }
  const tail = new Uint8Array(4)
  new DataView(tail.buffer).setUint32(0, Number(BigInt.asUintN(32, Bun.hash.xxHash64(END_OF_ARCHIVE, 0n))), true)
  return tail
}
