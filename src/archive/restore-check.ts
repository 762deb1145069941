import { tmpdir } from 'node:os'
import { parseChecksumList, type BackupNote } from './checksums.ts'
import { CHECKSUMS_MEMBER, componentOf, placeOf, type Component } from './layout.ts'
import type { Manifest } from './manifest.ts'
import type { Extracted, MoltTally, Scoped } from './restore-extract.ts'
import { compareLists } from './restore-lists.ts'
import type { Spool } from './spool.ts'

/**
 * The staged trees against the archive's own account of itself, before anything live is touched:
 * every file written has the sha256 checksums.sha256 gives it, every listed file of the restored
 * molts is there, and counts and sizes are what the manifest (with the backup's notes) says.
 */
const LINES_PER_BLOCK = 5000

export interface CheckInput {
  manifest: Manifest
  legacy: boolean
  extracted: Extracted
  /** the molts being restored */
  molts: string[]
  only: ReadonlySet<Component> | null
  /** where the comparison with the lists spools its buckets (restore-lists.ts); the system's temporary folder by default */
  scratchDir?: string
  /** tests: names per bucket */
  bucket?: number
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
    if (place.kind === 'state') return !extracted.stateSkipped
    if (place.kind === 'index') return !extracted.listHoles
    if (place.kind === 'manifest' || place.kind === 'global') return true
    if (place.kind !== 'molt' || !restoring.has(place.molt)) return false
    if (!only || place.rel === manifest.layout.crontab) return true
    const component = componentOf(place.rel, false)
    return component !== null && component !== undefined && only.has(component)
  }
  const lists = compareLists({ log: extracted.log, checksums: extracted.checksums, index: manifest.layout.index !== null ? extracted.index : null, relevant, scopeOf, checked: restoring, regions: extracted.regions, holes: extracted.listHoles, scratchDir: input.scratchDir ?? tmpdir(), bucket: input.bucket })
  problems.push(...lists.sums)
  result.verified = lists.verified
  result.notes = lists.notes
  if (!lists.end) archive(`${CHECKSUMS_MEMBER} has no end line (cut short?)`)
  else if (lists.end.files !== extracted.archiveFiles || lists.end.bytes !== extracted.archiveBytes) {
    archive(`${CHECKSUMS_MEMBER} says ${lists.end.files} files / ${lists.end.bytes} bytes; the archive holds ${extracted.archiveFiles} / ${extracted.archiveBytes}`)
  }
  problems.push(...lists.unlisted)
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
  for (const note of lists.notes) {
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
  if (manifest.layout.index !== null) problems.push(...(extracted.index ? lists.index : [{ molt: null, text: 'index.jsonl is missing: member modes, times and links cannot be checked' }]))
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

/** The backup's notes in a spooled checksums.sha256, without checking anything. */
export function checksumNotes(spool: Spool): BackupNote[] {
  const notes: BackupNote[] = []
  for (const text of lineBlocks(spool)) notes.push(...parseChecksumList(text).notes)
  return notes
}
