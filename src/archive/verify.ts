import { InputError } from '../lib/errors.ts'
import type { BackupNote } from './checksums.ts'
import type { Compression } from './compress.ts'
import type { Component } from './layout.ts'
import type { Manifest } from './manifest.ts'
import { ArchiveReadError, readArchiveHead } from './read.ts'
import { checkStaged, checksumNotes } from './restore-check.ts'
import { extractArchive, release, type Extracted, type Scoped } from './restore-extract.ts'
import type { ListRegions } from './restore-lists.ts'
import { planSeekRead } from './seek-read.ts'
import type { Spool } from './spool.ts'

/**
 * `fleet verify` and `fleet restore --dry-run`: the archive read exactly as restore reads it (the
 * same extractArchive, the same member policy, the same checks against checksums.sha256 and the
 * manifest), writing nothing. Its answer is restore's: per molt, restored (with what restore
 * changes or says) or refused (and why); problems of the archive as a whole refuse every molt.
 */
export interface ArchiveCheck {
  problems: Scoped[]
  notes: Scoped[]
  /** sha256 sums that matched checksums.sha256 */
  verified: number
  /** what the backup noticed (checksums.sha256's notes) */
  backupNotes: BackupNote[]
  extracted: Extracted
}

export interface CheckSpec {
  archive: string
  compression: Compression
  manifest: Manifest
  legacy: boolean
  /** the molts to check (restore: the ones it restores) */
  molts: string[]
  only: ReadonlySet<Component> | null
  signal?: AbortSignal
  /**
   * takes checksums.sha256 as the check spooled it (and the parts of it read) instead of letting it
   * go: the chain's carried files are compared with it later (chain-carried.ts); close it when done
   */
  keepChecksums?(list: Spool, regions: ListRegions | null, holes: boolean): void
}

export async function checkArchive(spec: CheckSpec): Promise<ArchiveCheck> {
  const extracted = await extractArchive({ ...spec, molts: new Map(spec.molts.map((m) => [m, null])), diskBudget: Number.POSITIVE_INFINITY, failFast: false })
  const problems = [...extracted.problems]
  let verified = 0
  let backupNotes: BackupNote[] = []
  try {
    // the content checks need the whole stream: a cut archive has its one problem already
    if (!problems.some((p) => p.molt === null && p.text.startsWith('the archive cannot be read'))) {
      const check = checkStaged({ manifest: spec.manifest, legacy: spec.legacy, extracted, molts: spec.molts, only: spec.only })
      problems.push(...check.problems)
      verified = check.verified
      backupNotes = check.notes
    } else if (extracted.checksums !== null) backupNotes = checksumNotes(extracted.checksums)
  } finally {
    if (spec.keepChecksums && extracted.checksums) {
      spec.keepChecksums(extracted.checksums, extracted.regions, extracted.listHoles)
      extracted.checksums = null
    }
    release(extracted)
  }
  return { problems, notes: extracted.notes, verified, backupNotes, extracted }
}

/** Problems that stop a restore of `molts`: the archive's own, and those of these molts. */
export function blocking(problems: Scoped[], molts: Iterable<string>): Scoped[] {
  const set = new Set(molts)
  return problems.filter((p) => p.molt === null || set.has(p.molt))
}

export interface MoltVerdict {
  name: string
  /** would a restore of it succeed */
  ok: boolean
  problems: string[]
  notes: string[]
}

export interface VerifyReport {
  path: string
  ok: boolean
  legacy: boolean
  compression: Compression | null
  manifest: Manifest | null
  /** one line each; empty when the archive is sound */
  problems: string[]
  /** things worth saying that are not problems (legacy: no checksums; what restore changes) */
  info: string[]
  molts: MoltVerdict[]
  /** regular files besides manifest.json and checksums.sha256, and their bytes */
  files: number
  bytes: number
  /** members whose sha256 matched the list (manifest.json included) */
  verified: number
  notes: BackupNote[]
}

export async function verifyArchive(path: string, options: Pick<CheckSpec, 'keepChecksums'> = {}): Promise<VerifyReport> {
  const report: VerifyReport = { path, ok: false, legacy: false, compression: null, manifest: null, problems: [], info: [], molts: [], files: 0, bytes: 0, verified: 0, notes: [] }
  let head: Awaited<ReturnType<typeof readArchiveHead>>
  try {
    head = await readArchiveHead(path)
  } catch (error) {
    if (!(error instanceof ArchiveReadError) && !(error instanceof InputError)) throw error
    report.problems.push((error as Error).message)
    return report
  }
  const m = head.manifest
  Object.assign(report, { legacy: head.legacy, compression: head.compression, manifest: m })
  const names = m.molts.map((molt) => molt.name)
  const check = await checkArchive({ archive: path, compression: head.compression, manifest: m, legacy: head.legacy, molts: names, only: null, keepChecksums: options.keepChecksums })
  const { extracted } = check
  report.files = extracted.archiveFiles
  report.bytes = extracted.archiveBytes
  report.verified = check.verified
  report.notes = check.backupNotes
  report.problems = check.problems.map((p) => p.text)
  if (head.legacy) report.info.push(`legacy archive (bash toolkit, manifest version ${m.version}): it has no checksums, so file contents cannot be verified; only its structure was checked`)
  for (const note of check.notes) report.info.push(note.molt ? `${note.molt}: ${note.text}` : note.text)
  const archiveWide = check.problems.filter((p) => p.molt === null).map((p) => p.text)
  for (const name of names) {
    const own = check.problems.filter((p) => p.molt === name).map((p) => p.text)
    const problems = [...archiveWide, ...own]
    report.molts.push({ name, ok: problems.length === 0, problems: own, notes: check.notes.filter((n) => n.molt === name).map((n) => n.text) })
  }
  report.ok = report.problems.length === 0
  // what restore --select will find: the molt index's tail, tiling and each molt's first member (a few KiB each)
  if (report.ok && !head.legacy) {
    const seek = await planSeekRead(path, head.compression, m, new Set(names))
    if (!seek.read && seek.fallback) report.info.push(`${seek.fallback.replace(/: reading the whole archive$/, '')}: restore --select will read the whole archive`)
  }
  return report
}
