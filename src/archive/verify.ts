import { parseChecksumList, type BackupNote } from './checksums.ts'
import type { Compression } from './compress.ts'
import { CHECKSUMS_MEMBER, MANIFEST_MEMBER, memberNameProblem, normalizeMemberName, placeOf, symlinkStaysInside } from './layout.ts'
import { parseManifest, type Manifest } from './manifest.ts'
import { archiveCompression, ArchiveReadError, readArchive } from './read.ts'
import type { TarEntry } from './tar.ts'

/**
 * `fleet verify`: stream the whole archive once — compression integrity, tar structure, member
 * names and types, every sha256 against checksums.sha256, and the manifest against the content
 * (with the backup's own notes accounting for files that changed or vanished while it ran).
 */
export interface VerifyReport {
  path: string
  ok: boolean
  legacy: boolean
  compression: Compression | null
  manifest: Manifest | null
  /** one line each; empty when the archive is sound */
  problems: string[]
  /** things worth saying that are not problems (legacy: no checksums) */
  info: string[]
  members: number
  /** regular files besides manifest.json and checksums.sha256, and their bytes */
  files: number
  bytes: number
  /** members whose sha256 matched the list (manifest.json included) */
  verified: number
  notes: BackupNote[]
}

const MAX_PROBLEMS = 200
const MAX_CHECKSUMS = 512 << 20

interface Counts {
  files: number
  bytes: number
  dirs: number
  symlinks: number
}

