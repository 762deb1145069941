import { tmpdir } from 'node:os'
import { closeSync, constants, ftruncateSync, futimesSync, linkSync, lstatSync, lutimesSync, mkdirSync, openSync, symlinkSync, writeSync } from 'node:fs'
import { posix } from 'node:path'
import { ClmntError } from '../lib/errors.ts'
import { bytesOf, pathIn, shownName } from './byte-names.ts'
import type { Compression } from './compress.ts'
import { normalizeMemberName, type Component } from './layout.ts'
import type { Manifest } from './manifest.ts'
import { hardLinkTarget, judgeMember, type PolicyInput, type Scope } from './member-policy.ts'
import { ArchiveReadError, readArchive } from './read.ts'
import { fileTime } from './restore-fs.ts'
import { planSeekRead } from './seek-read.ts'
import { encodeHeader } from './restore-index.ts'
import type { ListRegions } from './restore-lists.ts'
import { MemberLog, NameTable } from './member-log.ts'
import { Spool } from './spool.ts'
import type { TarEntry } from './tar-parse.ts'

export { legacyRel } from './member-policy.ts'

/**
 * The one reader of a whole archive, for verify, `restore --dry-run` and restore: the archive is
 * streamed once, every member judged by the member policy (member-policy.ts) and by what came
 * before it (duplicates, paths through symlinks or files, hard-link targets), and every file of the
 * checked molts hashed. Restore writes the molts it restores into staging as it goes; verify and
 * the dry run write nothing. A problem belongs to a molt or to the whole archive: restore stops at
 * the first one that touches what it restores; a check goes on and reports them all.
 */
export class RestoreRefused extends ClmntError {
  constructor(
    message: string,
    readonly problems: string[] = [message],
  ) {
    super(message, 1)
    this.name = 'RestoreRefused'
  }
}

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
}

/** The scratch files of an extraction give their space back. */
export function release(extracted: Extracted): void {
  extracted.log.close()
  extracted.checksums?.close()
  extracted.index?.close()
}

const WRITE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW
/** checksums.sha256 and index.jsonl go to a spool file, not memory: ~100–200 bytes a member, millions of members */
const MAX_LIST = 1 << 30
const MAX_GLOBAL = 16 << 20
const MAX_CRONTAB = 1 << 20
const MAX_PROBLEMS = 200
const ZEROS = new Uint8Array(1 << 20)
const HOLE = 64 << 10
/**
 * Inflated chunks are garbage as soon as they are written, faster than the collector notices
 * (they are mostly outside the JS heap): besides read.ts's full collection every 32 MiB, a quick
 * one every 8 MiB keeps the peak ~12 MB lower for no measurable time.
 */
const GC_EVERY = 8 << 20

type Current =
  | { kind: 'skip' }
  | { kind: 'file'; fd: number | null; hasher: Bun.CryptoHasher | null; hashed: number; name: string; rel: string; tally: MoltTally; component: string }
  | { kind: 'capture'; chunks: Uint8Array[]; hasher: Bun.CryptoHasher; name: string | null; limit: number; done(content: Uint8Array): void }
  | { kind: 'spool'; spool: Spool | null; hasher: Bun.CryptoHasher; name: string | null }

class Refusal extends Error {}

