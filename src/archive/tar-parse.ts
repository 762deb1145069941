/**
 * Reading tar: a push-based, synchronous parser (feed it bytes, it calls back per entry), so a
 * reader can stop after the first member and a hostile archive is judged entry by entry.
 */
import { BLOCK, padded, type EntryType, type TarEntry } from './tar.ts'

const decoder = new TextDecoder()

export class TarError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message)
    this.name = 'TarError'
  }
}

/** What the parser calls; returning 'stop' from any of them ends parsing (push() returns false). */
export interface TarSink {
  entry(entry: TarEntry): void | 'stop'
  data?(chunk: Uint8Array, entry: TarEntry): void | 'stop'
  entryEnd?(entry: TarEntry): void | 'stop'
}

const enum State {
  Header,
  Data,
  Meta,
  Padding,
  Done,
}

const TYPES: Record<string, EntryType> = {
  '0': 'file',
  '\0': 'file',
  '7': 'file',
  '1': 'hardlink',
  '2': 'symlink',
  '3': 'char-device',
  '4': 'block-device',
  '5': 'directory',
  '6': 'fifo',
}

/**
 * Push-based tar reader: `push()` decompressed bytes as they come, `end()` when the input ends.
 * Throws TarError on a broken header or a stream that ends early.
 */
export class TarParser {
  #state = State.Header
  #header = new Uint8Array(BLOCK)
  #headerFill = 0
  #remaining = 0
  #padding = 0
  #offset = 0
  #entry: TarEntry | null = null
  #meta: { kind: 'pax' | 'paxGlobal' | 'longname' | 'longlink'; chunks: Uint8Array[]; size: number } | null = null
  #pending: { pax?: Record<string, string>; longname?: string; longlink?: string; offset?: number } = {}
  #zeroBlocks = 0
  #stopped = false
  #last: string | null = null
  /** non-zero bytes after the end-of-archive blocks */
  trailingGarbage = false
  /** the end-of-archive marker (two zero blocks) was seen */
  get complete(): boolean {
    return this.#state === State.Done
  }
  get offset(): number {
    return this.#offset
  }

  constructor(private readonly sink: TarSink) {}

