import { constants, linkSync, lutimesSync, symlinkSync } from 'node:fs'
import { ClmntError } from '../lib/errors.ts'
import { bytesOf, pathIn, shownName } from './byte-names.ts'
import { normalizeMemberName } from './layout.ts'
import { MemberLog, NameTable } from './member-log.ts'
import { hardLinkTarget, judgeMember, type PolicyInput, type Scope, type Verdict } from './member-policy.ts'
import type { ExtractSpec, Extracted, MoltTally } from './restore-extract.ts'
import { fileTime } from './restore-fs.ts'
import { encodeHeader } from './restore-index.ts'
import { count, ensureParent, makeDir, type Refuse } from './restore-tree.ts'
import { FileWriter } from './restore-writer.ts'
import { isHole } from './seek-lists.ts'
import { Spool } from './spool.ts'
import type { TarEntry, TarSink } from './tar-parse.ts'

/**
 * The member-by-member half of extractArchive (restore-extract.ts), as a tar sink: each member is
 * judged by the member policy and by what came before it, then written (restore) or only hashed
 * (verify, dry run). A refusal of a member that is only checked is recorded and the member read
 * past; one that touches what a restore needs (failFast) ends the extraction.
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

const WRITE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW
/** checksums.sha256 and index.jsonl go to a spool file, not memory: ~100–200 bytes a member, millions of members */
const MAX_LIST = 1 << 30
const MAX_GLOBAL = 16 << 20
const MAX_CRONTAB = 1 << 20
const MAX_PROBLEMS = 200
const ZEROS = new Uint8Array(1 << 20)
const HOLE = 64 << 10
/**
 * read.ts collects quickly every 8 MiB. A chain restore holds the chain's state and digests besides,
 * and still needs a full collection every 32 MiB: 141 MB peak with it, 165 MB without (1 GB fleet).
 */
const FULL_GC_EVERY = 32 << 20

type Current =
  | { kind: 'skip' }
  /** `end`: where the last byte written lies; short of the size (a hole at the end), the file is truncated up to it */
  | { kind: 'file'; fd: number | null; hasher: Bun.CryptoHasher | null; hashed: number; end: number; name: string; tally: MoltTally; component: string }
  | { kind: 'capture'; chunks: Uint8Array[]; hasher: Bun.CryptoHasher; name: string | null; limit: number; done(content: Uint8Array): void }
  | { kind: 'spool'; spool: Spool | null; hasher: Bun.CryptoHasher | null; name: string | null }

type MoltVerdict = Extract<Verdict, { kind: 'member' }>

/** A member refused but only checked: recorded, read past. */
class Refusal extends Error {}

const SKIP: Current = { kind: 'skip' }

export class ExtractSink implements TarSink {
  readonly #spec: ExtractSpec
  readonly #out: Extracted
  readonly #input: PolicyInput
  readonly #scratchDir: string
  /** every member by key (its name; legacy: molt/rel, where it lands): duplicates, files under a path, hard-link targets */
  readonly #known: NameTable
  readonly #declaredLimit: number
  readonly #indexed: boolean
  readonly dropped = new Map<string, string[]>()
  readonly outside = new Map<string, string[]>()
  #index = -1
  #afterChecksums = false
  #written = 0
  #filesDone = 0
  #current: Current = SKIP
  #sinceCollect = 0
  readonly #writer: FileWriter

  constructor(spec: ExtractSpec, out: Extracted, input: PolicyInput, scratchDir: string) {
    this.#spec = spec
    this.#out = out
    this.#input = input
    this.#scratchDir = scratchDir
    // a restore's scratch folder is its staging folder, on the file system the homes are written to
    this.#writer = new FileWriter({ flushDir: scratchDir })
    this.#known = new NameTable(out.log)
    const { manifest, legacy } = spec
    this.#declaredLimit = legacy || manifest.total_size_bytes === null ? Number.POSITIVE_INFINITY : 2 * manifest.total_size_bytes + 2 ** 30
    this.#indexed = !legacy && manifest.layout.index !== null
  }

