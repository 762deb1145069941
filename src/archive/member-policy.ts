import { shownName } from './byte-names.ts'
import { componentOf, CRONTAB_FILE, GLOBAL_FILES, memberNameProblem, normalizeMemberName, placeOf, symlinkStaysInside, type Component } from './layout.ts'
import type { TarEntry } from './tar-parse.ts'

/**
 * The member policy: what restore does with each kind of member, judged from the member alone.
 * verify, `restore --dry-run` and restore all go through this one function (via extractArchive),
 * so verify's answer is restore's answer. Decisions that need what came before (duplicates, paths
 * through symlinks, hard-link targets) are made by the extractor, also shared.
 *
 *   regular file, folder     restored (sparse files as sparse files)
 *   symlink                  restored as a link, whatever it points at; never followed
 *   hard link                a hard link to the earlier member inside the same molt
 *   set-user/group-ID, sticky  restored without those bits, and said
 *   pre-POSIX folder, dumpdir ('D')  a folder
 *   device, FIFO, socket, other types   refused (for that molt)
 *   absolute name, `..`, NUL, outside the manifest's molts   refused (the whole archive)
 */
export type Scope = string | null

export type Verdict =
  | { kind: 'refuse'; molt: Scope; reason: string }
  | { kind: 'ignore' }
  | { kind: 'manifest' }
  | { kind: 'checksums' }
  /** format 3's index.jsonl (index-file.ts) */
  | { kind: 'index' }
  /** format 4's state.jsonl (state-file.ts): checked against its checksum like any file */
  | { kind: 'state' }
  | { kind: 'global'; rel: string }
  | {
      kind: 'member'
      molt: string
      /** path inside the home (legacy names moved to where they live now), byte string */
      rel: string
      type: 'file' | 'directory' | 'symlink' | 'hardlink' | 'crontab' | 'root'
      /** the mode restore gives it: without set-ID and sticky bits */
      mode: number
      /** bits dropped from the archived mode */
      dropped: number
      component: Component | null | undefined
      /** the link target leads out of the molt (absolute, or `..` above it) */
      outside: boolean
    }

export interface PolicyInput {
  legacy: boolean
  layout: { global: string; molts: ReadonlySet<string> }
}

/** The bash toolkit kept these at the top of the molt folder; they live under .openclaw/. */
const LEGACY_OPENCLAW = new Set(['openclaw.json', '.env', 'skills'])
export function legacyRel(rel: string): string {
  const top = rel.split('/')[0]!
  return LEGACY_OPENCLAW.has(top) ? `.openclaw/${rel}` : rel
}

export function judgeMember(e: TarEntry, input: PolicyInput): Verdict {
  const { legacy, layout } = input
  // for refusals only: a name made fit for messages costs a decode and a JSON.stringify per member
  const shown = () => shownName(e.name)
  const problem = memberNameProblem(e.name, { legacy })
  if (problem) return { kind: 'refuse', molt: null, reason: `member ${shown()}: ${problem}` }
  const name = normalizeMemberName(e.name)
  if (name === '') return legacy && e.type === 'directory' ? { kind: 'ignore' } : { kind: 'refuse', molt: null, reason: `member ${shown()}: not a name of the fleet layout` }
  const place = placeOf(name, layout)
  if (place.kind === 'manifest' || (place.kind === 'checksums' && !legacy)) {
    return e.type === 'file' && !e.sparse ? { kind: place.kind } : { kind: 'refuse', molt: null, reason: `member ${shown()} is not a plain file` }
  }
  if ((place.kind === 'index' || place.kind === 'state') && !legacy) {
    return e.type === 'file' && !e.sparse ? { kind: place.kind } : { kind: 'refuse', molt: null, reason: `member ${shown()} is not a plain file` }
  }
  if (place.kind === 'global') {
    if (place.rel === '' && e.type === 'directory') return { kind: 'ignore' }
    if ((GLOBAL_FILES as readonly string[]).includes(place.rel) && e.type === 'file') return { kind: 'global', rel: place.rel }
    if (legacy) return { kind: 'ignore' }
    return { kind: 'refuse', molt: null, reason: `member ${shown()} is not one of the fleet files the global folder holds (${GLOBAL_FILES.join(', ')})` }
  }
  if (place.kind !== 'molt') return { kind: 'refuse', molt: null, reason: `member ${shown()} belongs to no molt of the manifest` }
  const molt = place.molt
  if (e.type === 'char-device' || e.type === 'block-device' || e.type === 'fifo') {
    return { kind: 'refuse', molt, reason: `member ${shown()} is a ${e.type.replace('-', ' ')}: only files, folders and links are restored` }
  }
  if (e.type === 'other') return { kind: 'refuse', molt, reason: `member ${shown()} has the tar type ${JSON.stringify(e.typeflag)}, which restore does not extract` }
  const rel = legacy ? legacyRel(place.rel) : place.rel
  const isDir = e.type === 'directory'
  const base = { kind: 'member' as const, molt, rel, mode: e.mode & 0o777, dropped: e.mode & 0o7000, outside: false }
  if (rel === '') {
    if (!isDir) return { kind: 'refuse', molt, reason: `member ${shown()}: the folder of molt ${molt} is a ${e.type}` }
    return { ...base, type: 'root', component: null, dropped: 0 }
  }
  if (!legacy && rel === CRONTAB_FILE) {
    if (e.type !== 'file') return { kind: 'refuse', molt, reason: `member ${shown()} is not a file` }
    return { ...base, type: 'crontab', component: 'crontab', dropped: 0 }
  }
  const component = componentOf(rel, isDir)
  if (e.type === 'symlink') {
    if (e.linkname === '' || e.linkname.includes('\0')) return { kind: 'refuse', molt, reason: `member ${shown()} is a symlink without a target` }
    return { ...base, type: 'symlink', component, dropped: 0, outside: !symlinkStaysInside(rel, e.linkname) }
  }
  return { ...base, type: e.type, component }
}

/** The molt-relative path a hard link points at (its target is a member name), or null when not in `molt`. */
export function hardLinkTarget(linkname: string, molt: string, input: PolicyInput): string | null {
  if (memberNameProblem(linkname, { legacy: input.legacy })) return null
  const place = placeOf(normalizeMemberName(linkname), input.layout)
  if (place.kind !== 'molt' || place.molt !== molt || place.rel === '') return null
  return input.legacy ? legacyRel(place.rel) : place.rel
}
