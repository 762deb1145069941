import { byteName, shownName } from './byte-names.ts'
import { indexLinkBytes, indexPathBytes, octalMode, parseIndexLine, type IndexType } from './index-file.ts'
import type { Scoped } from './restore-extract.ts'

/**
 * Format 3: every member's header against index.jsonl (index-file.ts), which the checksum list
 * vouches for. A changed type, mode, size, mtime or link target in a header is caught here, where
 * checksums (content only) cannot see it. Members of molts not being checked are not compared.
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

/**
 * HeaderFacts as one string, the value kept per member until index.jsonl (near the end) is read:
 * at 400,000 members an object with its strings costs ~100 bytes more than this.
 */
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

const LISTED = ''

/**
 * `rows`: index.jsonl's lines in order (without newlines), or null when the archive has none.
 * `headers` (name → encodeHeader) is used up: a matched header is replaced by LISTED, so no second
 * set of every name is needed to tell what index.jsonl leaves out.
 */
export function checkIndex(rows: Iterable<string> | null, headers: Map<string, string>, checked: ReadonlySet<string>): Scoped[] {
  const problems: Scoped[] = []
  if (rows === null) return [{ molt: null, text: 'index.jsonl is missing: member modes, times and links cannot be checked' }]
  /** listed names that no header has (normally none) */
  const absent = new Set<string>()
  let i = -1
  for (const row of rows) {
    i++
    const line = parseIndexLine(row)
    if (typeof line === 'string') {
      problems.push({ molt: null, text: `index.jsonl: line ${i + 1}: ${line}` })
      continue
    }
    if (line.molt !== null && !checked.has(line.molt)) continue
    const name = byteName(indexPathBytes(line))
    const shown = shownName(name)
    const scope = line.molt
    const encoded = headers.get(name)
    if (encoded === LISTED || absent.has(name)) {
      problems.push({ molt: scope, text: `index.jsonl: ${shown} listed twice` })
      continue
    }
    if (encoded === undefined) {
      absent.add(name)
      problems.push({ molt: scope, text: `${shown}: in index.jsonl but not in the archive` })
      continue
    }
    headers.set(name, LISTED)
    const header = decodeHeader(encoded)
    const link = indexLinkBytes(line)
    const differ: string[] = []
    if (header.type !== line.type) differ.push(`type ${line.type} → ${header.type}`)
    else {
      if (octalMode(header.mode) !== line.mode) differ.push(`mode ${line.mode} → ${octalMode(header.mode)}`)
      if (header.size !== line.size) differ.push(`size ${line.size} → ${header.size}`)
      if (!sameTime(header.mtime, line.mtime)) differ.push(`mtime ${line.mtime} → ${header.mtime}`)
      if ((link === null ? '' : byteName(link)) !== header.link) differ.push(`link target ${link === null ? 'none' : shownName(byteName(link))} → ${shownName(header.link)}`)
    }
    if (differ.length) problems.push({ molt: scope, text: `${shown}: its header is not what index.jsonl says (${differ.join(', ')})` })
  }
  for (const [name, header] of headers) {
    if (header !== LISTED) problems.push({ molt: decodeHeader(header).molt, text: `${shownName(name)}: not in index.jsonl` })
  }
  return problems
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
