import { tmpdir } from 'node:os'
import { mkdirSync } from 'node:fs'
import type { Compression } from './compress.ts'
import type { Component } from './layout.ts'
import type { Manifest } from './manifest.ts'
import { MemberLog } from './member-log.ts'
import type { PolicyInput, Scope } from './member-policy.ts'
import { ArchiveReadError, readArchive } from './read.ts'
import { ExtractSink, RestoreRefused } from './restore-sink.ts'
import { newTally } from './restore-tree.ts'
import { planSeekRead, type SeekRead } from './seek-read.ts'
import type { ListRegions } from './restore-lists.ts'
import type { Spool } from './spool.ts'

export { legacyRel } from './member-policy.ts'
export { RestoreRefused }

/**
 * The one reader of a whole archive, for verify, `restore --dry-run` and restore: the archive is
 * streamed once, every member judged by the member policy (member-policy.ts) and by what came
 * before it (duplicates, paths through symlinks or files, hard-link targets), and every file of the
 * checked molts hashed (restore-sink.ts). Restore writes the molts it restores into staging as it
 * goes; verify and the dry run write nothing. A problem belongs to a molt or to the whole archive:
 * restore stops at the first one that touches what it restores; a check goes on and reports them all.
 */
export interface Scoped {
  /** the molt it concerns; null: the archive as a whole */
  molt: Scope
  text: string
}

export interface ExtractSpec {
  archive: string
  compression: Compression
  manifest: Manifest
  legacy: boolean
  /** molts checked → their folder in staging, or null to check without writing */
  molts: Map<string, string | null>
  only: ReadonlySet<Component> | null
  /** most bytes that may be written (free space, less a reserve) */
  diskBudget: number
  /** restore: stop at the first problem of a checked molt or of the archive */
  failFast: boolean
  /** where checksums.sha256 and index.jsonl wait, unlinked (spool.ts); the system's temporary folder by default */
  scratchDir?: string
  /** a chain restore holds the chain's state and digests while each archive is read: collect fully, not quickly (restore-sink.ts) */
  collectFully?: boolean
  signal?: AbortSignal
  onProgress?(done: { files: number; bytes: number }): void
}

export interface Deferred {
  rel: string
  mode: number
  mtime: number
}

/** folders and symlinks; files are known by the member log's NameTable (member-log.ts) */
type Kind = 'directory' | 'symlink'

export interface MoltTally {
  files: number
  bytes: number
  dirs: number
  symlinks: number
  byComponent: Map<string, { files: number; bytes: number }>
  /** folders' modes and mtimes, set once everything inside is written */
  deferred: Deferred[]
  /** folders created (or, checking, that would be) relative to the home: the only ones members may go into */
  dirsMade: Set<string>
  /** with --only: folders like .openclaw, made (with these modes and times) only when needed */
  containers: Map<string, Deferred>
  /** folders made for members inside them that have no member of their own */
  implicit: Map<string, Deferred>
  /** the folders and symlinks of the home, as the archive builds it */
  kinds: Map<string, Kind>
  rootMtime: number | null
  crontab: Uint8Array | null
}

export interface Extracted {
  /**
   * every member in archive order, with the sha256 (binaryDigest) of every file of the checked
   * molts (manifest, global, crontab included) and, format 3, what their headers say; release() when done
   */
  log: MemberLog
  /** checksums.sha256, spooled (its names are bytes: read its lines as latin1) */
  checksums: Spool | null
  global: Map<string, Uint8Array>
  molts: Map<string, MoltTally>
  /** molts that had at least one member in the archive */
  present: Set<string>
  problems: Scoped[]
  /** what restore changes or says about members (set-ID bits dropped, links out of the molt …) */
  notes: Scoped[]
  /** regular files besides manifest.json and checksums.sha256 in the whole archive, and their bytes */
  archiveFiles: number
  archiveBytes: number
  manifestFirst: boolean
  /** format 3: index.jsonl, spooled */
  index: Spool | null
  /** a read through the molt index: the parts of the lists about what was read (restore-lists.ts); null: all of them */
  regions: ListRegions | null
  /** a read through the molt index passed state.jsonl over (restore reads it on its own when a chain needs it) */
  stateSkipped: boolean
  /** the lines of the molts not read are holes in the lists (list chunks, seek-read.ts): index.jsonl is not hashed whole */
  listHoles: boolean
}