  entry(e: TarEntry): void {
    this.#current = SKIP
    try {
      this.#entry(e)
    } catch (error) {
      if (!(error instanceof Refusal)) throw error
      this.#current = SKIP
    }
  }

  data(chunk: Uint8Array, _e: TarEntry, position: number): void {
    if (this.#spec.collectFully) {
      this.#sinceCollect += chunk.length
      if (this.#sinceCollect >= FULL_GC_EVERY) {
        this.#sinceCollect = 0
        Bun.gc(true)
      }
    }
    try {
      this.#data(chunk, position)
    } catch (error) {
      if (!(error instanceof Refusal)) throw error
      if (this.#current.kind === 'file' && this.#current.fd !== null) this.#writer.abandon(this.#current.fd)
      this.#current = SKIP
    }
  }

  entryEnd(e: TarEntry): void {
    try {
      this.#entryEnd(e)
    } catch (error) {
      if (!(error instanceof Refusal)) throw error
    }
  }

  /** A promise to wait on while the files' writes are behind (restore-writer.ts); null: go on. */
  backlog(): Promise<void> | null {
    return this.#writer.backlog()
  }

  /** Every file written and closed (the extraction ended, or stopped); throws a failed write. */
  settle(): Promise<void> {
    return this.#writer.settle()
  }

  /** A problem: fatal when restore needs what it concerns, else recorded (the member is read past). */
  readonly #refuse: Refuse = (molt, text) => {
    if (this.#spec.failFast && (molt === null || this.#spec.molts.has(molt))) throw new RestoreRefused(text)
    if (this.#out.problems.length < MAX_PROBLEMS) this.#out.problems.push({ molt, text })
    throw new Refusal(text)
  }

  #entry(e: TarEntry): void {
    const out = this.#out
    const legacy = this.#spec.legacy
    this.#index++
    if (this.#spec.signal?.aborted) throw new RestoreRefused('interrupted')
    // the member's name as tar gave it; shownName makes it fit for a message, only when one is written
    const member = e.name
    if (this.#afterChecksums && !legacy) this.#refuse(null, `member ${shownName(member)} comes after checksums.sha256, which must be the last member`)
    const verdict = judgeMember(e, this.#input)
    const name = normalizeMemberName(e.name)
    if (verdict.kind === 'refuse') this.#refuse(verdict.molt, verdict.reason)
    const scope = verdict.kind === 'member' ? verdict.molt : null
    const header = this.#header(e, verdict, scope)
    if (verdict.kind === 'ignore') {
      if (header !== null) out.log.member(name, name, header)
      return
    }
    const key = legacy && verdict.kind === 'member' ? `${verdict.molt}/${verdict.rel}` : name
    const logged = out.log.member(key, name, header)
    const twice = this.#known.get(key)
    if (twice !== null) this.#refuse(scope, out.log.memberAt(twice).name === name ? `member ${shownName(member)} appears twice in the archive` : `member ${shownName(member)}: its path is already taken by another member`)
    const slot = this.#known.add(key, logged)
    if (e.type === 'file' && verdict.kind !== 'manifest' && verdict.kind !== 'checksums') {
      out.archiveFiles++
      out.archiveBytes += e.size
      // judged on what the headers declare, before a byte of it is read: a gzip bomb is refused at its header
      if (out.archiveBytes > this.#declaredLimit) this.#refuse(null, `member ${shownName(member)} (${e.size} bytes) takes the archive past the ${this.#declaredLimit} bytes its manifest can account for (twice its total, plus 1 GiB for files that grew during the backup): refused (a gzip bomb, or a manifest that lies)`)
    }
    if (verdict.kind === 'member') this.#moltMember(e, verdict, name, member, slot)
    else this.#archiveMember(e, verdict, name, member)
  }

  /** format 3: what each header says, for the check against index.jsonl */
  #header(e: TarEntry, verdict: Verdict, scope: Scope): string | null {
    if (!this.#indexed || verdict.kind === 'index' || verdict.kind === 'checksums' || (scope !== null && !this.#spec.molts.has(scope))) return null
    const linked = e.type === 'symlink' || e.type === 'hardlink'
    return encodeHeader({ type: e.type === 'directory' ? 'dir' : (e.type as 'file' | 'symlink' | 'hardlink'), mode: e.mode & 0o7777, size: e.size, mtime: e.mtimeText, link: linked ? e.linkname : '', molt: scope })
  }

  /** manifest.json, checksums.sha256, index.jsonl, state.jsonl and the fleet's global files */
  #archiveMember(e: TarEntry, verdict: Exclude<Verdict, { kind: 'member' | 'refuse' | 'ignore' }>, name: string, member: string): void {
    const out = this.#out
    if (verdict.kind === 'manifest') {
      if (this.#index === 0) out.manifestFirst = true
      else if (!this.#spec.legacy) this.#refuse(null, 'manifest.json is not the first member')
      if (e.size > MAX_GLOBAL) this.#refuse(null, `member ${shownName(member)} is ${e.size} bytes: too big to be a manifest`)
      this.#current = capture(name, MAX_GLOBAL, () => {})
    } else if (verdict.kind === 'checksums') {
      if (e.size > MAX_LIST) this.#refuse(null, `checksums.sha256 is ${e.size} bytes: too big to be a checksum list`)
      this.#afterChecksums = true
      out.checksums?.close()
      out.checksums = new Spool(this.#scratchDir)
      this.#current = { kind: 'spool', spool: out.checksums, hasher: null, name: null }
    } else if (verdict.kind === 'index') {
      // hashed against its checksum line like any file; read against the headers by compareLists (restore-lists.ts)
      if (e.size > MAX_LIST) this.#refuse(null, `member ${shownName(member)} is ${e.size} bytes: too big to be an index`)
      out.index?.close()
      out.index = new Spool(this.#scratchDir)
      // read through list chunks, it has holes: its lines that are read are each compared with a member instead
      this.#current = { kind: 'spool', spool: out.index, hasher: out.listHoles ? null : new Bun.CryptoHasher('sha256'), name }
    } else if (verdict.kind === 'state') {
      // hashed against its checksum line; its lines are read by chain.ts when a chain needs them
      this.#current = { kind: 'spool', spool: null, hasher: new Bun.CryptoHasher('sha256'), name }
    } else {
      if (e.size > MAX_GLOBAL) this.#refuse(null, `member ${shownName(member)} is ${e.size} bytes: too big for a fleet file`)
      this.#current = capture(name, MAX_GLOBAL, (content) => out.global.set(verdict.rel, content))
    }
  }

  /** A member of a molt: nothing goes through a symlink or a file of the archive, whatever the file system says. */
  #moltMember(e: TarEntry, verdict: MoltVerdict, name: string, member: string, slot: number): void {
    const { molt, rel } = verdict
    this.#out.present.add(molt)
    const tally = this.#out.molts.get(molt)
    if (!tally) return // a molt not checked: read past
    const home = this.#spec.molts.get(molt) ?? null
    if (verdict.type === 'root') {
      tally.rootMtime = e.mtime
      return
    }
    for (let i = rel.indexOf('/'); i > 0; i = rel.indexOf('/', i + 1)) {
      const above = rel.slice(0, i)
      const kind = tally.kinds.get(above) ?? (this.#known.getFile(`${molt}/${above}`) !== null ? 'file' : 'directory')
      if (kind !== 'directory') this.#refuse(molt, `member ${shownName(member)} lies inside ${shownName(`${molt}/${above}`)}, which is a ${kind}`)
    }
    if (verdict.type === 'crontab') {
      if (e.size > MAX_CRONTAB) this.#refuse(molt, `member ${shownName(member)} is ${e.size} bytes: too big to be a crontab`)
      this.#current = capture(name, MAX_CRONTAB, (content) => {
        tally.crontab = content
        count(tally, 'crontab', content.length)
      })
      return
    }
    const { component } = verdict
    const only = this.#spec.only
    const isDir = verdict.type === 'directory'
    if (only && component !== null && (component === undefined || !only.has(component))) return
    if (only && component === null && isDir) {
      // a folder that only holds components (.openclaw): made when a restored component needs it
      tally.containers.set(rel, { rel, mode: verdict.mode, mtime: e.mtime })
      tally.kinds.set(rel, 'directory')
      tally.dirs++
      return
    }
    const prior = tally.kinds.get(rel)
    if (prior !== undefined && !(isDir && prior === 'directory')) this.#refuse(molt, `member ${shownName(member)}: its path is already taken by another member`)
    if (verdict.dropped) listFor(this.dropped, molt).push(`${shownName(member)} (${(e.mode & 0o7777).toString(8).padStart(4, '0')})`)
    if (isDir) {
      ensureParent(tally, home, rel, member, this.#refuse, molt)
      makeDir(tally, home, rel, member, this.#refuse, molt)
      tally.kinds.set(rel, 'directory')
      tally.implicit.delete(rel)
      tally.deferred.push({ rel, mode: verdict.mode, mtime: e.mtime })
      tally.dirs++
    } else if (verdict.type === 'symlink') this.#symlink(e, verdict, tally, home, member)
    else if (verdict.type === 'hardlink') this.#hardlink(e, verdict, tally, home, member, slot)
    else this.#file(verdict, tally, home, name, member, slot)
  }

  #symlink(e: TarEntry, verdict: MoltVerdict, tally: MoltTally, home: string | null, member: string): void {
    const { molt, rel } = verdict
    if (verdict.outside) listFor(this.outside, molt).push(`${shownName(member)} → ${shownName(e.linkname)}`)
    ensureParent(tally, home, rel, member, this.#refuse, molt)
    if (home) {
      const path = pathIn(home, rel)
      try {
        symlinkSync(bytesOf(e.linkname), path)
      } catch (error) {
        this.#refuse(molt, `member ${shownName(member)}: cannot create the symlink (${(error as NodeJS.ErrnoException).code})`)
      }
      lutimesSync(path, fileTime(e.mtime), fileTime(e.mtime))
    }
    tally.kinds.set(rel, 'symlink')
    tally.symlinks++
  }

  #hardlink(e: TarEntry, verdict: MoltVerdict, tally: MoltTally, home: string | null, member: string, slot: number): void {
    const { molt, rel } = verdict
    const targetRel = hardLinkTarget(e.linkname, molt, this.#input)
    const targetAt = targetRel === null ? null : this.#known.getFile(`${molt}/${targetRel}`)
    const target = targetAt === null ? null : this.#out.log.fileAt(targetAt)
    if (target === null) return this.#refuse(molt, `member ${shownName(member)} is a hard link to ${shownName(e.linkname)}, which is not an earlier file of molt ${molt}`)
    ensureParent(tally, home, rel, member, this.#refuse, molt)
    if (home) {
      try {
        linkSync(pathIn(home, targetRel!), pathIn(home, rel))
      } catch (error) {
        this.#refuse(molt, `member ${shownName(member)}: cannot create the hard link (${(error as NodeJS.ErrnoException).code})`)
      }
    }
    // the target's size and sha256 are the link's
    this.#out.log.file(target.size, target.digest)
    this.#known.markFile(slot)
    count(tally, verdict.component ?? 'other', target.size)
  }

  #file(verdict: MoltVerdict, tally: MoltTally, home: string | null, name: string, member: string, slot: number): void {
    const { molt, rel } = verdict
    ensureParent(tally, home, rel, member, this.#refuse, molt)
    let fd: number | null = null
    if (home) {
      try {
        fd = this.#writer.open(pathIn(home, rel), WRITE_FLAGS, verdict.mode)
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code
        // O_EXCL | O_NOFOLLOW: EEXIST or ELOOP when something is there; ENOSPC, EMFILE … say what they are
        this.#refuse(molt, `member ${shownName(member)}: cannot create it (${code})${code === 'EEXIST' || code === 'ELOOP' ? ': something is already at that path' : ''}`)
      }
    }
    this.#known.markFile(slot)
    // the bash toolkit's archives list no checksums: nothing to hash files for
    this.#current = { kind: 'file', fd, hasher: this.#spec.legacy ? null : new Bun.CryptoHasher('sha256'), hashed: 0, end: 0, name, tally, component: verdict.component ?? 'other' }
  }

  #data(chunk: Uint8Array, position: number): void {
    const c = this.#current
    if (c.kind === 'file') {
      if (c.hasher) {
        hashZeros(c, position)
        c.hasher.update(chunk)
        c.hashed = position + chunk.length
      }
      if (c.fd !== null) this.#write(c, chunk, position)
    } else if (c.kind === 'capture') {
      c.chunks.push(chunk.slice())
      c.hasher.update(chunk)
    } else if (c.kind === 'spool') {
      if (isHole(chunk)) c.spool?.skip(chunk.length)
      else c.spool?.append(chunk)
      c.hasher?.update(chunk)
    }
  }

  /** Runs of 64 KiB of zeros become holes: an 8 GiB file of zeros costs no disk, as with GNU tar --sparse. */
  #write(c: Extract<Current, { kind: 'file' }>, chunk: Uint8Array, position: number): void {
    // what is not a hole goes out in runs: one write for a chunk without zeros
    let run = -1
    for (let from = 0; from < chunk.length; from += HOLE) {
      if (!isZero(chunk.subarray(from, from + HOLE))) run = run < 0 ? from : run
      else if (run >= 0) {
        this.#put(c, chunk.subarray(run, from), position + run)
        run = -1
      }
    }
    if (run >= 0) this.#put(c, chunk.subarray(run), position + run)
  }

  #put(c: Extract<Current, { kind: 'file' }>, bytes: Uint8Array, position: number): void {
    this.#written += bytes.length
    if (this.#written > this.#spec.diskBudget) this.#refuse(null, `not enough free space in the base dir's file system to restore ${shownName(c.name)} and what follows it`)
    this.#writer.write(c.fd!, bytes, position)
    c.end = position + bytes.length
  }

  #entryEnd(e: TarEntry): void {
    const c = this.#current
    const out = this.#out
    this.#current = SKIP
    if (c.kind === 'file') {
      if (c.hasher) hashZeros(c, e.size)
      // a new file (O_EXCL) written up to its size has it already: truncated only when short of it
      if (c.fd !== null) this.#writer.finish(c.fd, e.size, c.end, fileTime(e.mtime))
      out.log.file(e.size, c.hasher ? binaryDigest(c.hasher) : '')
      count(c.tally, c.component, e.size)
      this.#filesDone++
      this.#spec.onProgress?.({ files: this.#filesDone, bytes: this.#written })
    } else if (c.kind === 'capture') {
      const content = Buffer.concat(c.chunks)
      if (content.length > c.limit) this.#refuse(null, `member ${shownName(e.name)} is too big`)
      if (c.name !== null) out.log.file(content.length, binaryDigest(c.hasher))
      c.done(content)
    } else if (c.kind === 'spool' && c.name !== null && c.hasher) {
      out.log.file(e.size, binaryDigest(c.hasher))
    }
  }
}

function capture(name: string | null, limit: number, done: (content: Uint8Array) => void): Current {
  return { kind: 'capture', chunks: [], hasher: new Bun.CryptoHasher('sha256'), name, limit, done }
}

function listFor(lists: Map<string, string[]>, molt: string): string[] {
  return lists.get(molt) ?? lists.set(molt, []).get(molt)!
}

/** sha256 as a 32-character latin1 string: half the memory of hex, for each of 400,000 files */
function binaryDigest(hasher: Bun.CryptoHasher): string {
  return hasher.digest().toString('latin1')
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
