import { expect, test } from 'bun:test'
import { headerSum, parseNumber, parsePax, readBytes, signedHeaderSum, type PaxRecords } from '../../src/archive/tar-fields.ts'

// The header fields are read byte by byte (no strings, no views): they must read exactly as the
// plain definitions do — GNU tar's octal fields through String#trim and a regex, C strings up to NUL.
const reference = {
  number(field: Uint8Array): number {
    const end = field.indexOf(0)
    const digits = Buffer.from(end < 0 ? field : field.subarray(0, end)).toString('latin1').trim()
    return /^[0-7]+$/.test(digits) ? parseInt(digits, 8) : NaN
  },
  text(field: Uint8Array): string {
    const end = field.indexOf(0)
    return Buffer.from(end < 0 ? field : field.subarray(0, end)).toString('latin1')
  },
  sum(h: Uint8Array): number {
    let sum = 0
    for (let k = 0; k < 512; k++) sum += k >= 148 && k < 156 ? 32 : h[k]!
    return sum
  },
}

/** a deterministic generator (xorshift), so a failure names its case */
function random(seed: number): () => number {
  let x = seed
  return () => {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    return (x >>> 0) / 2 ** 32
  }
}

test('octal fields read as trim + /^[0-7]+$/ + parseInt read them, blanks, NULs and stray bytes included', () => {
  const next = random(7)
  // what such a field holds: digits, the blanks trim removes (tab…CR, space, no-break space), NUL, and a few that are none of these
  const alphabet = [0x30, 0x31, 0x33, 0x37, 0x37, 0x30, 0x38, 0x39, 0x20, 0x20, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0xa0, 0x00, 0x00, 0x2d, 0x2b, 0x85, 0x41]
  for (let n = 0; n < 20_000; n++) {
    const length = 1 + Math.floor(next() * 12)
    const field = Uint8Array.from({ length }, () => alphabet[Math.floor(next() * alphabet.length)]!)
    // a first byte with its high bit set is GNU base-256, another reading (archive-tar.test.ts)
    if (field[0]! & 0x80) continue
    const block = new Uint8Array(40)
    block.set(field, 13)
    const got = parseNumber(block, 13, length)
    const want = reference.number(field)
    if (!Object.is(got, want)) throw new Error(`field ${JSON.stringify([...field])}: ${got}, not ${want}`)
  }
  const field = (text: string) => Buffer.from(`${text}`, 'latin1')
  expect(parseNumber(field('0000644\0'), 0, 8)).toBe(0o644)
  expect(parseNumber(field(' 644 \0'), 0, 6)).toBe(0o644)
  expect(parseNumber(field(' \xa0644\t'), 0, 6)).toBe(0o644)
  expect(parseNumber(field('        '), 0, 8)).toBeNaN()
  expect(parseNumber(field('\0\0\0\0'), 0, 4)).toBeNaN()
  expect(parseNumber(field('6 44'), 0, 4)).toBeNaN()
  expect(parseNumber(field('77777777777\0'), 0, 12)).toBe(8 ** 11 - 1)
})

test('text fields read up to their NUL or their end, bytes as latin1', () => {
  const next = random(11)
  for (let n = 0; n < 5_000; n++) {
    const block = Uint8Array.from({ length: 64 }, () => (next() < 0.1 ? 0 : Math.floor(next() * 256)))
    const offset = Math.floor(next() * 32)
    const length = 1 + Math.floor(next() * 32)
    expect(readBytes(block, offset, length)).toBe(reference.text(block.subarray(offset, offset + length)))
    expect(readBytes(Buffer.from(block), offset, length)).toBe(reference.text(block.subarray(offset, offset + length)))
  }
  // a NUL after the field does not end it early or late
  expect(readBytes(Buffer.from('abc\0def\0', 'latin1'), 4, 2)).toBe('de')
})

