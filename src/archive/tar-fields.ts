/**
 * The fields of tar headers and extended headers, as GNU tar reads them: NUL-terminated byte
 * strings, octal or base-256 numbers, pax records (values kept as bytes).
 */
import { byteName } from './byte-names.ts'
import { TarError } from './tar-error.ts'

const text = new TextDecoder()

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
  const end = bytes.indexOf(0)
  return byteName(end < 0 ? bytes : bytes.subarray(0, end))
}

export function readBytes(h: Uint8Array, offset: number, length: number): string {
  return cString(h.subarray(offset, offset + length))
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
  // a blank field is an error, as in GNU tar ("Blanks in header where numeric value expected")
  const digits = readBytes(h, offset, length).trim()
  return /^[0-7]+$/.test(digits) ? parseInt(digits, 8) : NaN
}

export function parsePax(body: Uint8Array, into: PaxRecords = { values: new Map(), sparse: [] }): PaxRecords {
  const out: PaxRecords = { values: new Map(into.values), sparse: [...into.sparse] }
  let at = 0
  while (at < body.length) {
    const space = body.indexOf(0x20, at)
    if (space < 0) break
    const length = Number(text.decode(body.subarray(at, space)))
    if (!Number.isInteger(length) || length <= 0 || at + length > body.length || body[at + length - 1] !== 0x0a) {
      throw new TarError('malformed pax extended header', 0)
    }
    // values stay bytes: hdrcharset=BINARY or not, a name is the bytes it was written with
    const record = byteName(body.subarray(space + 1, at + length - 1))
    const eq = record.indexOf('=')
    if (eq > 0) {
      const key = record.slice(0, eq)
      const value = record.slice(eq + 1)
      if (key === 'GNU.sparse.offset' || key === 'GNU.sparse.numbytes') out.sparse.push([key, value])
      else out.values.set(key, value)
    }
    at += length
  }
  return out
}
