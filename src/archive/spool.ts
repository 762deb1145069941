import { closeSync, ftruncateSync, openSync, readSync, unlinkSync } from 'node:fs'
import { join } from 'node:path'
import { writeAll } from '../lib/safe-fs.ts'

/**
 * An append-only scratch file: what a backup, verify or restore must remember per member (the
 * plan, the checksum lines, the index lines, the member log) goes here instead of into memory, so
 * memory stays flat at any file count. The file is unlinked as soon as it is opened: nothing is
 * left behind, even after kill -9.
 *
 * Besides bytes and lines, a spool holds records: latin1 strings (byte strings, byte-names.ts),
 * each after its length in 4 bytes, read back in order or one at a time by offset.
 */
const BUFFER = 256 << 10
let serial = 0

export class Spool {
  #fd: number
  #buf: Buffer
  #fill = 0
  /** bytes appended so far */
  size = 0

  /** `buffer`: bytes kept before a write (smaller for the many spools of a partition) */
  constructor(dir: string, buffer = BUFFER) {
    const path = join(dir, `.clmnt-spool-${process.pid}-${++serial}`)
    this.#fd = openSync(path, 'wx+', 0o600)
    unlinkSync(path)
    this.#buf = Buffer.allocUnsafe(buffer)
  }

  append(data: Uint8Array): void {
    if (data.length > this.#buf.length - this.#fill) this.#flush()
    if (data.length > this.#buf.length) writeAll(this.#fd, data, data.length, this.size)
    else {
      this.#buf.set(data, this.#fill)
      this.#fill += data.length
    }
    this.size += data.length
  }

  /** Leave `length` bytes out: they read back as zeros (a hole in the file, nothing written). */
  skip(length: number): void {
    this.#flush()
    this.size += length
    // the file reaches its size even when nothing follows the hole
    ftruncateSync(this.#fd, this.size)
  }

  /** Append a record (a latin1 string); returns its offset. */
  record(text: string): number {
    const at = this.size
    const length = text.length + 4
    if (length > this.#buf.length) {
      const bytes = Buffer.allocUnsafe(length)
      bytes.writeUInt32LE(text.length, 0)
      bytes.write(text, 4, 'latin1')
      this.append(bytes)
      return at
    }
    if (length > this.#buf.length - this.#fill) this.#flush()
    this.#buf.writeUInt32LE(text.length, this.#fill)
    this.#buf.write(text, this.#fill + 4, 'latin1')
    this.#fill += length
    this.size += length
    return at
  }

  /** The record at `offset` (as record() returned it). */
  recordAt(offset: number): string {
    this.#flush()
    const head = Buffer.allocUnsafe(4)
    readSync(this.#fd, head, 0, 4, offset)
    const body = Buffer.allocUnsafe(head.readUInt32LE(0))
    readSync(this.#fd, body, 0, body.length, offset + 4)
    return body.toString('latin1')
  }

  /** Every record, in order, with its offset. */
  *records(): Generator<[text: string, offset: number]> {
    let window = Buffer.allocUnsafe(BUFFER)
    let start = 0
    let end = 0
    let base = 0
    for (const block of this.blocks()) {
      // what is left of the window moves to its front, then the block goes after it
      if (end - start + block.length > window.length) {
        const bigger = Buffer.allocUnsafe(Math.max(window.length, end - start + block.length))
        window.copy(bigger, 0, start, end)
        window = bigger
      } else window.copyWithin(0, start, end)
      base += start
      end -= start
      start = 0
      window.set(block, end)
      end += block.length
      while (end - start >= 4) {
        const length = window.readUInt32LE(start)
        if (end - start < length + 4) break
        yield [window.toString('latin1', start + 4, start + 4 + length), base + start]
        start += length + 4
      }
    }
  }

  #flush(): void {
    if (this.#fill) writeAll(this.#fd, this.#buf, this.#fill, this.size - this.#fill)
    this.#fill = 0
  }

  /** The content (or bytes [from, to) of it), block by block (the buffer is reused: copy what you keep). */
  *blocks(from = 0, to = this.size): Generator<Uint8Array> {
    this.#flush()
    const block = new Uint8Array(BUFFER)
    const end = Math.min(to, this.size)
    for (let at = from; at < end; ) {
      const n = readSync(this.#fd, block, 0, Math.min(BUFFER, end - at), at)
      if (n <= 0) break
      at += n
      yield block.subarray(0, n)
    }
  }

  /** The content (or bytes [from, to) of it) as lines (without their newline), in order. */
  *lines(from = 0, to = this.size): Generator<Uint8Array> {
    let carry: Uint8Array | null = null
    for (const block of this.blocks(from, to)) {
      let start = 0
      for (let nl = block.indexOf(0x0a); nl >= 0; nl = block.indexOf(0x0a, start)) {
        const piece = block.subarray(start, nl)
        yield carry ? joinBytes(carry, piece) : piece
        carry = null
        start = nl + 1
      }
      if (start < block.length) carry = carry ? joinBytes(carry, block.subarray(start)) : block.slice(start)
    }
    if (carry?.length) yield carry
  }

  /** How many newlines bytes [from, to) hold. */
  newlines(from: number, to: number): number {
    let count = 0
    for (const block of this.blocks(from, to)) for (let nl = block.indexOf(0x0a); nl >= 0; nl = block.indexOf(0x0a, nl + 1)) count++
    return count
  }

  close(): void {
    if (this.#fd >= 0) closeSync(this.#fd)
    this.#fd = -1
  }
}

function joinBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length)
  out.set(a)
  out.set(b, a.length)
  return out
}
