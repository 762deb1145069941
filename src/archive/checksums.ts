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

export type ChecksumListLine =
  | { kind: 'sum'; name: string; digest: string }
  | { kind: 'note'; note: BackupNote }
  | { kind: 'end'; end: TrailerEnd }
  | { kind: 'bad'; reason: string }
  | { kind: 'blank' }

/** One line of the list (without its newline; names as byte strings when read as latin1). */
export function parseChecksumLine(line: string): ChecksumListLine {
  if (line.startsWith(NOTE)) {
    const note = parseJson(line.slice(NOTE.length)) as BackupNote | null
    return note && typeof note.kind === 'string' && typeof note.path === 'string' ? { kind: 'note', note } : { kind: 'bad', reason: 'unreadable note' }
  }
  if (line.startsWith(END)) {
    const end = parseJson(line.slice(END.length)) as TrailerEnd | null
    return end && typeof end.files === 'number' && typeof end.bytes === 'number' ? { kind: 'end', end } : { kind: 'bad', reason: 'unreadable end line' }
  }
  if (line.startsWith('#') || line.trim() === '') return { kind: 'blank' }
  const match = /^(\\?)([0-9a-f]{64}) [ *](.+)$/.exec(line)
  if (!match) return { kind: 'bad', reason: 'not a sha256sum line' }
  return { kind: 'sum', name: match[1] ? unescapeName(match[3]!) : match[3]!, digest: match[2]! }
}

export function parseChecksumList(text: string): ChecksumList {
  const list: ChecksumList = { sums: new Map(), notes: [], end: null, bad: [], duplicates: [] }
  const lines = text.split('\n')
  if (lines.at(-1) === '') lines.pop()
  for (const [index, line] of lines.entries()) {
    const parsed = parseChecksumLine(line)
    if (parsed.kind === 'note') list.notes.push(parsed.note)
    else if (parsed.kind === 'end') list.end = parsed.end
    else if (parsed.kind === 'bad') list.bad.push(`line ${index + 1}: ${parsed.reason}`)
    else if (parsed.kind === 'sum') {
      if (list.sums.has(parsed.name)) list.duplicates.push(parsed.name)
      list.sums.set(parsed.name, parsed.digest)
    }
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
