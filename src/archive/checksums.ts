/**
 * checksums.sha256, the last member: one `sha256sum` line per regular file, then what the backup
 * noticed as `#` lines, which GNU `sha256sum -c` skips (even with --strict):
 *
 *   <sha256>  alpha/.molt-info
 *   \<sha256>  alpha/Maildir/cur/odd\nname        (GNU escaping for names holding \ or a newline)
 *   #clmnt-note {"kind":"vanished","path":"alpha/Maildir/new/1","detail":"…","planned_size":812}
 *   #clmnt-end {"files":123,"bytes":456789,"notes":1,"partial":false}
 *
 * Notes reconcile the manifest (planned before streaming) with the content: a note with
 * `planned_size` was counted in the manifest; one with `archived_size` is in the archive at that size.
 */
/**
 * `appeared`: archived though not planned (a message found under its Maildir-renamed name);
 * `followed`: a top-level component symlink archived as the folder it leads to;
 * `sqlite`: a database captured with SQLite's online backup (its size is the snapshot's).
 */
export type NoteKind = 'vanished' | 'unreadable' | 'changed' | 'grew' | 'shrank' | 'replaced' | 'skipped' | 'appeared' | 'followed' | 'sqlite'

export interface BackupNote {
  kind: NoteKind
  /** member name (molt/rel) or, for things outside any member, a description */
  path: string
  detail: string
  planned_size?: number
  archived_size?: number
  /** the member holds zeros where the file could not be read: it is not in the checksum list */
  damaged?: boolean
}

export interface TrailerEnd {
  files: number
  bytes: number
  notes: number
  partial: boolean
}

const NOTE = '#clmnt-note '
const END = '#clmnt-end '

export const CHECKSUMS_HEADER = '# sha256 of every regular file in this archive; check an extracted copy with: sha256sum -c checksums.sha256\n'

/** One line as GNU sha256sum writes it (a leading backslash marks an escaped name). */
export function checksumLine(hex: string, name: string): string {
  if (/[\\\n\r]/.test(name)) {
    return `\\${hex}  ${name.replaceAll('\\', '\\\\').replaceAll('\n', '\\n').replaceAll('\r', '\\r')}\n`
  }
  return `${hex}  ${name}\n`
}

export function noteLine(note: BackupNote): string {
  return `${NOTE}${JSON.stringify(note)}\n`
}

export function endLine(end: TrailerEnd): string {
  return `${END}${JSON.stringify(end)}\n`
}

export interface ChecksumList {
  /** member name → sha256 hex */
  sums: Map<string, string>
  notes: BackupNote[]
  end: TrailerEnd | null
  /** lines that are neither: each one a problem for verify */
  bad: string[]
  duplicates: string[]
}

export function parseChecksumList(text: string): ChecksumList {
  const list: ChecksumList = { sums: new Map(), notes: [], end: null, bad: [], duplicates: [] }
  const lines = text.split('\n')
  if (lines.at(-1) === '') lines.pop()
  for (const [index, line] of lines.entries()) {
    if (line.startsWith(NOTE)) {
      const note = parseJson(line.slice(NOTE.length)) as BackupNote | null
      if (note && typeof note.kind === 'string' && typeof note.path === 'string') list.notes.push(note)
      else list.bad.push(`line ${index + 1}: unreadable note`)
      continue
    }
    if (line.startsWith(END)) {
      const end = parseJson(line.slice(END.length)) as TrailerEnd | null
      if (end && typeof end.files === 'number' && typeof end.bytes === 'number') list.end = end
      else list.bad.push(`line ${index + 1}: unreadable end line`)
      continue
    }
    if (line.startsWith('#') || line.trim() === '') continue
    const match = /^(\\?)([0-9a-f]{64}) [ *](.+)$/.exec(line)
    if (!match) {
      list.bad.push(`line ${index + 1}: not a sha256sum line`)
      continue
    }
    const name = match[1] ? unescapeName(match[3]!) : match[3]!
    if (list.sums.has(name)) list.duplicates.push(name)
    list.sums.set(name, match[2]!)
  }
  return list
}

function unescapeName(text: string): string {
  return text.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c === 'r' ? '\r' : c))
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return null
  }
}
