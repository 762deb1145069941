/**
 * The fields of tar headers and extended headers, as GNU tar reads them: NUL-terminated byte
 * strings, octal or base-256 numbers, pax records (values kept as bytes).
 */
import { byteName } from './byte-names.ts'
import { TarError } from './tar-error.ts'

export interface PaxRecords {
  values: Map<string, string>
  /** GNU sparse 0.0 repeats GNU.sparse.offset / numbytes: their order matters */
  sparse: [string, string][]
}

export function concat(chunks: Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size)
  let at = 0
  for (const c of chunks) {
    out.set(c, at)
    at += c.length
  }
  return out
}

export function cString(bytes: Uint8Array): string {
  return readBytes(bytes, 0, bytes.length)
}

/**
 * The NUL-terminated byte string of a header field. Every member has several: read with one native
 * call on a view made once per block, no sub-arrays (a one-molt restore runs this cold, ~5 µs a field).
 */
export function readBytes(h: Uint8Array, offset: number, length: number): string {
  if (h[offset] === 0) return ''
  const view = h instanceof Buffer ? h : Buffer.from(h.buffer, h.byteOffset, h.byteLength)
  let end = view.indexOf(0, offset)
  if (end < 0 || end > offset + length) end = offset + length
  return view.toString('latin1', offset, end)
}

/** Octal (NUL/space terminated) or GNU base-256 (high bit set; 0xff first: negative, two's complement). */
export function parseNumber(h: Uint8Array, offset: number, length: number): number {
  const first = h[offset]!
  if (first & 0x80) {
    let n = BigInt(first === 0xff ? 0xff : first & 0x7f)
    for (let k = 1; k < length; k++) n = n * 256n + BigInt(h[offset + k]!)
    if (first === 0xff) n -= 1n << BigInt(8 * length)
    return Number(n)
  }
  // the field up to its NUL, without the blanks around it (String#trim's, in Latin-1): only octal digits
  // may remain; a blank field is an error, as in GNU tar ("Blanks in header where numeric value expected")
  let end = offset + length
  for (let k = offset; k < end; k++) {
    if (h[k] === 0) {
      end = k
      break
    }
  }
  let start = offset
  while (start < end && isBlank(h[start]!)) start++
  while (end > start && isBlank(h[end - 1]!)) end--
  if (start === end) return NaN
  let n = 0
  for (let k = start; k < end; k++) {
    const digit = h[k]! - 0x30
    if (digit < 0 || digit > 7) return NaN
    n = n * 8 + digit
  }
  return n
}

/** What String#trim removes, among the 256 Latin-1 characters: tab to carriage return, space, no-break space. */
function isBlank(byte: number): boolean {
  return byte === 0x20 || (byte >= 0x09 && byte <= 0x0d) || byte === 0xa0
}

/**
 * A header's checksum sum, unsigned, its checksum field counted as spaces. Four bytes at a time,
 * two byte lanes per word (each lane sums at most 256 bytes: no carry between lanes). `words`
 * views the same 512 bytes, 4-byte aligned. 0: every byte is zero (an end-of-archive block).
 */
export function headerSum(h: Uint8Array, words: Uint32Array): number {
  let lanes = 0
  for (let k = 0; k < 128; k++) {
    const w = words[k]!
    lanes += (w & 0x00ff00ff) + ((w >>> 8) & 0x00ff00ff)
  }
  const all = (lanes & 0xffff) + Math.floor(lanes / 65536)
  if (all === 0) return 0
  let field = 0
  for (let k = 148; k < 156; k++) field += h[k]!
  return all - field + 8 * 32
}

/** The same sum with bytes read as signed (what some old tars wrote). */
export function signedHeaderSum(h: Uint8Array): number {
  let signed = 0
  for (let k = 0; k < 512; k++) {
    const byte = k >= 148 && k < 156 ? 32 : h[k]!
    signed += byte > 127 ? byte - 256 : byte
  }
  return signed
}

/**
 * pax records ("<length> <key>=<value>\n", the length in bytes, decimal) over those of `into`. The
 * body is read as one latin1 string, one char per byte: values stay bytes (hdrcharset=BINARY or
 * not, a name is the bytes it was written with), and every member of a clmnt archive has a record
 * (its mtime), parsed cold in a short restore.
 */
export function parsePax(body: Uint8Array, into?: PaxRecords): PaxRecords {
  const out: PaxRecords = into ? { values: new Map(into.values), sparse: [...into.sparse] } : { values: new Map(), sparse: [] }
  const records = byteName(body)
  let at = 0
  while (at < records.length) {
    const space = records.indexOf(' ', at)
    if (space < 0) break
    let length = space > at ? 0 : -1
    for (let k = at; k < space && length >= 0; k++) {
      const digit = records.charCodeAt(k) - 0x30
      length = digit >= 0 && digit <= 9 ? length * 10 + digit : -1
    }
    if (length <= 0 || !Number.isSafeInteger(length) || at + length > records.length || records.charCodeAt(at + length - 1) !== 0x0a) {
      throw new TarError('malformed pax extended header', 0)
    }
    const eq = records.indexOf('=', space + 1)
    if (eq > space + 1 && eq < at + length - 1) {
      const key = records.slice(space + 1, eq)
      const value = records.slice(eq + 1, at + length - 1)
      if (key === 'GNU.sparse.offset' || key === 'GNU.sparse.numbytes') out.sparse.push([key, value])
      else out.values.set(key, value)
    }
    at += length
  }
  return out
}