export async function extractArchive(spec: ExtractSpec): Promise<Extracted> {
  const { manifest, legacy } = spec
  const input: PolicyInput = { legacy, layout: { global: manifest.layout.global, molts: new Set(manifest.molts.map((m) => m.name)) } }
  const scratchDir = spec.scratchDir ?? tmpdir()
  const out: Extracted = { log: new MemberLog(scratchDir), checksums: null, global: new Map(), molts: new Map(), present: new Set(), problems: [], notes: [], archiveFiles: 0, archiveBytes: 0, manifestFirst: false, index: null, regions: null }
  /** every member by key (its name; legacy: molt/rel, where it lands): duplicates, files under a path, hard-link targets */
  const known = new NameTable(out.log)
  for (const [name, home] of spec.molts) {
    if (home) mkdirSync(home, { mode: 0o700 })
    out.molts.set(name, { files: 0, bytes: 0, dirs: 0, symlinks: 0, byComponent: new Map(), deferred: [], dirsMade: new Set(['']), containers: new Map(), implicit: new Map(), kinds: new Map(), rootMtime: null, crontab: null })
  }
  const declaredLimit = legacy || manifest.total_size_bytes === null ? Number.POSITIVE_INFINITY : 2 * manifest.total_size_bytes + 2 ** 30
  const indexed = !legacy && manifest.layout.index !== null
  const dropped = new Map<string, string[]>()
  const outside = new Map<string, string[]>()
  let index = -1
  let afterChecksums = false
  let written = 0
  let filesDone = 0
  let current: Current = { kind: 'skip' }
  let sinceCollect = 0

  /** A problem: fatal when restore needs what it concerns, else recorded (the member is read past). */
  const refuse: Refuse = (molt, text) => {
    if (spec.failFast && (molt === null || spec.molts.has(molt))) throw new RestoreRefused(text)
    if (out.problems.length < MAX_PROBLEMS) out.problems.push({ molt, text })
    throw new Refusal(text)
  }

  const entry = (e: TarEntry): void => {
    index++
    if (spec.signal?.aborted) throw new RestoreRefused('interrupted')
    const shown = shownName(e.name)
    if (afterChecksums && !legacy) refuse(null, `member ${shown} comes after checksums.sha256, which must be the last member`)
    const verdict = judgeMember(e, input)
    const name = normalizeMemberName(e.name)
    if (verdict.kind === 'refuse') refuse(verdict.molt, verdict.reason)
    const scope = verdict.kind === 'member' ? verdict.molt : null
    // format 3: what each header says, for the check against index.jsonl
    const header = indexed && verdict.kind !== 'index' && verdict.kind !== 'checksums' && (scope === null || spec.molts.has(scope))
      ? encodeHeader({ type: e.type === 'directory' ? 'dir' : (e.type as 'file' | 'symlink' | 'hardlink'), mode: e.mode & 0o7777, size: e.size, mtime: e.mtimeText, link: e.type === 'symlink' || e.type === 'hardlink' ? e.linkname : '', molt: scope })
      : null
    if (verdict.kind === 'ignore') {
      if (header !== null) out.log.member(name, name, header)
      return
    }
    const key = legacy && verdict.kind === 'member' ? `${verdict.molt}/${verdict.rel}` : name
    const logged = out.log.member(key, name, header)
    const twice = known.get(key)
    if (twice !== null) refuse(scope, out.log.memberAt(twice).name === name ? `member ${shown} appears twice in the archive` : `member ${shown}: its path is already taken by another member`)
    const slot = known.add(key, logged)
    if (e.type === 'file' && verdict.kind !== 'manifest' && verdict.kind !== 'checksums') {
      out.archiveFiles++
      out.archiveBytes += e.size
      // judged on what the headers declare, before a byte of it is read: a gzip bomb is refused at its header
      if (out.archiveBytes > declaredLimit) refuse(null, `member ${shown} (${e.size} bytes) takes the archive past the ${declaredLimit} bytes its manifest can account for (twice its total, plus 1 GiB for files that grew during the backup): refused (a gzip bomb, or a manifest that lies)`)
    }
    if (verdict.kind === 'manifest') {
      if (index === 0) out.manifestFirst = true
      else if (!legacy) refuse(null, 'manifest.json is not the first member')
      if (e.size > MAX_GLOBAL) refuse(null, `member ${shown} is ${e.size} bytes: too big to be a manifest`)
      current = capture(name, MAX_GLOBAL, () => {})
      return
    }
    if (verdict.kind === 'checksums') {
      if (e.size > MAX_LIST) refuse(null, `checksums.sha256 is ${e.size} bytes: too big to be a checksum list`)
      afterChecksums = true
      out.checksums?.close()
      out.checksums = new Spool(scratchDir)
      current = { kind: 'spool', spool: out.checksums, hasher: new Bun.CryptoHasher('sha256'), name: null }
      return
    }
    if (verdict.kind === 'index') {
      // hashed against its checksum line like any file; read against the headers by compareLists (restore-lists.ts)
      if (e.size > MAX_LIST) refuse(null, `member ${shown} is ${e.size} bytes: too big to be an index`)
      out.index?.close()
      out.index = new Spool(scratchDir)
      current = { kind: 'spool', spool: out.index, hasher: new Bun.CryptoHasher('sha256'), name }
      return
    }
    if (verdict.kind === 'state') {
      // hashed against its checksum line; its lines are read by chain.ts when a chain needs them
      current = { kind: 'spool', spool: null, hasher: new Bun.CryptoHasher('sha256'), name }
      return
    }
    if (verdict.kind === 'global') {
      if (e.size > MAX_GLOBAL) refuse(null, `member ${shown} is ${e.size} bytes: too big for a fleet file`)
      current = capture(name, MAX_GLOBAL, (content) => out.global.set(verdict.rel, content))
      return
    }
    const { molt, rel } = verdict
    out.present.add(molt)
    const tally = out.molts.get(molt)
    if (!tally) return // a molt not checked: read past
    const home = spec.molts.get(molt) ?? null
    if (verdict.type === 'root') {
      tally.rootMtime = e.mtime
      return
    }
    // nothing goes through a symlink or a file of the archive, whatever the file system says
    for (let i = rel.indexOf('/'); i > 0; i = rel.indexOf('/', i + 1)) {
      const above = rel.slice(0, i)
      const kind = tally.kinds.get(above) ?? (known.getFile(`${molt}/${above}`) !== null ? 'file' : 'directory')
      if (kind !== 'directory') refuse(molt, `member ${shown} lies inside ${shownName(`${molt}/${above}`)}, which is a ${kind}`)
    }
    if (verdict.type === 'crontab') {
      if (e.size > MAX_CRONTAB) refuse(molt, `member ${shown} is ${e.size} bytes: too big to be a crontab`)
      current = capture(name, MAX_CRONTAB, (content) => {
        tally.crontab = content
        count(tally, 'crontab', content.length)
      })
      return
    }
    const component = verdict.component
    const isDir = verdict.type === 'directory'
    if (spec.only && component !== null && (component === undefined || !spec.only.has(component))) return
    if (spec.only && component === null && isDir) {
      // a folder that only holds components (.openclaw): made when a restored component needs it
      tally.containers.set(rel, { rel, mode: verdict.mode, mtime: e.mtime })
      tally.kinds.set(rel, 'directory')
      tally.dirs++
      return
    }
    const prior = tally.kinds.get(rel)
    if (prior !== undefined && !(isDir && prior === 'directory')) refuse(molt, `member ${shown}: its path is already taken by another member`)
    if (verdict.dropped) (dropped.get(molt) ?? dropped.set(molt, []).get(molt)!).push(`${shown} (${(e.mode & 0o7777).toString(8).padStart(4, '0')})`)
    if (isDir) {
      ensureParent(tally, home, rel, shown, refuse, molt)
      makeDir(tally, home, rel, shown, refuse, molt)
      tally.kinds.set(rel, 'directory')
      tally.implicit.delete(rel)
      tally.deferred.push({ rel, mode: verdict.mode, mtime: e.mtime })
      tally.dirs++
      return
    }
    if (verdict.type === 'symlink') {
      if (verdict.outside) (outside.get(molt) ?? outside.set(molt, []).get(molt)!).push(`${shown} → ${shownName(e.linkname)}`)
      ensureParent(tally, home, rel, shown, refuse, molt)
      if (home) {
        const path = pathIn(home, rel)
        try {
          symlinkSync(bytesOf(e.linkname), path)
        } catch (error) {
          refuse(molt, `member ${shown}: cannot create the symlink (${(error as NodeJS.ErrnoException).code})`)
        }
        lutimesSync(path, fileTime(e.mtime), fileTime(e.mtime))
      }
      tally.kinds.set(rel, 'symlink')
      tally.symlinks++
      return
    }
    if (verdict.type === 'hardlink') {
      const targetRel = hardLinkTarget(e.linkname, molt, input)
      const targetAt = targetRel === null ? null : known.getFile(`${molt}/${targetRel}`)
      const target = targetAt === null ? null : out.log.fileAt(targetAt)
      if (target === null) return refuse(molt, `member ${shown} is a hard link to ${shownName(e.linkname)}, which is not an earlier file of molt ${molt}`)
      ensureParent(tally, home, rel, shown, refuse, molt)
      if (home) {
        try {
          linkSync(pathIn(home, targetRel!), pathIn(home, rel))
        } catch (error) {
          refuse(molt, `member ${shown}: cannot create the hard link (${(error as NodeJS.ErrnoException).code})`)
        }
      }
      // the target's size and sha256 are the link's
      out.log.file(target.size, target.digest)
      known.markFile(slot)
      count(tally, component ?? 'other', target.size)
      return
    }
    // a regular file
    ensureParent(tally, home, rel, shown, refuse, molt)
    let fd: number | null = null
    if (home) {
      try {
        fd = openSync(pathIn(home, rel), WRITE_FLAGS, verdict.mode)
      } catch (error) {
        refuse(molt, `member ${shown}: cannot create it (${(error as NodeJS.ErrnoException).code}): something is already at that path`)
      }
    }
    known.markFile(slot)
    // the bash toolkit's archives list no checksums: nothing to hash files for
    current = { kind: 'file', fd, hasher: legacy ? null : new Bun.CryptoHasher('sha256'), hashed: 0, name, rel, tally, component: component ?? 'other' }
  }

  const capture = (name: string | null, limit: number, done: (content: Uint8Array) => void): Current => ({ kind: 'capture', chunks: [], hasher: new Bun.CryptoHasher('sha256'), name, limit, done })

  const data = (chunk: Uint8Array, position: number): void => {
    const c = current
    if (c.kind === 'file') {
      if (c.hasher) {
        hashZeros(c, position)
        c.hasher.update(chunk)
        c.hashed = position + chunk.length
      }
      // runs of 64 KiB of zeros become holes: an 8 GiB file of zeros costs no disk, as with GNU tar --sparse
      if (c.fd !== null) {
        for (let from = 0; from < chunk.length; from += HOLE) {
          const part = chunk.subarray(from, from + HOLE)
          if (isZero(part)) continue
          written += part.length
          if (written > spec.diskBudget) refuse(null, `not enough free space in the base dir's file system to restore ${shownName(c.name)} and what follows it`)
          for (let at = 0; at < part.length; ) at += writeSync(c.fd, part, at, part.length - at, position + from + at)
        }
      }
    } else if (c.kind === 'capture') {
      c.chunks.push(chunk.slice())
      c.hasher.update(chunk)
    } else if (c.kind === 'spool') {
      c.spool?.append(chunk)
      c.hasher.update(chunk)
    }
  }

  const entryEnd = (e: TarEntry): void => {
    const c = current
    current = { kind: 'skip' }
    if (c.kind === 'file') {
      if (c.hasher) hashZeros(c, e.size)
      if (c.fd !== null) {
        ftruncateSync(c.fd, e.size)
        futimesSync(c.fd, fileTime(e.mtime), fileTime(e.mtime))
        closeSync(c.fd)
      }
      out.log.file(e.size, c.hasher ? binaryDigest(c.hasher) : '')
      count(c.tally, c.component, e.size)
      filesDone++
      spec.onProgress?.({ files: filesDone, bytes: written })
    } else if (c.kind === 'capture') {
      const content = Buffer.concat(c.chunks)
      if (content.length > c.limit) refuse(null, `member ${shownName(e.name)} is too big`)
      if (c.name !== null) out.log.file(content.length, binaryDigest(c.hasher))
      c.done(content)
    } else if (c.kind === 'spool' && c.name !== null) {
      out.log.file(e.size, binaryDigest(c.hasher))
    }
  }

  // some molts of a big archive: only their part of it, when the archive's molt index holds
  const seek = indexed && spec.molts.size < input.layout.molts.size ? await planSeekRead(spec.archive, spec.compression, manifest, new Set(spec.molts.keys())) : null
  if (seek && !seek.read && seek.fallback) out.notes.push({ molt: null, text: seek.fallback })
  // planning's garbage (zod, the manifest, the fleet scan) goes before extraction starts to allocate
  Bun.gc(true)
  try {
    const { endNotes } = await readArchive(
      spec.archive,
      {
        entry(e) {
          current = { kind: 'skip' }
          try {
            entry(e)
          } catch (error) {
            if (!(error instanceof Refusal)) throw error
            current = { kind: 'skip' }
          }
        },
        data(chunk, _e, position) {
          sinceCollect += chunk.length
          if (sinceCollect >= GC_EVERY) {
            sinceCollect = 0
            Bun.gc(false)
          }
          try {
            data(chunk, position)
          } catch (error) {
            if (!(error instanceof Refusal)) throw error
            closeCurrent(current)
            current = { kind: 'skip' }
          }
        },
        entryEnd(e) {
          try {
            entryEnd(e)
          } catch (error) {
            if (!(error instanceof Refusal)) throw error
          }
        },
      },
      spec.compression,
      seek?.read?.chunks,
    )
    if (seek?.read) {
      // the files of the molts not read, as index.jsonl lists them: checksums.sha256's end line must still add up
      out.archiveFiles += seek.read.skipped.files
      out.archiveBytes += seek.read.skipped.bytes
      out.regions = seek.read.regions
    }
    for (const text of endNotes) out.notes.push({ molt: null, text })
  } catch (error) {
    closeCurrent(current)
    if (error instanceof ArchiveReadError && !spec.failFast) {
      out.problems.push({ molt: null, text: `the archive cannot be read to its end: ${error.message}` })
      return out
    }
    release(out)
    if (error instanceof ArchiveReadError) throw new RestoreRefused(`the archive cannot be read to its end: ${error.message}`)
    throw error
  }
  for (const [molt, list] of dropped) out.notes.push({ molt, text: `set-user-ID, set-group-ID or sticky bits dropped from ${list.length} member(s): ${list.slice(0, 3).join(', ')}${list.length > 3 ? ' …' : ''}` })
  for (const [molt, list] of outside) out.notes.push({ molt, text: `${list.length} symlink(s) point outside the molt, restored as links and never followed: ${list.slice(0, 3).join(', ')}${list.length > 3 ? ' …' : ''}` })
  return out
}