export async function verifyArchive(path: string): Promise<VerifyReport> {
  const report: VerifyReport = { path, ok: false, legacy: false, compression: null, manifest: null, problems: [], info: [], members: 0, files: 0, bytes: 0, verified: 0, notes: [] }
  let dropped = 0
  const problem = (text: string) => (report.problems.length < MAX_PROBLEMS ? report.problems.push(text) : dropped++)

  let manifestIndex = -1
  let manifestError: string | null = null
  let strict = false
  const names = new Set<string>()
  const unsafe = new Set<string>()
  const symlinks = new Map<string, string>()
  const dirs: string[] = []
  const files = new Map<string, { digest: string; size: number }>()
  let checksumsIndex = -1
  let checksumsText: string | null = null
  let lastIndex = -1
  let current: { entry: TarEntry; name: string; hasher: Bun.CryptoHasher | null; capture: Uint8Array[] | null; captured: number } | null = null

  try {
    report.compression = archiveCompression(path)
    const parser = await readArchive(path, {
      entry(entry) {
        const index = report.members++
        lastIndex = index
        const name = normalizeMemberName(entry.name)
        const shown = JSON.stringify(entry.name)
        const nameProblem = memberNameProblem(entry.name, { legacy: !strict })
        if (nameProblem) {
          problem(`${shown}: unsafe member name (${nameProblem})`)
          unsafe.add(name)
        }
        if (names.has(name) && name !== '') problem(`${shown}: duplicate member`)
        names.add(name)
        if (entry.type === 'hardlink') problem(`${shown}: hard link to ${JSON.stringify(entry.linkname)} (hard links are refused)`)
        else if (entry.type === 'char-device' || entry.type === 'block-device' || entry.type === 'fifo') problem(`${shown}: ${entry.type} member (only files, folders and symlinks belong in a backup)`)
        else if (entry.type === 'other') problem(`${shown}: unsupported member type ${JSON.stringify(entry.typeflag)}`)
        else if (entry.type === 'symlink') symlinks.set(name, entry.linkname)
        else if (entry.type === 'directory') dirs.push(name)
        current = { entry, name, hasher: null, capture: null, captured: 0 }
        if (entry.type !== 'file') return
        current.hasher = new Bun.CryptoHasher('sha256')
        const isManifest = name === MANIFEST_MEMBER && (index === 0 || manifestIndex < 0)
        if (isManifest && entry.size > 16 << 20) problem(`manifest.json: ${entry.size} bytes, too big to be a manifest`)
        else if (isManifest) {
          manifestIndex = index
          current.capture = []
        } else if (name === CHECKSUMS_MEMBER) {
          checksumsIndex = index
          if (entry.size > MAX_CHECKSUMS) problem(`${CHECKSUMS_MEMBER}: ${entry.size} bytes, too big to check`)
          else current.capture = []
        }
      },
      data(chunk) {
        const c = current!
        c.hasher?.update(chunk)
        if (c.capture) {
          c.capture.push(chunk.slice())
          c.captured += chunk.length
        }
      },
      entryEnd(entry) {
        const c = current!
        current = null
        if (entry.type !== 'file') return
        const text = c.capture ? new TextDecoder().decode(Buffer.concat(c.capture)) : null
        if (c.name === CHECKSUMS_MEMBER && text !== null) {
          checksumsText = text
          return
        }
        files.set(c.name, { digest: c.hasher!.digest('hex'), size: entry.size })
        if (text === null) return
        try {
          const parsed = parseManifest(text)
          report.manifest = parsed.manifest
          report.legacy = parsed.legacy
          strict = !parsed.legacy
        } catch (error) {
          manifestError = (error as Error).message
        }
      },
    }, report.compression)
    if (parser.trailingGarbage) problem('non-zero bytes after the end-of-archive blocks')
  } catch (error) {
    if (!(error instanceof ArchiveReadError)) throw error
    problem(error.message)
    if (error.kind !== 'io' && error.kind !== 'format') problem('the rest of the archive could not be checked')
    return finish(report, dropped)
  }

  const m = report.manifest
  if (manifestError) problem(manifestError)
  else if (!m) problem('no manifest.json: not a fleet backup')
  else if (!report.legacy && manifestIndex !== 0) problem('manifest.json is not the first member')
  if (!m) return finish(report, dropped)

  const molts = new Set(m.molts.map((molt) => molt.name))
  const layout = { global: m.layout.global, molts }
  const counts = new Map<string, Counts>(m.molts.map((molt) => [molt.name, { files: 0, bytes: 0, dirs: 0, symlinks: 0 }]))
  const present = new Set<string>()
  let globalFiles = 0

  // where each member belongs, and what each molt holds
  for (const name of names) {
    if (name === '' || name === '.' || unsafe.has(name)) continue
    const place = placeOf(name, layout)
    if (place.kind === 'outside') {
      problem(`${JSON.stringify(name)}: belongs to no molt of the manifest`)
      continue
    }
    if (place.kind !== 'molt') continue
    present.add(place.molt)
    if (place.rel === '' && symlinks.has(name)) problem(`${JSON.stringify(name)}: a molt folder that is a symlink`)
  }
  for (const [name, file] of files) {
    const place = placeOf(name, layout)
    if (place.kind !== 'manifest') {
      report.files++
      report.bytes += file.size
    }
    if (place.kind === 'molt') {
      const c = counts.get(place.molt)!
      c.files++
      c.bytes += file.size
    } else if (place.kind === 'global') globalFiles++
  }
  for (const name of dirs) {
    const place = placeOf(name, layout)
    if (place.kind === 'molt' && place.rel !== '') counts.get(place.molt)!.dirs++
  }
  for (const [name, target] of symlinks) {
    const place = placeOf(name, layout)
    if (place.kind === 'molt') counts.get(place.molt)!.symlinks++
    if (place.kind !== 'molt' || place.rel === '') continue
    if (!symlinkStaysInside(place.rel, target)) problem(`${JSON.stringify(name)}: symlink to ${JSON.stringify(target)} leads outside its molt`)
    else if (throughSymlink(name, target, symlinks)) problem(`${JSON.stringify(name)}: symlink to ${JSON.stringify(target)} passes through another symlink`)
  }
  for (const name of names) {
    const parent = symlinkAncestor(name, symlinks)
    if (parent) problem(`${JSON.stringify(name)}: inside ${JSON.stringify(parent)}, which is a symlink`)
  }
  for (const molt of m.molts) if (!present.has(molt.name)) problem(`molt ${molt.name}: in the manifest but not in the archive`)

  if (report.legacy) {
    report.info.push(`legacy archive (bash toolkit, manifest version ${m.version}): it has no checksums, so file contents cannot be verified; only its structure was checked`)
    return finish(report, dropped)
  }

  // checksums: the last member, every file listed, every sum right
  if (checksumsText === null) {
    if (checksumsIndex < 0) problem(`${CHECKSUMS_MEMBER} is missing: contents cannot be checked`)
    return finish(report, dropped)
  }
  if (checksumsIndex !== lastIndex) problem(`${CHECKSUMS_MEMBER} is not the last member`)
  const list = parseChecksumList(checksumsText)
  report.notes = list.notes
  for (const bad of list.bad) problem(`${CHECKSUMS_MEMBER}: ${bad}`)
  for (const name of list.duplicates) problem(`${CHECKSUMS_MEMBER}: ${JSON.stringify(name)} listed twice`)
  for (const [name, digest] of list.sums) {
    const file = files.get(name)
    if (!file) problem(`${JSON.stringify(name)}: listed in ${CHECKSUMS_MEMBER} but missing from the archive`)
    else if (file.digest !== digest) problem(`${JSON.stringify(name)}: sha256 mismatch (its content is not what was backed up)`)
    else report.verified++
  }
  for (const name of files.keys()) if (!list.sums.has(name)) problem(`${JSON.stringify(name)}: not in ${CHECKSUMS_MEMBER}`)
  if (!list.end) problem(`${CHECKSUMS_MEMBER} has no end line (cut short?)`)
  else if (list.end.files !== report.files || list.end.bytes !== report.bytes) {
    problem(`${CHECKSUMS_MEMBER} says ${list.end.files} files / ${list.end.bytes} bytes; the archive holds ${report.files} / ${report.bytes}`)
  }

  // the manifest against the content, with the notes explaining every planned file that changed
  const adjust = new Map<string, { files: number; bytes: number }>()
  for (const note of list.notes) {
    const place = placeOf(note.path, layout)
    const key = place.kind === 'molt' ? place.molt : place.kind
    const a = adjust.get(key) ?? { files: 0, bytes: 0 }
    if (typeof note.planned_size === 'number') {
      a.files--
      a.bytes -= note.planned_size
    }
    if (typeof note.archived_size === 'number') {
      a.files++
      a.bytes += note.archived_size
    }
    adjust.set(key, a)
  }
  let expectFiles = 0
  let expectBytes = 0
  for (const molt of m.molts) {
    const c = counts.get(molt.name)!
    const a = adjust.get(molt.name) ?? { files: 0, bytes: 0 }
    const files = (molt.files ?? 0) + a.files
    const bytes = (molt.backup_size_bytes ?? 0) + a.bytes
    expectFiles += files
    expectBytes += bytes
    if (c.files !== files || c.bytes !== bytes) problem(`molt ${molt.name}: the manifest accounts for ${files} files / ${bytes} bytes, the archive holds ${c.files} / ${c.bytes}`)
    if (molt.dirs !== null && c.dirs !== molt.dirs) problem(`molt ${molt.name}: the manifest says ${molt.dirs} folders, the archive holds ${c.dirs}`)
    if (molt.symlinks !== null && c.symlinks !== molt.symlinks) problem(`molt ${molt.name}: the manifest says ${molt.symlinks} symlinks, the archive holds ${c.symlinks}`)
    if (molt.crontab && !names.has(`${molt.name}/${molt.crontab}`)) problem(`molt ${molt.name}: its crontab member is missing`)
  }
  for (const g of m.global_files) if (!files.has(`${m.layout.global}/${g}`)) problem(`${m.layout.global}/${g}: in the manifest but not in the archive`)
  if (globalFiles !== m.global_files.length) problem(`the manifest lists ${m.global_files.length} global files, the archive holds ${globalFiles}`)
  const globalBytes = [...files].filter(([name]) => placeOf(name, layout).kind === 'global').reduce((sum, [, f]) => sum + f.size, 0)
  const totalFiles = (m.total_files ?? 0) + [...adjust.values()].reduce((s, a) => s + a.files, 0)
  const totalBytes = (m.total_size_bytes ?? 0) + [...adjust.values()].reduce((s, a) => s + a.bytes, 0)
  if (totalFiles !== expectFiles + globalFiles || totalBytes !== expectBytes + globalBytes) {
    problem(`the manifest's totals (${m.total_files} files / ${m.total_size_bytes} bytes) do not add up to its molts and global files`)
  }
  return finish(report, dropped)
}

function finish(report: VerifyReport, dropped: number): VerifyReport {
  if (dropped) report.problems.push(`… and ${dropped} more problems`)
  report.ok = report.problems.length === 0
  return report
}

/** The nearest proper ancestor of `name` that is a symlink member, if any. */
function symlinkAncestor(name: string, symlinks: Map<string, string>): string | null {
  if (!symlinks.size) return null
  for (let i = name.indexOf('/'); i > 0; i = name.indexOf('/', i + 1)) {
    const prefix = name.slice(0, i)
    if (symlinks.has(prefix)) return prefix
  }
  return null
}

/** Resolving the target climbs through another symlink of the archive (its real direction is unknown). */
function throughSymlink(name: string, target: string, symlinks: Map<string, string>): boolean {
  const parts = name.split('/').slice(0, -1)
  const segments = target.split('/').filter((s) => s && s !== '.')
  for (const [i, segment] of segments.entries()) {
    if (segment === '..') parts.pop()
    else parts.push(segment)
    if (i < segments.length - 1 && symlinks.has(parts.join('/')) && segments.slice(i + 1).includes('..')) return true
  }
  return false
}
