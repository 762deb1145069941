import { posix } from 'node:path'
import { parseChecksumList, type BackupNote, type TrailerEnd } from './checksums.ts'
import { CHECKSUMS_MEMBER, componentOf, placeOf, type Component } from './layout.ts'
import type { Manifest } from './manifest.ts'
import type { Extracted, MoltTally } from './restore-extract.ts'

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
}

export interface CheckResult {
  problems: string[]
  /** files whose sha256 matched */
  verified: number
}

export function checkStaged(input: CheckInput): CheckResult {
  const { manifest, legacy, extracted, only } = input
  const problems: string[] = []
  const result: CheckResult = { problems, verified: 0 }
  const restoring = new Set(input.molts)
  for (const name of input.molts) {
    if (!extracted.present.has(name)) problems.push(`molt ${name}: in the manifest but not in the archive`)
    const tally = extracted.molts.get(name)!
    for (const [rel, target] of tally.links) {
      if (climbsThroughLink(rel, target, tally.links)) problems.push(`"${name}/${rel}": symlink to ${JSON.stringify(target)} climbs out through another symlink`)
    }
  }
  if (legacy) return result
  if (extracted.trailingGarbage) problems.push('non-zero bytes after the end-of-archive blocks')
  if (extracted.checksums === null) {
    problems.push(`${CHECKSUMS_MEMBER} is missing: the contents cannot be checked`)
    return result
  }
  const layout = { global: manifest.layout.global, molts: new Set(manifest.molts.map((m) => m.name)) }
  const relevant = (name: string): boolean => {
    const place = placeOf(name, layout)
    if (place.kind === 'manifest' || place.kind === 'global') return true
    if (place.kind !== 'molt' || !restoring.has(place.molt)) return false
    if (!only || place.rel === manifest.layout.crontab) return true
    const component = componentOf(place.rel, false)
    return component !== null && component !== undefined && only.has(component)
  }
  // the list is read a block of lines at a time: a whole 40,000-line list parsed at once costs
  // ~15 MB more at the peak, and restore keeps its memory bounded whatever the archive size
  const list = { notes: [] as BackupNote[], end: null as TrailerEnd | null }
  const listed = new Set<string>()
  const text = extracted.checksums
  let firstLine = 0
  for (let at = 0; at < text.length; ) {
    let cut = at
    for (let n = 0; n < LINES_PER_BLOCK && cut < text.length; n++) {
      const nl = text.indexOf('\n', cut)
      cut = nl < 0 ? text.length : nl + 1
    }
    const block = parseChecksumList(text.slice(at, cut))
    for (const bad of block.bad) problems.push(`${CHECKSUMS_MEMBER}: ${bad.replace(/^line (\d+)/, (_, n: string) => `line ${Number(n) + firstLine}`)}`)
    for (const name of block.duplicates) problems.push(`${CHECKSUMS_MEMBER}: ${JSON.stringify(name)} listed twice`)
    list.notes.push(...block.notes)
    if (block.end) list.end = block.end
    for (const [name, digest] of block.sums) {
      if (!relevant(name)) continue
      if (listed.has(name)) {
        problems.push(`${CHECKSUMS_MEMBER}: ${JSON.stringify(name)} listed twice`)
        continue
      }
      const got = extracted.digests.get(name)
      if (got === undefined) problems.push(`${JSON.stringify(name)}: listed in ${CHECKSUMS_MEMBER} but missing from the archive`)
      else {
        listed.add(name)
        if (got !== digest) problems.push(`${JSON.stringify(name)}: sha256 mismatch (its content is not what was backed up)`)
        else result.verified++
      }
    }
    firstLine += LINES_PER_BLOCK
    at = cut
    // each block's lines and matches are garbage now; collected before the next block adds more
    if (at < text.length) Bun.gc(true)
  }
  if (!list.end) problems.push(`${CHECKSUMS_MEMBER} has no end line (cut short?)`)
  for (const name of extracted.digests.keys()) if (!listed.has(name)) problems.push(`${JSON.stringify(name)}: not in ${CHECKSUMS_MEMBER}`)

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
    if (m.crontab && (!only || only.has('crontab')) && !tally.crontab) problems.push(`molt ${m.name}: its crontab member is missing`)
    if (only) {
      for (const c of only) {
        const planned = m.component_stats[c] ?? { files: 0, bytes: 0 }
        const a = adjust.get(`${m.name}\0${c}`) ?? { files: 0, bytes: 0 }
        compare(problems, `molt ${m.name}, ${c}`, planned.files + a.files, planned.bytes + a.bytes, tally.byComponent.get(c) ?? { files: 0, bytes: 0 })
      }
      continue
    }
    const a = adjust.get(m.name) ?? { files: 0, bytes: 0 }
    compare(problems, `molt ${m.name}`, (m.files ?? 0) + a.files, (m.backup_size_bytes ?? 0) + a.bytes, tally)
    if (m.dirs !== null && tally.dirs !== m.dirs) problems.push(`molt ${m.name}: the manifest says ${m.dirs} folders, the archive holds ${tally.dirs}`)
    if (m.symlinks !== null && tally.symlinks !== m.symlinks) problems.push(`molt ${m.name}: the manifest says ${m.symlinks} symlinks, the archive holds ${tally.symlinks}`)
  }
  return result
}

function compare(problems: string[], what: string, files: number, bytes: number, got: Pick<MoltTally, 'files' | 'bytes'>): void {
  if (got.files !== files || got.bytes !== bytes) problems.push(`${what}: the manifest accounts for ${files} files / ${bytes} bytes, the archive holds ${got.files} / ${got.bytes}`)
}

/**
 * Does resolving `target` from `rel` go through another symlink of the molt and then `..`? The
 * text check (symlinkStaysInside) assumes every step is a real folder; a `..` after a symlink
 * goes wherever that symlink points.
 */
export function climbsThroughLink(rel: string, target: string, links: ReadonlyMap<string, string>): boolean {
  const parts = posix.dirname(rel).split('/').filter((p) => p && p !== '.')
  const segments = target.split('/').filter((s) => s && s !== '.')
  for (const [i, segment] of segments.entries()) {
    if (segment === '..') parts.pop()
    else parts.push(segment)
    if (i < segments.length - 1 && links.has(parts.join('/')) && segments.slice(i + 1).includes('..')) return true
  }
  return false
}
