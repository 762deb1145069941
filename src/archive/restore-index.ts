import { byteName, shownName } from './byte-names.ts'
import { indexLine, indexLinkBytes, indexPathBytes, octalMode, type IndexLine, type IndexType } from './index-file.ts'

/**
 * Format 3: every member's header against index.jsonl (index-file.ts), which the checksum list
 * vouches for. A changed type, mode, size, mtime or link target in a header is caught here, where
 * checksums (content only) cannot see it. restore-lists.ts pairs headers with lines.
 */
export interface HeaderFacts {
  type: IndexType
  /** permission bits of the header, set-ID bits included */
  mode: number
  size: number
  /** the mtime as the header wrote it (pax text, or seconds) */
  mtime: string
  /** byte string; '' when none */
  link: string
  molt: string | null
}

/** HeaderFacts as one string, as the member log (member-log.ts) keeps it until index.jsonl is read. */
export function encodeHeader(h: HeaderFacts): string {
  // join makes one flat string; a template literal would keep a rope of its six parts
  return [h.type, h.mode, h.size, h.mtime, h.molt ?? '', h.link].join('\0')
}

export function decodeHeader(text: string): HeaderFacts {
  const [type, mode, size, mtime, molt] = text.split('\0', 5) as [IndexType, string, string, string, string]
  let at = 0
  for (let n = 0; n < 5; n++) at = text.indexOf('\0', at) + 1
  return { type, mode: Number(mode), size: Number(size), mtime, molt: molt === '' ? null : molt, link: text.slice(at) }
}

/** What an index.jsonl line says of a member (names as byte strings; link null when none). */
export interface IndexFacts {
  type: IndexType
  /** "0644" */
  mode: string
  size: number
  mtime: string
  link: string | null
  molt: string | null
}

/** A parsed index.jsonl line: its member name and facts. */
export function indexFacts(line: IndexLine): { name: string; facts: IndexFacts } {
  const link = indexLinkBytes(line)
  return { name: byteName(indexPathBytes(line)), facts: { type: line.type, mode: line.mode, size: line.size, mtime: line.mtime, link: link === null ? null : byteName(link), molt: line.molt } }
}

const TYPES = new Set<string>(['file', 'dir', 'symlink', 'hardlink'])
/** the mtime text a backup writes: seconds, or seconds and nanoseconds (tar.ts paxMtime) */
const WRITTEN_MTIME = /^-?\d+(\.\d{1,9})?$/

/**
 * The index.jsonl line (without its newline) a backup writes for a member with this name and
 * these header facts, or null for facts no backup writes (those lines go through the schema). A
 * line that is byte for byte this one says what the header says and needs no parsing: that is
 * nearly every line of an archive nobody touched.
 */
export function writtenIndexLine(name: string, header: HeaderFacts): Uint8Array | null {
  if (name === '' || !TYPES.has(header.type) || !WRITTEN_MTIME.test(header.mtime)) return null
  const linked = header.type === 'symlink' || header.type === 'hardlink'
  const line = indexLine({ path: Buffer.from(name, 'latin1'), type: header.type, mode: header.mode, size: header.size, mtime: header.mtime, molt: header.molt, ...(linked ? { link: Buffer.from(header.link, 'latin1') } : {}) })
  return Buffer.from(line.slice(0, -1), 'utf8')
}

/** printable ASCII but the quote and the backslash: JSON writes it as it is, and it is its own UTF-8 */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]+$/

/**
 * What writtenIndexLine gives for a file or folder with a plain name (and molt), as text that is its
 * own bytes: compared with the line read as latin1 (list-readers.ts), nothing else built for nearly
 * every member of an archive nobody touched. Null when the member is not that simple (writtenIndexLine decides).
 */
export function plainIndexLine(name: string, header: string): string | null {
  const h = decodeHeader(header)
  if ((h.type !== 'file' && h.type !== 'dir') || !PLAIN.test(name) || name.endsWith('/') || (h.molt !== null && !PLAIN.test(h.molt)) || !WRITTEN_MTIME.test(h.mtime)) return null
  return `{"path":"${name}","type":"${h.type}","mode":"${octalMode(h.mode)}","size":${h.type === 'file' ? h.size : 0},"mtime":"${h.mtime}","molt":${h.molt === null ? 'null' : `"${h.molt}"`}}`
}

/** How a member header differs from its index.jsonl line ("mode 0644 → 0755", …); empty when it does not. */
export function headerDifferences(header: HeaderFacts, line: IndexFacts): string[] {
  const differ: string[] = []
  if (header.type !== line.type) return [`type ${line.type} → ${header.type}`]
  if (octalMode(header.mode) !== line.mode) differ.push(`mode ${line.mode} → ${octalMode(header.mode)}`)
  if (header.size !== line.size) differ.push(`size ${line.size} → ${header.size}`)
  if (!sameTime(header.mtime, line.mtime)) differ.push(`mtime ${line.mtime} → ${header.mtime}`)
  if ((line.link ?? '') !== header.link) differ.push(`link target ${line.link === null ? 'none' : shownName(line.link)} → ${shownName(header.link)}`)
  return differ
}

/**
 * The same time, or the same second from a tar format that holds only seconds (a re-tar with
 * GNU tar --format=gnu): restore then sets the second the header gives.
 */
function sameTime(header: string, index: string): boolean {
  if (header === index) return true
  if (header.includes('.')) return Number(header) === Number(index)
  const [seconds] = index.split('.')
  return BigInt(header) === BigInt(seconds!) - (index.startsWith('-') && index.includes('.') && !/^-\d+\.0*$/.test(index) ? 1n : 0n)
}
