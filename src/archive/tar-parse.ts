/**
 * Reading tar: a push-based, synchronous parser (feed it bytes, it calls back per entry), so a
 * reader can stop after the first member and a hostile archive is judged entry by entry.
 *
 * It reads what GNU tar reads: ustar, pax (per-entry and global records), GNU long names, old GNU
 * and v7 headers, base-256 numbers (dates before 1970), GNU sparse files in every encoding (old GNU
 * 'S', pax 0.0, 0.1 and 1.0 — also bsdtar's default), dumpdirs of incremental archives ('D', read as
 * folders), pre-POSIX folders (a regular-file entry whose name ends in '/'), and archives that end
 * without the end-of-archive blocks. Names are byte strings (see byte-names.ts).
 */
import { BLOCK, padded } from './tar.ts'
import { TarError } from './tar-error.ts'
import { concat, cString, headerSum, parseNumber, parsePax, signedHeaderSum, type PaxRecords } from './tar-fields.ts'
import { memberEntry, type EntryType, type PendingHeaders, type TarEntry } from './tar-entry.ts'
import { checkSparseMap, MAX_SEGMENTS, oldGnuSparse, sparseMapLines, type SparseSegment } from './tar-sparse.ts'

export { TarError }

export type { EntryType, SparseSegment, TarEntry }

/** What the parser calls; returning 'stop' from any of them ends parsing (push() returns false). */
export interface TarSink {
  entry(entry: TarEntry): void | 'stop'
  /** a piece of the file's content, starting at `position` in the file (holes are never passed) */
  data?(chunk: Uint8Array, entry: TarEntry, position: number): void | 'stop'
  entryEnd?(entry: TarEntry): void | 'stop'
  /** a promise the reader waits on before it pushes more (the sink's writes are behind); null: go on */
  backlog?(): Promise<void> | null
}

const enum State {
  Header,
  Data,
  Meta,
  SparseHeader,
  SparseMap,
  Skip,
  Done,
}

const MAX_META = 16 << 20
/** the pax values of a member without any (never written to) */
const NO_PAX: Map<string, string> = new Map()
const text = new TextDecoder()

/**
 * Push-based tar reader: `push()` decompressed bytes as they come, `end()` when the input ends.
 * Throws TarError on a broken header or a stream that ends inside a member.
 */
