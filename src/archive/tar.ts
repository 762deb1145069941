/**
 * The tar format, by hand: POSIX ustar headers plus pax extended headers when a value does not fit
 * (long or non-ASCII names, sizes ≥ 8 GiB, sub-second mtimes). node-tar reads whole files itself,
 * which rules out hashing while streaming, bounded read-ahead and parallel gzip members; the parser
 * is push-based and synchronous so a reader can stop after the first member.
 */
export const BLOCK = 512

export type EntryType = 'file' | 'directory' | 'symlink' | 'hardlink' | 'char-device' | 'block-device' | 'fifo' | 'other'

export interface HeaderInput {
  /** text, or the raw bytes of a name that need not be UTF-8 (stored byte for byte) */
  name: string | Uint8Array
  type: 'file' | 'directory' | 'symlink'
  /** bytes of the member's data (for a sparse member: map block + data segments) */
  size: number
  mode: number
  /** seconds since the epoch and the nanoseconds within that second */
  mtimeSec: number
  mtimeNsec?: number
  uid: number
  gid: number
  uname: string
  gname: string
  linkname?: string | Uint8Array
  /** a sparse file in GNU's pax format 1.0: its real size; the data starts with the map block */
  sparse?: { realSize: number }
}

const encoder = new TextEncoder()
const MAX_OCTAL_11 = 0o77777777777

/** The pax `mtime` value for a time, or null when whole seconds fit the ustar field. */
export function paxMtime(sec: number, nsec = 0): string | null {
  return nsec ? `${sec}.${String(nsec).padStart(9, '0').replace(/0+$/, '')}` : null
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true })

/** A name as bytes, plus its text when the bytes are UTF-8 (null: store it as binary). */
function nameForms(name: string | Uint8Array): { bytes: Uint8Array; text: string | null } {
  if (typeof name === 'string') return { bytes: encoder.encode(name), text: name }
  try {
    return { bytes: name, text: strictUtf8.decode(name) }
  } catch {
    return { bytes: name, text: null }
  }
}

/**
 * Header block(s) for one member: a pax 'x' header first when ustar fields cannot hold the values.
 * Names that are not UTF-8 go into pax `path`/`linkpath` as raw bytes, with `hdrcharset=BINARY`
 * (what GNU tar writes and reads back byte for byte). A sparse member gets GNU's pax format 1.0
 * records and the header name `<dir>/GNUSparseFile.<pid>/<base>`, as `tar --sparse --format=posix`.
 */
export function encodeHeader(h: HeaderInput): Uint8Array {
  const pax: [string, Uint8Array][] = []
  let binary = false
  const full = nameForms(h.name)
  const link = h.linkname === undefined ? null : nameForms(h.linkname)
  let name = ''
  let prefix = ''
  if (h.sparse) {
    // the real name goes in GNU.sparse.name; the ustar name is a stand-in old readers extract as a plain file
    pax.push(['GNU.sparse.major', encoder.encode('1')], ['GNU.sparse.minor', encoder.encode('0')], ['GNU.sparse.name', full.bytes], ['GNU.sparse.realsize', encoder.encode(String(h.sparse.realSize))])
    if (full.text === null) binary = true
    const text = latin1(full.bytes)
    const slash = text.lastIndexOf('/')
    const stand = `${slash >= 0 ? text.slice(0, slash + 1) : ''}GNUSparseFile.${process.pid}/${slash >= 0 ? text.slice(slash + 1) : text}`
    const split = ascii(stand) && stand.length > 100 ? splitName(stand) : null
    if (split) [prefix, name] = split
    else name = asciiFallback(stand, 100)
  } else if (full.text !== null && ascii(full.text) && full.text.length <= 100) name = full.text
  else {
    const split = full.text !== null && ascii(full.text) ? splitName(full.text) : null
    if (split) [prefix, name] = split
    else {
      pax.push(['path', full.bytes])
      if (full.text === null) binary = true
      name = asciiFallback(latin1(full.bytes), 100)
    }
  }
  let linkname = ''
  if (link) {
    if (link.text !== null && ascii(link.text) && link.text.length <= 100) linkname = link.text
    else {
      pax.push(['linkpath', link.bytes])
      if (link.text === null) binary = true
      linkname = asciiFallback(latin1(link.bytes), 100)
    }
  }
  if (h.size > MAX_OCTAL_11) pax.push(['size', encoder.encode(String(h.size))])
  const mtime = paxMtime(h.mtimeSec, h.mtimeNsec)
  if (mtime) pax.push(['mtime', encoder.encode(mtime)])
  for (const [key, value] of [['uname', h.uname], ['gname', h.gname]] as const) {
    if (value.length > 31 || !ascii(value)) pax.push([key, encoder.encode(value)])
  }
  // GNU tar applies hdrcharset to the records after it: it goes first
  if (binary) pax.unshift(['hdrcharset', encoder.encode('BINARY')])
  const block = ustar({ ...h, name, prefix, linkname, size: Math.min(h.size, MAX_OCTAL_11) })
  if (!pax.length) return block
  const body = Buffer.concat(pax.map(([k, v]) => paxRecord(k, v)))
  const base = latin1(full.bytes).replace(/\/$/, '').split('/').pop() || 'x'
  const paxHeader = ustar({
    name: asciiFallback(`PaxHeaders/${base}`, 100),
    prefix: '',
    linkname: '',
    type: 'pax',
    size: body.length,
    mode: 0o644,
    mtimeSec: h.mtimeSec,
    uid: h.uid,
    gid: h.gid,
    uname: '',
    gname: '',
  })
  const out = new Uint8Array(BLOCK + padded(body.length) + BLOCK)
  out.set(paxHeader, 0)
  out.set(body, BLOCK)
  out.set(block, BLOCK + padded(body.length))
  return out
}

