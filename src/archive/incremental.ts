import { closeSync, fstatSync, openSync, readSync } from 'node:fs'
import { basename } from 'node:path'
import { InputError } from '../lib/errors.ts'
import { resolveChain, readFront, type ArchiveFront } from './chain.ts'
import { binaryPath, decodeEntry, fsPath, KIND_DIR, KIND_SYMLINK, resolveRel, type MoltPlan, type Plan, type PlanEntry } from './collect.ts'
import { formatDuration } from '../lib/duration.ts'
import { listBackups } from './list.ts'
import { compareEntries, ParentState, type ParentEntry } from './parent-state.ts'
import { Spool } from './spool.ts'
import { OPEN_FLAGS } from './stream.ts'
import { identityOf, nsText, stateLine, type StateEntry } from './state-file.ts'

/**
 * `fleet backup --incremental`: the parent is the newest good archive of this fleet (same host,
 * same base dir, same --select and --exclude-*) in the output folder, read up to its state.jsonl.
 * A file goes in when it is new or its size, mode, mtime, ctime or inode differ from the parent's
 * state, unless the checksum list confirms it is the same content: a file of the same size whose
 * metadata changed (touched, chmod-ed, copied over itself, rewritten with the same bytes) is read
 * and its sha256 compared with the parent's (from state.jsonl or the parent's checksums.sha256).
 * The same: left to the chain, its new mode and mtime in the state (restore gives it those). Not
 * the same, or no digest to compare with: it goes in. Only same-size files are read: a file whose
 * size changed cannot be the same, and reading every file to catch an edit that kept size, mtime,
 * ctime and inode alike would cost what a full backup costs (ctime cannot be set back by a user).
 * SQLite databases always go in (a commit can sit in the -wal with the database file untouched).
 * Folders and symlinks always go in (a few bytes each: every archive has the tree).
 * What the parent held and the plan did not find is listed as deleted in the manifest.
 *
 * Only a file the chain holds whole is left to it: one with a digest. state.jsonl is written
 * before the molts are streamed, so it lists as held what the backup then could not archive
 * whole — unreadable, vanished or replaced before it was read (not archived), a read that failed
 * part-way (zeros in the member). None of those is in the parent's checksums.sha256, so none gets
 * a digest there (ParentState.withChecksums), and the same file, unchanged on the host, is stored
 * again: an archive never relies on what its parent only planned to hold. That reads archives
 * made before this rule as well. A file the parent left to its chain without a digest (lines of
 * 9 fields, or carried from a parent that lacked it) is stored too: nothing vouches for it. A
 * parent whose checksum list cannot be read (no molt index: recompressed, foreign) is no parent,
 * nor is one with a member damaged by a read error (verify and restore refuse that molt of it).
 */
export interface ParentSpec {
  dir: string
  hostname: string
  baseDir: string
  select: string[] | null
  excludeMaildir: boolean
  excludeLogs: boolean
  /** take a full backup when the chain's full archive is older than this (ms) */
  fullEveryMs?: number
  now: Date
}

export type ParentChoice =
  | { parent: ArchiveFront; state: ParentState; fullFile: string; fullTimestamp: string; depth: number; sums: number }
  | { parent: null; why: string }

/** The parent's state is spooled in `spec.dir`; the caller closes it (ParentChoice.state). */
export async function chooseParent(spec: ParentSpec): Promise<ParentChoice> {
  const state = new ParentState(spec.dir)
  try {
    const choice = await chooseIn(spec, state)
    if (!choice.parent) state.close()
    return choice
  } catch (error) {
    state.close()
    throw error
  }
}