/** sha256 as a 32-character latin1 string: half the memory of hex, for each of 400,000 files */
function binaryDigest(hasher: Bun.CryptoHasher): string {
  return hasher.digest().toString('latin1')
}

function closeCurrent(c: Current): void {
  if (c.kind === 'file' && c.fd !== null) {
    try {
      closeSync(c.fd)
    } catch {}
  }
}

function hashZeros(c: { hasher: Bun.CryptoHasher | null; hashed: number }, upTo: number): void {
  if (!c.hasher) return
  for (let left = upTo - c.hashed; left > 0; left -= ZEROS.length) c.hasher.update(left >= ZEROS.length ? ZEROS : ZEROS.subarray(0, left))
  c.hashed = Math.max(c.hashed, upTo)
}

function isZero(chunk: Uint8Array): boolean {
  if (chunk.length > ZEROS.length || chunk[0] !== 0) return false
  return Buffer.compare(chunk, ZEROS.subarray(0, chunk.length)) === 0
}

function count(tally: MoltTally, component: string, bytes: number): void {
  tally.files++
  tally.bytes += bytes
  const c = tally.byComponent.get(component) ?? { files: 0, bytes: 0 }
  c.files++
  c.bytes += bytes
  tally.byComponent.set(component, c)
}

type Refuse = (molt: Scope, text: string) => never