export class TarParser {
  #state = State.Header
  /** a Buffer (its fields are read as latin1 without views), with a 4-byte view for the checksum */
  #header = Buffer.from(new ArrayBuffer(BLOCK))
  #words = new Uint32Array(this.#header.buffer, 0, BLOCK / 4)
  #headerFill = 0
  #remaining = 0
  #skip = 0
  #offset = 0
  #entry: TarEntry | null = null
  /** data positions of the current entry: segment index, bytes left in it, file position */
  #seg = 0
  #segLeft = 0
  #position = 0
  #meta: { kind: 'pax' | 'paxGlobal' | 'longname' | 'longlink'; chunks: Uint8Array[]; size: number } | null = null
  #mapText = ''
  #mapRead = 0
  #pending: PendingHeaders = {}
  #global: PaxRecords = { values: new Map(), sparse: [] }
  #zeroBlocks = 0
  #stopped = false
  #last: string | null = null
  /** bytes after the end-of-archive blocks, and whether any of them is not zero */
  afterEnd = 0
  trailingGarbage = false
  /** the archive ended without (both of) its end-of-archive blocks: GNU tar and bsdtar accept that */
  endMissing: 'none' | 'one' | null = null
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
        case State.Header:
        case State.SparseHeader: {
          const take = Math.min(BLOCK - this.#headerFill, chunk.length - i)
          this.#header.set(chunk.subarray(i, i + take), this.#headerFill)
          this.#headerFill += take
          i += take
          this.#offset += take
          if (this.#headerFill === BLOCK) {
            this.#headerFill = 0
            if (this.#state === State.Header) this.#onHeader()
            else this.#onSparseExtension()
          }
          break
        }
        case State.Meta: {
          const take = Math.min(this.#remaining, chunk.length - i)
          this.#meta!.chunks.push(chunk.slice(i, i + take))
          i += take
          this.#offset += take
          this.#remaining -= take
          if (this.#remaining === 0) this.#endOfMeta()
          break
        }
        case State.SparseMap: {
          // pax 1.0: decimal lines before the data, in whole blocks
          const take = Math.min(BLOCK - (this.#mapRead % BLOCK), chunk.length - i, this.#remaining)
          this.#mapText += text.decode(chunk.subarray(i, i + take))
          i += take
          this.#offset += take
          this.#mapRead += take
          this.#remaining -= take
          if (this.#mapRead % BLOCK === 0 || this.#remaining === 0) this.#sparseMapBlock()
          break
        }
        case State.Data: {
          const take = Math.min(this.#remaining, chunk.length - i)
          this.#emit(chunk.subarray(i, i + take))
          i += take
          this.#offset += take
          this.#remaining -= take
          if (this.#remaining === 0 && !this.#stopped) this.#endOfData()
          break
        }
        case State.Skip: {
          const take = Math.min(this.#skip, chunk.length - i)
          i += take
          this.#offset += take
          this.#skip -= take
          if (this.#skip === 0) this.#state = State.Header
          break
        }
        case State.Done: {
          for (let k = i; k < chunk.length; k++) {
            if (chunk[k] !== 0) {
              this.trailingGarbage = true
              break
            }
          }
          this.afterEnd += chunk.length - i
          this.#offset += chunk.length - i
          i = chunk.length
          break
        }
      }
    }
    return !this.#stopped
  }

  /** The input ended: throws when that is inside a member (an end without the end blocks is noted in endMissing). */
  end(): void {
    if (this.#stopped || this.#state === State.Done) return
    if (this.#state === State.Header && !this.#entry && !this.#meta && this.#pending.offset === undefined) {
      const partial = this.#header.subarray(0, this.#headerFill)
      if (partial.every((b) => b === 0)) {
        this.endMissing = this.#zeroBlocks || this.#headerFill ? 'one' : 'none'
        return
      }
    }
    const where = this.#entry ? ` inside member ${JSON.stringify(this.#entry.name)}` : this.#last !== null ? ` after member ${JSON.stringify(this.#last)}` : ''
    throw new TarError(`tar stream ends early${where} (truncated)`, this.#offset)
  }

  #onHeader(): void {
    const h = this.#header
    const headerOffset = this.#offset - BLOCK
    const unsigned = headerSum(h, this.#words)
    if (unsigned === 0) {
      if (this.#pending.offset !== undefined) throw new TarError('a zero block where a member header should follow its extended header', headerOffset)
      this.#zeroBlocks++
      if (this.#zeroBlocks >= 2) this.#state = State.Done
      return
    }
    // GNU tar stops at a lone zero block and drops the members after it: refused rather than dropped
    if (this.#zeroBlocks) throw new TarError('a lone zero block in the middle of the archive (GNU tar would stop reading there)', headerOffset - BLOCK)
    const stored = parseNumber(h, 148, 8)
    if (stored !== unsigned && stored !== signedHeaderSum(h)) throw new TarError('invalid tar header (checksum mismatch): not a tar archive, or corrupt', headerOffset)
    const typeflag = String.fromCharCode(h[156]!)
    const headerSize = parseNumber(h, 124, 12)
    if (!Number.isSafeInteger(headerSize) || headerSize < 0) throw new TarError('invalid member size', headerOffset)
    this.#pending.offset ??= headerOffset
    if (typeflag === 'x' || typeflag === 'g' || typeflag === 'L' || typeflag === 'K') {
      if (headerSize > MAX_META) throw new TarError('extended header larger than 16 MiB', headerOffset)
      const kind = typeflag === 'x' ? 'pax' : typeflag === 'g' ? 'paxGlobal' : typeflag === 'L' ? 'longname' : 'longlink'
      this.#meta = { kind, chunks: [], size: headerSize }
      this.#remaining = headerSize
      this.#skip = padded(headerSize) - headerSize
      this.#state = State.Meta
      if (headerSize === 0) this.#endOfMeta()
      return
    }
    if (typeflag === 'V') {
      // a volume label (tar -V), only ever the first header: GNU tar does not extract it
      if (headerOffset !== 0) throw new TarError('a volume label in the middle of the archive', headerOffset)
      this.#pending = {}
      this.#skipData(headerSize)
      return
    }
    const { entry, dataSize, sparseMap } = memberEntry(h, typeflag, headerSize, headerOffset, this.#pending, this.#paxValues())
    this.#pending = {}
    this.#entry = entry
    // only regular files carry content; as GNU tar, the data of other members is read past, except
    // for folders ('5') and hard links, whose size says nothing
    this.#remaining = entry.type === 'file' ? dataSize : 0
    this.#skip = padded(typeflag === '5' || typeflag === '1' ? 0 : dataSize) - this.#remaining
    if (typeflag === 'S' && h[482]) {
      this.#state = State.SparseHeader
      return
    }
    if (sparseMap) {
      entry.sparse = []
      this.#mapText = ''
      this.#mapRead = 0
      this.#skip = padded(dataSize) - dataSize
      this.#state = State.SparseMap
      if (dataSize === 0) throw new TarError('a GNU sparse 1.0 member without its map', headerOffset)
      return
    }
    this.#begin()
  }

  /** An old GNU sparse header's extension block: 21 more segments, and whether another block follows. */
  #onSparseExtension(): void {
    const entry = this.#entry!
    entry.sparse!.push(...oldGnuSparse(this.#header, 0, 21))
    if (entry.sparse!.length > MAX_SEGMENTS) throw new TarError('a sparse map of more than a million segments', this.#offset)
    if (!this.#header[504]) this.#begin()
  }

  #sparseMapBlock(): void {
    const entry = this.#entry!
    const segments = sparseMapLines(this.#mapText, this.#offset)
    if (segments) {
      entry.sparse!.push(...segments)
      // the map fills whole blocks; the data starts after them
      this.#mapText = ''
      entry.stored = this.#remaining
      this.#skip = padded(this.#remaining) - this.#remaining
      this.#begin()
      return
    }
    if (this.#remaining === 0 || this.#mapRead > MAX_META) throw new TarError('invalid GNU sparse map', this.#offset)
  }

  /** The entry is known: check a sparse map, tell the sink, then read its data. */
  #begin(): void {
    const entry = this.#entry!
    if (entry.sparse) checkSparseMap(entry.sparse, entry.size, entry.stored, entry.name, entry.offset)
    this.#seg = 0
    this.#segLeft = entry.sparse ? (entry.sparse[0]?.size ?? 0) : entry.stored
    this.#position = entry.sparse ? (entry.sparse[0]?.offset ?? 0) : 0
    if (this.sink.entry(entry) === 'stop') {
      this.#stopped = true
      return
    }
    this.#remaining = entry.stored
    this.#state = State.Data
    if (entry.stored === 0) this.#endOfData()
  }

  #emit(part: Uint8Array): void {
    const entry = this.#entry!
    let at = 0
    while (at < part.length && !this.#stopped) {
      while (this.#segLeft === 0 && entry.sparse) {
        const next = entry.sparse[++this.#seg]!
        this.#segLeft = next.size
        this.#position = next.offset
      }
      const n = Math.min(this.#segLeft, part.length - at)
      if (this.sink.data && this.sink.data(part.subarray(at, at + n), entry, this.#position) === 'stop') this.#stopped = true
      at += n
      this.#segLeft -= n
      this.#position += n
    }
  }

  #skipData(size: number): void {
    this.#skip = padded(size)
    this.#state = this.#skip ? State.Skip : State.Header
  }

  #endOfMeta(): void {
    const meta = this.#meta!
    const body = concat(meta.chunks, meta.size)
    if (meta.kind === 'pax') this.#pending.pax = parsePax(body, this.#pending.pax)
    else if (meta.kind === 'paxGlobal') {
      // extended headers before a global one were its own (GNU tar reads them so): they end here
      this.#global = parsePax(body, this.#global)
      this.#pending = {}
    } else if (meta.kind === 'longname') this.#pending.longname = cString(body)
    else this.#pending.longlink = cString(body)
    this.#meta = null
    this.#state = this.#skip ? State.Skip : State.Header
  }

  #endOfData(): void {
    const entry = this.#entry!
    this.#entry = null
    this.#last = entry.name
    if (this.sink.entryEnd?.(entry) === 'stop') this.#stopped = true
    this.#state = this.#skip ? State.Skip : State.Header
  }

  /** pax values for this entry: global ones overridden by its own; an empty value deletes the keyword. */
  #paxValues(): Map<string, string> {
    const own = this.#pending.pax?.values
    // nearly every member: no global records, at most its own (a pax mtime): its map, nothing copied
    if (!this.#global.values.size) {
      if (!own || !own.size) return NO_PAX
      for (const [k, v] of own) if (v === '') own.delete(k)
      return own
    }
    const out = new Map(this.#global.values)
    for (const [k, v] of this.#pending.pax?.values ?? []) out.set(k, v)
    for (const [k, v] of out) if (v === '') out.delete(k)
    return out
  }
}
