/**
 * What one member header says (tar-parse.ts reads the blocks): a ustar, GNU or v7 header block with
 * the extended headers read before it (pax records, GNU long names), made into the entry a sink
 * gets. A plain function of the bytes: the parser keeps the state, this keeps the formats.
 */
import { TarError } from './tar-error.ts'
import { parseNumber, readBytes, type PaxRecords } from './tar-fields.ts'
import { oldGnuSparse, paxSparseMap, type SparseSegment } from './tar-sparse.ts'

export type EntryType = 'file' | 'directory' | 'symlink' | 'hardlink' | 'char-device' | 'block-device' | 'fifo' | 'other'

export interface TarEntry {
  /** byte string (one char per byte) */
  name: string
  type: EntryType
  /** the raw typeflag, for messages */
  typeflag: string
  /** the file's size: for a sparse file, its real size with the holes */
  size: number
  /** data bytes the archive holds for it (a sparse file's non-hole parts) */
  stored: number
  /** a sparse file's data segments, in order; null for a plain file */
  sparse: SparseSegment[] | null
  mode: number
  /** seconds, fractional when a pax header gave more; negative before 1970 */
  mtime: number
  /** the mtime as the archive wrote it (pax text, else the header's number) */
  mtimeText: string
  uid: number
  gid: number
  uname: string
  gname: string
  /** byte string */
  linkname: string
  /** offset of the entry's (first) header in the uncompressed stream */
  offset: number
}


const TYPES: Record<string, EntryType> = {
  '0': 'file',
  '\0': 'file',
  '7': 'file',
  S: 'file',
  '1': 'hardlink',
  '2': 'symlink',
  '3': 'char-device',
  '4': 'block-device',
  '5': 'directory',
  D: 'directory',
  '6': 'fifo',
}

/** The extended headers read before a member's own header, and where the first of them started. */
export interface PendingHeaders {
  pax?: PaxRecords
  longname?: string
  longlink?: string
  offset?: number
}

export interface MemberHeader {
  entry: TarEntry
  /** bytes of data the archive holds after the header (a GNU sparse 1.0 map included) */
  dataSize: number
  /** a GNU sparse 1.0 member: its data starts with the map of its segments */
  sparseMap: boolean
}

/**
 * The entry of header block `h` (its checksum, `typeflag` and `headerSize` already read, neither
 * an extended header nor a volume label), at `headerOffset` in the stream, after `pending`; `pax`:
 * the pax values that apply (global ones overridden by its own).
 */
export function memberEntry(h: Buffer, typeflag: string, headerSize: number, headerOffset: number, pending: PendingHeaders, pax: Map<string, string>): MemberHeader {
  const magic = h.toString('latin1', 257, 265)
  const gnu = magic === 'ustar  \0' || magic === 'ustar  '
  const ustar = !gnu && magic.startsWith('ustar\0')
  let name = readBytes(h, 0, 100)
  if (ustar) {
    const prefix = readBytes(h, 345, 155)
    if (prefix) name = `${prefix}/${name}`
  }
  if (pending.longname !== undefined) name = pending.longname
  if (pax.has('path')) name = pax.get('path')!
  let linkname = readBytes(h, 157, 100)
  if (pending.longlink !== undefined) linkname = pending.longlink
  if (pax.has('linkpath')) linkname = pax.get('linkpath')!

  const number = (key: string, fallback: number): number => {
    const value = pax.get(key)
    if (value === undefined) return fallback
    if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) throw new TarError(`invalid pax ${key} ${JSON.stringify(value)}`, headerOffset)
    return Number(value)
  }
  const headerMtime = parseNumber(h, 136, 12)
  let mtime = headerMtime
  let mtimeText = String(headerMtime)
  const paxMtime = pax.get('mtime')
  if (paxMtime !== undefined) {
    if (!/^-?\d+(\.\d+)?$/.test(paxMtime)) throw new TarError(`invalid pax mtime ${JSON.stringify(paxMtime)}`, headerOffset)
    mtime = Number(paxMtime)
    mtimeText = paxMtime
  }
  // beyond ±2^53 s a date is not exact (GNU tar refuses what int64 cannot hold; file systems stop at 2446)
  if (!Number.isFinite(mtime) || Math.abs(mtime) >= 2 ** 53) throw new TarError(`invalid or out-of-range mtime ${JSON.stringify(mtimeText)}`, headerOffset)
  const mode = parseNumber(h, 100, 8)
  if (!Number.isSafeInteger(mode) || mode < 0) throw new TarError('invalid member mode', headerOffset)

  let type: EntryType = TYPES[typeflag] ?? 'other'
  // pre-POSIX archives mark folders by the trailing slash alone
  if ((typeflag === '0' || typeflag === '\0') && name.endsWith('/')) type = 'directory'
  const dataSize = number('size', headerSize)
  let size = dataSize
  let sparse: SparseSegment[] | null = null
  let sparseMap = false
  if (typeflag === 'S') {
    sparse = oldGnuSparse(h, 386, 4)
    size = parseNumber(h, 483, 12)
  } else if (type === 'file' && (pax.has('GNU.sparse.major') || pax.has('GNU.sparse.map') || pax.has('GNU.sparse.numblocks'))) {
    const major = pax.get('GNU.sparse.major')
    if (major !== undefined && (major !== '1' || pax.get('GNU.sparse.minor') !== '0')) throw new TarError(`unsupported GNU sparse format ${major}.${pax.get('GNU.sparse.minor')}`, headerOffset)
    size = number(major !== undefined ? 'GNU.sparse.realsize' : pax.has('GNU.sparse.realsize') ? 'GNU.sparse.realsize' : 'GNU.sparse.size', -1)
    if (size < 0) throw new TarError('a GNU sparse member without its real size', headerOffset)
    if (pax.has('GNU.sparse.name')) name = pax.get('GNU.sparse.name')!
    // GNU tar reads a 1.0 map only after a POSIX header; after another it misreads the data
    if (major !== undefined && !ustar) throw new TarError('a GNU sparse 1.0 member whose header is not POSIX ustar', headerOffset)
    if (major !== undefined) sparseMap = true
    else sparse = paxSparseMap(pending.pax?.sparse ?? [], pax.get('GNU.sparse.map'), headerOffset)
  }
  const entry: TarEntry = {
    name,
    type,
    typeflag,
    size: type === 'file' ? size : 0,
    stored: type === 'file' ? dataSize : 0,
    sparse,
    mode,
    mtime,
    mtimeText,
    uid: number('uid', parseNumber(h, 108, 8) || 0),
    gid: number('gid', parseNumber(h, 116, 8) || 0),
    uname: pax.get('uname') ?? readBytes(h, 265, 32),
    gname: pax.get('gname') ?? readBytes(h, 297, 32),
    linkname,
    offset: pending.offset ?? headerOffset,
  }
  if (!Number.isSafeInteger(entry.size) || entry.size < 0) throw new TarError('invalid member size', headerOffset)
  return { entry, dataSize, sparseMap }
}