/** Folders on the way to a member: only ones this extraction made, never through a symlink or a file. */
function ensureParent(tally: MoltTally, home: string | null, rel: string, shown: string, refuse: Refuse, molt: string): void {
  const parent = posix.dirname(rel)
  if (parent === '.' || tally.dirsMade.has(parent)) return
  ensureParent(tally, home, parent, shown, refuse, molt)
  makeDir(tally, home, parent, shown, refuse, molt)
  if (!tally.kinds.has(parent)) {
    tally.kinds.set(parent, 'directory')
    // a folder the archive has no member for gets what GNU tar gives it (0777 less the usual umask 022);
    // a member for it later sets its own mode and time
    if (!tally.containers.has(parent)) tally.implicit.set(parent, { rel: parent, mode: 0o755, mtime: Date.now() / 1000 })
  }
}

function makeDir(tally: MoltTally, home: string | null, rel: string, shown: string, refuse: Refuse, molt: string): void {
  if (tally.dirsMade.has(rel)) return
  if (home) {
    try {
      mkdirSync(pathIn(home, rel), { mode: 0o700 })
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      let what = 'something else'
      try {
        const st = lstatSync(pathIn(home, rel))
        what = st.isSymbolicLink() ? 'a symlink' : st.isDirectory() ? 'a folder' : 'a file'
      } catch {}
      refuse(molt, `member ${shown}: ${shownName(rel)} is already ${what} (${code}), not a folder to put it in: refused (a member may not go through a symlink)`)
    }
  }
  tally.dirsMade.add(rel)
  const container = tally.containers.get(rel)
  if (container) tally.deferred.push(container)
}
