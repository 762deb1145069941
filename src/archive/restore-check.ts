import { shownName } from './byte-names.ts'
import { checkIndex } from './restore-index.ts'
import { parseChecksumList, type BackupNote, type TrailerEnd } from './checksums.ts'
import { CHECKSUMS_MEMBER, componentOf, placeOf, type Component } from './layout.ts'
import type { Manifest } from './manifest.ts'
import type { Extracted, MoltTally, Scoped } from './restore-extract.ts'
import type { Spool } from './spool.ts'

/**
 * The staged trees against the archive's own account of itself, before anything live is touched:
 * every file written has the sha256 checksums.sha256 gives it, every listed file of the restored
 * molts is there, and counts and sizes are what the manifest (with the backup's notes) says.
 */
const LINES_PER_BLOCK = 5000
const LISTED = ''

export interface CheckInput {
  manifest: Manifest
  legacy: boolean
  /** its digests and headers are used up: each is marked as it is matched (check once) */
  extracted: Extracted
  /** the molts being restored */
  molts: string[]
  only: ReadonlySet<Component> | null
}

export interface CheckResult {
  problems: Scoped[]
  /** files whose sha256 matched */
  verified: number
  /** what the backup noticed (checksums.sha256's notes) */
  notes: BackupNote[]
}

export function checkStaged(input: CheckInput): CheckResult {
  const { manifest, legacy, extracted, only } = input
  const problems: Scoped[] = []
  const result: CheckResult = { problems, verified: 0, notes: [] }
  const restoring = new Set(input.molts)
  const layout = { global: manifest.layout.global, molts: new Set(manifest.molts.map((m) => m.name)) }
  const scopeOf = (name: string): string | null => {
    const place = placeOf(name, layout)
    return place.kind === 'molt' ? place.molt : null
  }
  const archive = (text: string) => problems.push({ molt: null, text })
  for (const name of input.molts) if (!extracted.present.has(name)) problems.push({ molt: name, text: `molt ${name}: in the manifest but not in the archive` })
  if (legacy) return result
  if (extracted.checksums === null) {
    archive(`${CHECKSUMS_MEMBER} is missing: the contents cannot be checked`)
    return result
  }
  const relevant = (name: string): boolean => {
    const place = placeOf(name, layout)
    if (place.kind === 'manifest' || place.kind === 'global' || place.kind === 'index' || place.kind === 'state') return true
    if (place.kind !== 'molt' || !restoring.has(place.molt)) return false
    if (!only || place.rel === manifest.layout.crontab) return true
    const component = componentOf(place.rel, false)
    return component !== null && component !== undefined && only.has(component)
  }
  // the list is read from its spool a block of lines at a time: memory stays flat whatever its length
  const list = { notes: [] as BackupNote[], end: null as TrailerEnd | null }
  // a matched digest is replaced by LISTED (no second set of 400,000 names): what stays unmarked is not in the list
  const digests = extracted.digests
  let firstLine = 0
  for (const text of lineBlocks(extracted.checksums)) {
    const block = parseChecksumList(text)
    for (const bad of block.bad) archive(`${CHECKSUMS_MEMBER}: ${bad.replace(/^line (\d+)/, (_, n: string) => `line ${Number(n) + firstLine}`)}`)
    for (const name of block.duplicates) archive(`${CHECKSUMS_MEMBER}: ${shownName(name)} listed twice`)
    list.notes.push(...block.notes)
    if (block.end) list.end = block.end
    for (const [name, digest] of block.sums) {
      if (!relevant(name)) continue
      const got = digests.get(name)
      if (got === LISTED) {
        archive(`${CHECKSUMS_MEMBER}: ${shownName(name)} listed twice`)
        continue
      }
      if (got === undefined) problems.push({ molt: scopeOf(name), text: `${shownName(name)}: listed in ${CHECKSUMS_MEMBER} but missing from the archive` })
      else {
        digests.set(name, LISTED)
        if (got !== Buffer.from(digest, 'hex').toString('latin1')) problems.push({ molt: scopeOf(name), text: `${shownName(name)}: sha256 mismatch (its content is not what was backed up)` })
        else result.verified++
      }
    }
    firstLine += LINES_PER_BLOCK
    // each block's lines and matches are garbage now; collected before the next block adds more
    Bun.gc(true)
  }
  result.notes = list.notes
  if (!list.end) archive(`${CHECKSUMS_MEMBER} has no end line (cut short?)`)
  else if (list.end.files !== extracted.archiveFiles || list.end.bytes !== extracted.archiveBytes) {
    archive(`${CHECKSUMS_MEMBER} says ${list.end.files} files / ${list.end.bytes} bytes; the archive holds ${extracted.archiveFiles} / ${extracted.archiveBytes}`)
  }
  for (const [name, digest] of digests) if (digest !== LISTED) problems.push({ molt: scopeOf(name), text: `${shownName(name)}: not in ${CHECKSUMS_MEMBER}` })
  for (const g of manifest.global_files) if (!extracted.global.has(g)) archive(`${manifest.layout.global}/${g}: in the manifest but not in the archive`)
  if (extracted.global.size !== manifest.global_files.length) archive(`the manifest lists ${manifest.global_files.length} global files, the archive holds ${extracted.global.size}`)

  // counts and sizes, with the backup's notes for files that changed while it ran
  const adjust = new Map<string, { files: number; bytes: number }>()
  const bump = (key: string, files: number, bytes: number) => {
    const a = adjust.get(key) ?? { files: 0, bytes: 0 }
    a.files += files
    a.bytes += bytes
    adjust.set(key, a)
  }
  for (const note of list.notes) {
    const place = placeOf(note.path, layout)
    if (place.kind !== 'molt') continue
    const component = componentOf(place.rel, false) ?? 'other'
    for (const key of [place.molt, `${place.molt}\0${component}`]) {
      if (typeof note.planned_size === 'number') bump(key, -1, -note.planned_size)
      if (typeof note.archived_size === 'number') bump(key, 1, note.archived_size)
    }
  }
  for (const m of manifest.molts) {
    if (!restoring.has(m.name)) continue
    const tally = extracted.molts.get(m.name)!
    if (m.crontab && (!only || only.has('crontab')) && !tally.crontab) problems.push({ molt: m.name, text: `molt ${m.name}: its crontab member is missing` })
    if (only) {
      for (const c of only) {
        const planned = m.component_stats[c] ?? { files: 0, bytes: 0 }
        const a = adjust.get(`${m.name}\0${c}`) ?? { files: 0, bytes: 0 }
        compare(problems, m.name, `molt ${m.name}, ${c}`, planned.files + a.files, planned.bytes + a.bytes, tally.byComponent.get(c) ?? { files: 0, bytes: 0 })
      }
      continue
    }
    const a = adjust.get(m.name) ?? { files: 0, bytes: 0 }
    compare(problems, m.name, `molt ${m.name}`, (m.files ?? 0) + a.files, (m.backup_size_bytes ?? 0) + a.bytes, tally)
    if (m.dirs !== null && tally.dirs !== m.dirs) problems.push({ molt: m.name, text: `molt ${m.name}: the manifest says ${m.dirs} folders, the archive holds ${tally.dirs}` })
    if (m.symlinks !== null && tally.symlinks !== m.symlinks) problems.push({ molt: m.name, text: `molt ${m.name}: the manifest says ${m.symlinks} symlinks, the archive holds ${tally.symlinks}` })
  }
  if (manifest.layout.index !== null) problems.push(...checkIndex(extracted.index && decodedLines(extracted.index), extracted.headers, restoring))
  // the manifest against itself, last: a molt's own line says more
  const sum = (key: 'files' | 'backup_size_bytes') => manifest.molts.reduce((total, m) => total + (m[key] ?? 0), 0)
  const globalBytes = [...extracted.global.values()].reduce((total, g) => total + g.length, 0)
  if (manifest.total_files !== sum('files') + manifest.global_files.length || manifest.total_size_bytes !== sum('backup_size_bytes') + globalBytes) {
    archive(`the manifest's totals (${manifest.total_files} files / ${manifest.total_size_bytes} bytes) do not add up to its molts and global files`)
  }
  return result
}