/** The scratch files of an extraction give their space back. */
export function release(extracted: Extracted): void {
  extracted.log.close()
  extracted.checksums?.close()
  extracted.index?.close()
}

export async function extractArchive(spec: ExtractSpec): Promise<Extracted> {
  const { manifest, legacy } = spec
  const input: PolicyInput = { legacy, layout: { global: manifest.layout.global, molts: new Set(manifest.molts.map((m) => m.name)) } }
  const indexed = !legacy && manifest.layout.index !== null
  // some molts of a big archive: only their part of it, when the archive's molt index holds. A restore
  // of all reads the file whole: through the index, two ranges inflating at once, it measured no faster
  // on a loaded 2-core host and took more CPU (issue 18 notes)
  const seek = indexed && spec.molts.size < input.layout.molts.size ? await planSeekRead(spec.archive, spec.compression, manifest, new Set(spec.molts.keys())) : null
  // planning's garbage (zod, the manifest, the fleet scan) goes before a whole read starts to allocate; a
  // read of some molts stays far below the peak of a whole one, and a full collection was ~5% of a one-molt restore
  if (!seek?.read) Bun.gc(true)
  return await extractFrom(spec, input, seek?.read ?? null, seek && !seek.read ? seek.fallback : null)
}

/** One read of the archive: whole (`seek` null) or through its molt index. */
async function extractFrom(spec: ExtractSpec, input: PolicyInput, seek: SeekRead | null, note: string | null): Promise<Extracted> {
  const scratchDir = spec.scratchDir ?? tmpdir()
  const out: Extracted = { log: new MemberLog(scratchDir), checksums: null, global: new Map(), molts: new Map(), present: new Set(), problems: [], notes: [], archiveFiles: 0, archiveBytes: 0, manifestFirst: false, index: null, regions: null, stateSkipped: false, listHoles: seek?.listHoles ?? false }
  if (note) out.notes.push({ molt: null, text: note })
  for (const [name, home] of spec.molts) {
    if (home) mkdirSync(home, { mode: 0o700 })
    out.molts.set(name, newTally())
  }
  const sink = new ExtractSink(spec, out, input, scratchDir)
  try {
    const { endNotes } = await readArchive(spec.archive, sink, spec.compression, seek?.chunks)
    await sink.settle()
    if (seek) {
      // the files of the molts not read, as index.jsonl lists them: checksums.sha256's end line must still add up
      out.archiveFiles += seek.skipped.files
      out.archiveBytes += seek.skipped.bytes
      out.regions = seek.regions
      out.stateSkipped = seek.stateSkipped
    }
    for (const text of endNotes) out.notes.push({ molt: null, text })
  } catch (error) {
    // no write may still be in flight when staging goes
    await sink.settle().catch(() => {})
    if (error instanceof ArchiveReadError && !spec.failFast) {
      out.problems.push({ molt: null, text: `the archive cannot be read to its end: ${error.message}` })
      return out
    }
    release(out)
    if (error instanceof ArchiveReadError) throw new RestoreRefused(`the archive cannot be read to its end: ${error.message}`)
    throw error
  }
  for (const [molt, list] of sink.dropped) out.notes.push({ molt, text: `set-user-ID, set-group-ID or sticky bits dropped from ${list.length} member(s): ${list.slice(0, 3).join(', ')}${list.length > 3 ? ' …' : ''}` })
  for (const [molt, list] of sink.outside) out.notes.push({ molt, text: `${list.length} symlink(s) point outside the molt, restored as links and never followed: ${list.slice(0, 3).join(', ')}${list.length > 3 ? ' …' : ''}` })
  return out
}
