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
  sparse: boolean
  molt: string | null
}

export function checkIndex(text: string | null, headers: ReadonlyMap<string, HeaderFacts>, checked: ReadonlySet<string>): Scoped[] {
  const problems: Scoped[] = []
  if (text === null) return [{ molt: null, text: 'index.jsonl is missing: member modes, times and links cannot be checked' }]
  const listed = new Set<string>()
  const rows = text.split('\n')
  if (rows.at(-1) === '') rows.pop()
  for (const [i, row] of rows.entries()) {
    const line = parseIndexLine(row)
    if (typeof line === 'string') {
      problems.push({ molt: null, text: `index.jsonl: line ${i + 1}: ${line}` })
      continue
    }
    if (line.molt !== null && !checked.has(line.molt)) continue
    const name = byteName(indexPathBytes(line))
    const shown = shownName(name)
    const scope = line.molt
    if (listed.has(name)) {
      problems.push({ molt: scope, text: `index.jsonl: ${shown} listed twice` })
      continue
    }
    listed.add(name)
    const header = headers.get(name)
    if (!header) {
      problems.push({ molt: scope, text: `${shown}: in index.jsonl but not in the archive` })
      continue
    }
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
    if (!listed.has(name)) problems.push({ molt: header.molt, text: `${shownName(name)}: not in index.jsonl` })
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