async function chooseIn(spec: ParentSpec, state: ParentState): Promise<ParentChoice> {
  const listings = await listBackups(spec.dir)
  const ours = listings.filter((l) => (l.status === 'ok' || l.status === 'legacy') && l.hostname === spec.hostname && l.base_dir === spec.baseDir)
  const last = ours[0]
  if (!last) return { parent: null, why: `no earlier good archive of this fleet in ${spec.dir}` }
  if (last.status === 'legacy') return { parent: null, why: `the last archive, ${last.file}, is the bash toolkit's (no state of what it holds)` }
  let front: ArchiveFront
  try {
    front = await readFront(last.path, (e: StateEntry) => state.add(e))
  } catch (error) {
    return { parent: null, why: `the last archive, ${last.file}, cannot be read as a parent (${(error as Error).message})` }
  }
  if (!front.hasState) return { parent: null, why: `the last archive, ${last.file}, has no state.jsonl (made by clmnt before format 4)` }
  const o = front.manifest.options
  const same = JSON.stringify(o.select ?? null) === JSON.stringify(spec.select) && o.exclude_maildir === spec.excludeMaildir && o.exclude_logs === spec.excludeLogs
  if (!same) return { parent: null, why: `the last archive, ${last.file}, was made with other --select/--exclude options` }
  try {
    await resolveChain(last.path, front)
  } catch (error) {
    if (!(error instanceof InputError)) throw error
    return { parent: null, why: `the last archive's chain is broken (${error.message})` }
  }
  const chain = front.manifest.chain ?? { full: last.file, full_timestamp: front.manifest.timestamp, depth: 0 }
  if (spec.fullEveryMs !== undefined) {
    const age = spec.now.getTime() - Date.parse(chain.full_timestamp)
    if (age >= spec.fullEveryMs) return { parent: null, why: `the chain's full archive, ${chain.full}, is ${formatDuration(age)} old (--full-every ${formatDuration(spec.fullEveryMs)})` }
  }
  // the digests of what the parent holds whole, from its checksum list: what a file needs to be
  // left to the chain (applyParent). Without the list, which files it holds whole is unknown.
  const sums = await state.withChecksums(last.path, front.compression, front.manifest)
  if (typeof sums === 'string') return { parent: null, why: `the checksum list of the last archive, ${last.file}, cannot be read (${sums}): which files it holds whole is not known` }
  // verify and restore refuse the molt of a member a read error left zeros in: no chain on it
  const damaged = state.damaged
  if (damaged.length) return { parent: null, why: `the last archive, ${last.file}, holds ${damaged.length} file(s) damaged by a read error (${JSON.stringify(Buffer.from(damaged[0]!, 'latin1').toString('utf8'))}${damaged.length > 1 ? ' and more' : ''}): verify and restore refuse its molt` }
  return { parent: front, state, fullFile: chain.full, fullTimestamp: chain.full_timestamp, depth: chain.depth + 1, sums }
}

export interface Incremental {
  /** what the archive holds (for a full one: the plan itself) */
  plan: Plan
  /** state.jsonl, to be written right after the manifest */
  state: Spool
  /** molt → paths the parent held that are gone */
  deleted: Map<string, string[]>
  /** files left to the parent chain, and their bytes */
  carried: { files: number; bytes: number }
  /** of those, files whose metadata changed but whose content the checksum confirmed */
  confirmed: number
}

const kindOf = (e: PlanEntry) => (e.kind === KIND_DIR ? 'd' : e.kind === KIND_SYMLINK ? 'l' : 'f') as StateEntry['kind']

/**
 * The state of every planned entry, and, with a parent, the plan cut down to what changed. The
 * plan's spool and the parent's state are read once, side by side (parent-state.ts: both are in
 * walk order); the cut plan waits in a new spool in `dir`. Nothing grows with the file count but
 * the list of deleted paths.
 */
