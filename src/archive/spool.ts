import { closeSync, fstatSync, openSync, readSync, unlinkSync } from 'node:fs'
import { join } from 'node:path'
import { writeAll } from './compress.ts'

/**
 * An append-only scratch file: what a backup must remember per member (the plan, the checksum
 * lines, the index lines) goes here instead of into memory, so memory stays flat at any file count.
 * The file is unlinked as soon as it is opened: nothing is left behind, even after kill -9.
 */
const BUFFER = 256 << 10
let serial = 0

export class Spool {
  #fd: number
  #buf = new Uint8Array(BUFFER)
  #fill = 0
  /** bytes appended so far */
  size = 0

  constructor(dir: string) {
    const path = join(dir, `.clmnt-spool-${process.pid}-${++serial}`)
    this.#fd = openSync(path, 'wx+', 0o600)
    unlinkSync(path)
  }

  append(data: Uint8Array): void {
    if (data.length > BUFFER - this.#fill) this.#flush()
    if (data.length > BUFFER) writeAll(this.#fd, data)
    else {
      this.#buf.set(data, this.#fill)
      this.#fill += data.length
    }
    this.size += data.length
  }

  #flush(): void {
    if (this.#fill) writeAll(this.#fd, this.#buf.subarray(0, this.#fill))
    this.#fill = 0
  }

  /** The content, block by block (the buffer is reused: copy what you keep). */
  *blocks(): Generator<Uint8Array> {
    this.#flush()
    const block = new Uint8Array(BUFFER)
    const end = fstatSync(this.#fd).size
    for (let at = 0; at < end; ) {
      const n = readSync(this.#fd, block, 0, Math.min(BUFFER, end - at), at)
      if (n <= 0) break
      at += n
      yield block.subarray(0, n)
    }
  }

  /** The content as lines (without their newline), in order. */
  *lines(): Generator<Uint8Array> {
    let carry: Uint8Array | null = null
    for (const block of this.blocks()) {
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