test('the header sum four bytes at a time is the byte-by-byte sum; 0 only for a zero block', () => {
  const next = random(3)
  const bytes = new ArrayBuffer(512)
  const h = new Uint8Array(bytes)
  const words = new Uint32Array(bytes)
  for (let n = 0; n < 2_000; n++) {
    // all 0xff (the largest lanes), random, and sparse blocks
    const kind = n % 3
    for (let k = 0; k < 512; k++) h[k] = kind === 0 ? 0xff : kind === 1 ? Math.floor(next() * 256) : next() < 0.02 ? Math.floor(next() * 256) : 0
    if (h.every((b) => b === 0)) expect(headerSum(h, words)).toBe(0)
    else expect(headerSum(h, words)).toBe(reference.sum(h))
  }
  h.fill(0)
  expect(headerSum(h, words)).toBe(0)
  // a block whose only bytes are in the checksum field is not a zero block
  h[150] = 1
  expect(headerSum(h, words)).toBe(256)
  h.fill(0x80)
  let signed = 0
  for (let k = 0; k < 512; k++) signed += k >= 148 && k < 156 ? 32 : -128
  expect(signedHeaderSum(h)).toBe(signed)
})

/** pax records as POSIX defines them, record by record on bytes: a decimal length, a space, key=value, a newline */
function referencePax(body: Uint8Array, into?: PaxRecords): PaxRecords {
  const out: PaxRecords = { values: new Map(into?.values ?? []), sparse: [...(into?.sparse ?? [])] }
  let at = 0
  while (at < body.length) {
    const space = body.indexOf(0x20, at)
    if (space < 0) break
    const digits = Buffer.from(body.subarray(at, space)).toString('latin1')
    const length = /^\d+$/.test(digits) ? Number(digits) : NaN
    if (!(length > 0) || at + length > body.length || body[at + length - 1] !== 0x0a) throw new Error('malformed pax extended header')
    const record = Buffer.from(body.subarray(space + 1, at + length - 1)).toString('latin1')
    const eq = record.indexOf('=')
    if (eq > 0) {
      const [key, value] = [record.slice(0, eq), record.slice(eq + 1)]
      if (key === 'GNU.sparse.offset' || key === 'GNU.sparse.numbytes') out.sparse.push([key, value])
      else out.values.set(key, value)
    }
    at += length
  }
  return out
}

test('pax records read as the record-by-record definition reads them, odd bytes, bad lengths and records without a key included', () => {
  const next = random(11)
  // record text from bytes that matter to the reader: '=', ' ', newline, digits, high bytes, NUL
  const alphabet = [0x3d, 0x20, 0x0a, 0x30, 0x35, 0x61, 0x6d, 0x74, 0x2e, 0xc3, 0xbc, 0xff, 0x00]
  const keys = ['mtime', 'path', 'GNU.sparse.offset', 'GNU.sparse.numbytes', 'size', '']
  const outcome = (read: () => PaxRecords) => {
    try {
      const r = read()
      return { values: [...r.values], sparse: r.sparse }
    } catch (error) {
      return (error as Error).message
    }
  }
  let malformed = 0
  for (let n = 0; n < 5_000; n++) {
    const parts: Uint8Array[] = []
    for (let r = Math.floor(next() * 4); r >= 0; r--) {
      const key = keys[Math.floor(next() * keys.length)]!
      const value = Uint8Array.from({ length: Math.floor(next() * 12) }, () => alphabet[Math.floor(next() * alphabet.length)]!)
      const text = Buffer.concat([Buffer.from(next() < 0.9 ? `${key}=` : key, 'latin1'), value, Buffer.from('\n')])
      // the length counts its own digits: "<digits> <text>"
      let total = text.length + 1 + String(text.length + 1).length
      if (String(total).length !== String(text.length + 1).length) total = text.length + 1 + String(total).length
      let length = String(total)
      // now and then a length that is off, not decimal, or missing
      const odd = next()
      if (odd < 0.03) length = String(total + 1)
      else if (odd < 0.05) length = `0x${total.toString(16)}`
      else if (odd < 0.06) length = ''
      else if (odd < 0.07) length = `+${length}`
      parts.push(Buffer.concat([Buffer.from(`${length} `, 'latin1'), text]))
    }
    const body = Buffer.concat(parts)
    const into = next() < 0.3 ? { values: new Map([['mtime', '1'], ['path', 'x']]), sparse: [['GNU.sparse.offset', '0'] as [string, string]] } : undefined
    const expected = outcome(() => referencePax(body, into))
    if (typeof expected === 'string') malformed++
    expect(outcome(() => parsePax(body, into))).toEqual(expected)
  }
  // the odd lengths were there, and records that read
  expect(malformed).toBeGreaterThan(200)
  expect(malformed).toBeLessThan(4_000)
})
