/**
 * The tar format, by hand: POSIX ustar headers plus pax extended headers when a value does not fit
 * (long or non-ASCII names, sizes ≥ 8 GiB, sub-second mtimes). node-tar reads whole files itself,
 * which rules out hashing while streaming, bounded read-ahead and parallel gzip members; the parser
 * is push-based and synchronous so a reader can stop after the first member.
 */
export const BLOCK = 512

export type EntryType = 'file' | 'directory' | 'symlink' | 'hardlink' | 'char-device' | 'block-device' | 'fifo' | 'other'

export interface HeaderInput {
  name: string
  type: 'file' | 'directory' | 'symlink'
  size: number
  mode: number
  /** seconds since the epoch and the nanoseconds within that second */
  mtimeSec: number
  mtimeNsec?: number
  uid: number
  gid: number
  uname: string
  gname: string
  linkname?: string
}

export interface TarEntry {
  name: string
  type: EntryType
  /** the raw typeflag, for messages */
  typeflag: string
  size: number
  mode: number
  /** seconds, fractional when a pax header gave more */
  mtime: number
  uid: number
  gid: number
  uname: string
  gname: string
  linkname: string
  /** offset of the entry's (first) header in the uncompressed stream */
  offset: number
}

const encoder = new TextEncoder()
const MAX_OCTAL_11 = 0o77777777777

/** Header block(s) for one member: a pax 'x' header first when ustar fields cannot hold the values. */
export function encodeHeader(h: HeaderInput): Uint8Array {
  const pax: [string, string][] = []
  let name = h.name
  let prefix = ''
  if (h.name.length > 100 || !ascii(h.name)) {
    const split = ascii(h.name) ? splitName(h.name) : null
    if (split) [prefix, name] = split
    else {
      pax.push(['path', h.name])
      name = asciiFallback(h.name, 100)
    }
  }
  let linkname = h.linkname ?? ''
  if (linkname && (linkname.length > 100 || !ascii(linkname))) {
    pax.push(['linkpath', linkname])
    linkname = asciiFallback(linkname, 100)
  }
  if (h.size > MAX_OCTAL_11) pax.push(['size', String(h.size)])
  if (h.mtimeNsec) pax.push(['mtime', `${h.mtimeSec}.${String(h.mtimeNsec).padStart(9, '0').replace(/0+$/, '')}`])
  for (const [key, value] of [['uname', h.uname], ['gname', h.gname]] as const) {
    if (value.length > 31 || !ascii(value)) pax.push([key, value])
  }
  const block = ustar({ ...h, name, prefix, linkname, size: Math.min(h.size, MAX_OCTAL_11) })
  if (!pax.length) return block
  const body = encoder.encode(pax.map(([k, v]) => paxRecord(k, v)).join(''))
  const paxHeader = ustar({
    name: asciiFallback(`PaxHeaders/${h.name.replace(/\/$/, '').split('/').pop() ?? 'x'}`, 100),
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

function paxRecord(key: string, value: string): string {
  const rest = ` ${key}=${value}\n`
  const restBytes = Buffer.byteLength(rest)
  let length = restBytes + 1
  while (String(length).length + restBytes !== length) length = String(length).length + restBytes
  return `${length}${rest}`
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