/**
 * The map block at the start of a sparse member's data (GNU pax format 1.0): the number of
 * segments, then offset and length of each, one decimal per line, NUL-padded to whole blocks.
 */
export function sparseMap(segments: readonly (readonly [offset: number, length: number])[]): Uint8Array {
  const text = `${segments.length}\n${segments.map(([o, l]) => `${o}\n${l}\n`).join('')}`
  const out = new Uint8Array(padded(text.length))
  out.set(encoder.encode(text))
  return out
}

function latin1(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1')
}

const NOT_PRINTABLE = /[^\x20-\x7e]/
function ascii(text: string): boolean {
  return !NOT_PRINTABLE.test(text)
}

export function padded(size: number): number {
  return Math.ceil(size / BLOCK) * BLOCK
}

function splitName(name: string): [string, string] | null {
  // ustar keeps up to 155 bytes of leading directories in "prefix"
  for (let i = name.length - 1; i > 0; i--) {
    if (name[i] !== '/') continue
    const prefix = name.slice(0, i)
    const rest = name.slice(i + 1)
    if (prefix.length <= 155 && rest.length <= 100 && rest.length > 0) return [prefix, rest]
    if (prefix.length <= 155) return null
  }
  return null
}

/** What old readers see when they ignore the pax header: printable ASCII, cut to fit. */
function asciiFallback(text: string, max: number): string {
  return text.replace(/[^\x20-\x7e]/g, '_').slice(0, max)
}

function paxRecord(key: string, value: Uint8Array): Uint8Array {
  const restBytes = key.length + value.length + 3 // " key=value\n"
  let length = restBytes + 1
  while (String(length).length + restBytes !== length) length = String(length).length + restBytes
  const head = encoder.encode(`${length} ${key}=`)
  const out = new Uint8Array(length)
  out.set(head)
  out.set(value, head.length)
  out[length - 1] = 0x0a
  return out
}

interface UstarFields {
  name: string
  prefix: string
  linkname: string
  type: 'file' | 'directory' | 'symlink' | 'pax'
  size: number
  mode: number
  mtimeSec: number
  uid: number
  gid: number
  uname: string
  gname: string
}

/** Every string reaching a ustar field is printable ASCII (the rest went to the pax header). */
function putAscii(b: Uint8Array, offset: number, length: number, text: string): void {
  const n = Math.min(length, text.length)
  for (let i = 0; i < n; i++) b[offset + i] = text.charCodeAt(i)
}

function putOctal(b: Uint8Array, offset: number, length: number, n: number): void {
  const value = Math.max(0, Math.trunc(n))
  // ids that do not fit the octal field are written as 0; names carry the owner
  const text = value.toString(8)
  const digits = length - 1
  if (text.length > digits) {
    b.fill(0x30, offset, offset + digits)
  } else {
    b.fill(0x30, offset, offset + digits - text.length)
    putAscii(b, offset + digits - text.length, text.length, text)
  }
  b[offset + digits] = 0
}

const MAGIC = [0x75, 0x73, 0x74, 0x61, 0x72, 0x00, 0x30, 0x30] // "ustar\0" "00"
const TYPE_BYTE = { file: 0x30, directory: 0x35, symlink: 0x32, pax: 0x78 } as const

function ustar(f: UstarFields): Uint8Array {
  const b = new Uint8Array(BLOCK)
  putAscii(b, 0, 100, f.name)
  putOctal(b, 100, 8, f.mode & 0o7777)
  putOctal(b, 108, 8, f.uid)
  putOctal(b, 116, 8, f.gid)
  putOctal(b, 124, 12, f.size)
  putOctal(b, 136, 12, f.mtimeSec)
  b.fill(0x20, 148, 156)
  b[156] = TYPE_BYTE[f.type]
  putAscii(b, 157, 100, f.linkname)
  b.set(MAGIC, 257)
  putAscii(b, 265, 32, f.uname)
  putAscii(b, 297, 32, f.gname)
  putAscii(b, 345, 155, f.prefix)
  let sum = 0
  for (let i = 0; i < BLOCK; i++) sum += b[i]!
  const text = sum.toString(8).padStart(6, '0')
  putAscii(b, 148, 6, text)
  b[154] = 0
  b[155] = 0x20
  return b
}