export function applyParent(plan: Plan, parentState: ParentState | null, dir: string): Incremental {
  const state = new Spool(dir)
  const out: Incremental = { plan, state, deleted: new Map(), carried: { files: 0, bytes: 0 }, confirmed: 0 }
  if (!plan.spool) return out
  const kept = parentState ? new Spool(dir) : null
  const encoder = new TextEncoder()
  const names = new Set(plan.molts.map((m) => m.molt.name))
  const parents = parentState?.entries()
  let next: ParentEntry | null = parents?.next().value ?? null
  /** parent entries before (molt, rel): gone since; the one at it, if any, is returned */
  const parentAt = (molt: string, rel: string): ParentEntry | null => {
    while (next) {
      const order = compareEntries(next.molt, next.rel, molt, rel)
      if (order > 0) return null
      const here = next
      next = parents!.next().value ?? null
      if (order === 0) return here
      gone(here)
    }
    return null
  }
  const gone = (e: ParentEntry) => {
    if (!names.has(e.molt)) return
    const list = out.deleted.get(e.molt) ?? out.deleted.set(e.molt, []).get(e.molt)!
    list.push(e.rel)
  }
  const lines = plan.spool.lines()
  for (const m of plan.molts) {
    const name = m.molt.name
    const entries = m.entries
    for (let i = 0; i < entries; i++) {
      const raw = lines.next().value!
      const e = decodeEntry(raw)
      const entry: StateEntry = { molt: name, rel: e.rel, kind: kindOf(e), size: e.size, mode: e.mode, mtime: nsText(e.mtimeSec, e.mtimeNsec), ctime: nsText(BigInt(e.ctimeNs)), ino: e.ino, held: true, sha256: '' }
      if (parentState) {
        const before = parentAt(name, e.rel)
        // no digest: no archive of the chain vouches for the whole file (see the top of this file)
        const whole = before?.kind === 'f' && before.sha256 !== ''
        const unchanged = whole && before.identity === identityOf(entry)
        const confirmed = !unchanged && whole && before.size === e.size && entry.kind === 'f' && !e.sqlite && sameContent(pathOf(m, e.rel), e, before.sha256)
        if (entry.kind === 'f' && !e.sqlite && (unchanged || confirmed)) {
          if (confirmed) out.confirmed++
          entry.held = false
          entry.sha256 = before!.sha256
          m.entries--
          m.files--
          m.bytes -= e.size
          const stats = m.componentStats[e.component!]
          if (stats) {
            stats.files--
            stats.bytes -= e.size
          }
          out.carried.files++
          out.carried.bytes += e.size
        } else {
          kept!.append(raw)
          kept!.append(encoder.encode('\n'))
        }
      }
      state.append(encoder.encode(stateLine(entry)))
    }
  }
  if (parentState && kept) {
    for (; next; next = parents!.next().value ?? null) gone(next)
    // already in walk order; the manifest lists them sorted as strings
    for (const list of out.deleted.values()) list.sort()
    out.plan = { ...plan, spool: kept, files: plan.files - out.carried.files, bytes: plan.bytes - out.carried.bytes }
  }
  return out
}

const pathOf = (m: MoltPlan, rel: string) => fsPath(resolveRel(binaryPath(m.molt.home), m.followed, rel))

/**
 * Is the file still the content whose sha256 is `digest`? Opened as the backup opens it (never
 * through a link, never blocking on a FIFO), and only the file planned counts (same device and
 * inode: a path swapped under us compares nothing). Anything odd is "no": the file is then
 * stored, which is never wrong.
 */
function sameContent(path: Buffer, planned: PlanEntry, digest: string): boolean {
  let fd: number
  try {
    fd = openSync(path, OPEN_FLAGS)
  } catch {
    return false
  }
  try {
    const st = fstatSync(fd)
    if (!st.isFile() || st.ino !== planned.ino || st.dev !== planned.dev || st.size !== planned.size) return false
    const hasher = new Bun.CryptoHasher('sha256')
    const buf = Buffer.allocUnsafe(Math.min(1 << 20, Math.max(planned.size, 1)))
    let total = 0
    for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0; total += n) hasher.update(buf.subarray(0, n))
    return total === planned.size && hasher.digest('hex') === digest
  } catch {
    return false
  } finally {
    closeSync(fd)
  }
}

/** "fleet-….tar.gz" of a parent, for messages */
export function parentName(front: ArchiveFront): string {
  return basename(front.path)
}