function compare(problems: Scoped[], molt: string, what: string, files: number, bytes: number, got: Pick<MoltTally, 'files' | 'bytes'>): void {
  if (got.files !== files || got.bytes !== bytes) problems.push({ molt, text: `${what}: the manifest accounts for ${files} files / ${bytes} bytes, the archive holds ${got.files} / ${got.bytes}` })
}

/** A spool's lines, LINES_PER_BLOCK at a time, as one text each ('\n'-joined, newline-terminated). */
function* lineBlocks(spool: Spool): Generator<string> {
  let lines: string[] = []
  for (const line of spool.lines()) {
    lines.push(Buffer.from(line.buffer, line.byteOffset, line.length).toString('latin1'))
    if (lines.length === LINES_PER_BLOCK) {
      yield `${lines.join('\n')}\n`
      lines = []
    }
  }
  if (lines.length) yield `${lines.join('\n')}\n`
}

/** A spool's lines as UTF-8 text (index.jsonl), one at a time. */
function* decodedLines(spool: Spool): Generator<string> {
  const decoder = new TextDecoder()
  for (const line of spool.lines()) yield decoder.decode(line)
}

/** The backup's notes in a spooled checksums.sha256, without checking anything. */
export function checksumNotes(spool: Spool): BackupNote[] {
  const notes: BackupNote[] = []
  for (const text of lineBlocks(spool)) notes.push(...parseChecksumList(text).notes)
  return notes
}