  /** false once the sink said stop: push no more. */
  push(chunk: Uint8Array): boolean {
    let i = 0
    while (i < chunk.length && !this.#stopped) {
      switch (this.#state) {
        case State.Header: {
          const take = Math.min(BLOCK - this.#headerFill, chunk.length - i)
          this.#header.set(chunk.subarray(i, i + take), this.#headerFill)
          this.#headerFill += take
          i += take
          this.#offset += take
          if (this.#headerFill === BLOCK) {
            this.#headerFill = 0
            this.#onHeader()
          }
          break
        }
        case State.Data:
        case State.Meta: {
          const take = Math.min(this.#remaining, chunk.length - i)
          const part = chunk.subarray(i, i + take)
          i += take
          this.#offset += take
          this.#remaining -= take
          if (this.#state === State.Meta) {
            this.#meta!.chunks.push(part.slice())
          } else if (this.sink.data && take > 0 && this.sink.data(part, this.#entry!) === 'stop') this.#stopped = true
          if (this.#remaining === 0) this.#endOfData()
          break
        }
        case State.Padding: {
          const take = Math.min(this.#padding, chunk.length - i)
          i += take
          this.#offset += take
          this.#padding -= take
          if (this.#padding === 0) this.#state = State.Header
          break
        }
        case State.Done: {
          for (; i < chunk.length; i++) if (chunk[i] !== 0) this.trailingGarbage = true
          this.#offset += chunk.length - i
          break
        }
      }
    }
    return !this.#stopped
  }

  /** The input ended: throws when that is before the end-of-archive marker. */
  end(): void {
    if (this.#stopped || this.#state === State.Done) return
    if (this.#state === State.Header && this.#headerFill === 0 && !this.#entry) {
      throw new TarError(this.#zeroBlocks ? 'tar stream ends after a single zero block (truncated)' : 'tar stream ends without the end-of-archive blocks (truncated)', this.#offset)
    }
    const where = this.#entry ? ` inside member ${JSON.stringify(this.#entry.name)}` : this.#last ? ` after member ${JSON.stringify(this.#last)}` : ''
    throw new TarError(`tar stream ends early${where} (truncated)`, this.#offset)
  }

  #onHeader(): void {
    const h = this.#header
    const headerOffset = this.#offset - BLOCK
    if (h.every((b) => b === 0)) {
      this.#zeroBlocks++
      if (this.#zeroBlocks >= 2) this.#state = State.Done
      return
    }
    if (this.#zeroBlocks) throw new TarError('a single zero block in the middle of the archive', headerOffset)
    const stored = parseNumber(h, 148, 8)
    let unsigned = 0
    let signed = 0
    for (let k = 0; k < BLOCK; k++) {
      const byte = k >= 148 && k < 156 ? 32 : h[k]!
      unsigned += byte
      signed += byte > 127 ? byte - 256 : byte
    }
    if (stored !== unsigned && stored !== signed) throw new TarError('invalid tar header (checksum mismatch): not a tar archive, or corrupt', headerOffset)
    const typeflag = String.fromCharCode(h[156]!)
    const size = parseNumber(h, 124, 12)
    if (!Number.isSafeInteger(size) || size < 0) throw new TarError('invalid member size', headerOffset)
    this.#pending.offset ??= headerOffset
    if (typeflag === 'x' || typeflag === 'g' || typeflag === 'L' || typeflag === 'K') {
      if (size > 16 << 20) throw new TarError('extended header larger than 16 MiB', headerOffset)
      const kind = typeflag === 'x' ? 'pax' : typeflag === 'g' ? 'paxGlobal' : typeflag === 'L' ? 'longname' : 'longlink'
      this.#meta = { kind, chunks: [], size }
      this.#remaining = size
      this.#padding = padded(size) - size
      this.#state = State.Meta
      if (size === 0) this.#endOfData()
      return
    }
    const ustarMagic = readString(h, 257, 6) === 'ustar'
    const gnu = readString(h, 257, 8) === 'ustar  '
    let name = readString(h, 0, 100)
    const prefix = ustarMagic && !gnu ? readString(h, 345, 155) : ''
    if (prefix) name = `${prefix}/${name}`
    const pax = this.#pending.pax ?? {}
    if (this.#pending.longname !== undefined) name = this.#pending.longname
    if (pax.path !== undefined) name = pax.path
    let linkname = readString(h, 157, 100)
    if (this.#pending.longlink !== undefined) linkname = this.#pending.longlink
    if (pax.linkpath !== undefined) linkname = pax.linkpath
    const paxSize = pax.size !== undefined ? Number(pax.size) : size
    const entry: TarEntry = {
      name,
      type: TYPES[typeflag] ?? (typeflag >= '0' && typeflag <= '9' ? 'file' : 'other'),
      typeflag,
      size: Number.isSafeInteger(paxSize) && paxSize >= 0 ? paxSize : size,
      mode: parseNumber(h, 100, 8),
      mtime: pax.mtime !== undefined && Number.isFinite(Number(pax.mtime)) ? Number(pax.mtime) : parseNumber(h, 136, 12),
      uid: pax.uid !== undefined ? Number(pax.uid) : parseNumber(h, 108, 8),
      gid: pax.gid !== undefined ? Number(pax.gid) : parseNumber(h, 116, 8),
      uname: pax.uname ?? readString(h, 265, 32),
      gname: pax.gname ?? readString(h, 297, 32),
      linkname,
      offset: this.#pending.offset,
    }
    this.#pending = {}
    // only regular files carry data; a size on a link or folder header is ignored, as GNU tar does
    const dataSize = entry.type === 'file' || entry.type === 'other' ? entry.size : 0
    if (entry.type !== 'file' && entry.type !== 'other') entry.size = 0
    this.#entry = entry
    if (this.sink.entry(entry) === 'stop') {
      this.#stopped = true
      return
    }
    this.#remaining = dataSize
    this.#padding = padded(dataSize) - dataSize
    this.#state = State.Data
    if (dataSize === 0) this.#endOfData()
  }

  #endOfData(): void {
    if (this.#state === State.Meta) {
      const meta = this.#meta!
      const body = concat(meta.chunks, meta.size)
      if (meta.kind === 'pax') this.#pending.pax = { ...this.#pending.pax, ...parsePax(body) }
      else if (meta.kind === 'longname') this.#pending.longname = cString(body)
      else if (meta.kind === 'longlink') this.#pending.longlink = cString(body)
      this.#meta = null
    } else {
      const entry = this.#entry!
      this.#entry = null
      this.#last = entry.name
      if (this.sink.entryEnd?.(entry) === 'stop') this.#stopped = true
    }
    this.#state = this.#padding ? State.Padding : State.Header
  }
}

function concat(chunks: Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size)
  let at = 0
  for (const c of chunks) {
    out.set(c, at)
    at += c.length
  }
  return out
}

function cString(bytes: Uint8Array): string {
  const end = bytes.indexOf(0)
  return decoder.decode(end < 0 ? bytes : bytes.subarray(0, end))
}

function readString(h: Uint8Array, offset: number, length: number): string {
  return cString(h.subarray(offset, offset + length))
}

/** Octal (NUL/space terminated) or GNU base-256 (high bit set). */
function parseNumber(h: Uint8Array, offset: number, length: number): number {
  if (h[offset]! & 0x80) {
    let n = h[offset]! & 0x7f
    for (let k = 1; k < length; k++) n = n * 256 + h[offset + k]!
    return n
  }
  const text = readString(h, offset, length).trim()
  if (text === '') return 0
  return /^[0-7]+$/.test(text) ? parseInt(text, 8) : NaN
}

function parsePax(body: Uint8Array): Record<string, string> {
  const out: Record<string, string> = {}
  let at = 0
  while (at < body.length) {
    const space = body.indexOf(0x20, at)
    if (space < 0) break
    const length = Number(decoder.decode(body.subarray(at, space)))
    if (!Number.isInteger(length) || length <= 0 || at + length > body.length) break
    const record = decoder.decode(body.subarray(space + 1, at + length - 1))
    const eq = record.indexOf('=')
    if (eq > 0) out[record.slice(0, eq)] = record.slice(eq + 1)
    at += length
  }
  return out
}
