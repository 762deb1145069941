import { accessSync, closeSync, constants, lstatSync, openSync, readdirSync, readFileSync, readlinkSync, readSync, realpathSync, statSync, type BigIntStats } from 'node:fs'
import { join } from 'node:path'
import type { Molt } from '../fleet/discover.ts'
import { systemUsers } from '../lib/users.ts'
import { readCrontab } from '../schedule/crontab.ts'
import type { BackupNote } from './checksums.ts'
import { COMPONENTS, componentOf, GLOBAL_FILES, HOME_ROOTS, symlinkStaysInside, type Component } from './layout.ts'
import { bytesOf, byteNameOfText } from './byte-names.ts'
import type { Spool } from './spool.ts'

/**
 * The planning pass: lstat only (plus readlink, and access() to find unreadable files before any
 * byte is written), never following a symlink but a molt's own top-level component link, never
 * reading a file but the 16-byte header of a would-be SQLite database. Its totals go into the
 * manifest, which must be the first member yet tell sizes and counts.
 *
 * Entries go to a spool file, one line each, never into memory: the plan of 400,000 files costs
 * what the plan of 40 does. Paths are kept as latin1 text of their raw bytes (`binaryPath`), so a
 * name that is not UTF-8 goes through unchanged.
 */
export const KIND_FILE = 0
export const KIND_DIR = 1
export const KIND_SYMLINK = 2

export interface PlanEntry {
  /** path relative to the molt home ('' = the home itself), latin1 text of its bytes */
  rel: string
  kind: typeof KIND_FILE | typeof KIND_DIR | typeof KIND_SYMLINK
  component: Component | null
  size: number
  mode: number
  mtimeSec: number
  mtimeNsec: number
  uid: number
  gid: number
  dev: number
  ino: number
  /** status change time in nanoseconds, as decimal text (exact): what --incremental compares */
  ctimeNs: string
  /** symlink target, latin1 text of its bytes */
  target?: string
  /** a SQLite database: captured with SQLite's online backup, not copied */
  sqlite?: boolean
}

export interface MoltPlan {
  molt: Molt
  user: string | null
  group: string | null
  /** how many spool lines are this molt's */
  entries: number
  files: number
  dirs: number
  symlinks: number
  bytes: number
  componentStats: Partial<Record<Component, { files: number; bytes: number }>>
  /** uid and gid of the home */
  owner: { uid: number; gid: number }
  /** components with at least one entry */
  components: Set<Component>
  /** the crontab text, when one was captured */
  crontab: Uint8Array | null
  /** top-level component links followed: rel → real folder (latin1 text of its bytes) */
  followed: Map<string, string>
}

export interface GlobalFile {
  name: string
  content: Uint8Array
  mode: number
  mtimeSec: number
  mtimeNsec: number
  uid: number
  gid: number
}

export interface Plan {
  molts: MoltPlan[]
  global: GlobalFile[]
  files: number
  bytes: number
  notes: BackupNote[]
  /** files or folders that cannot be read, as member names */
  unreadable: { path: string; reason: string }[]
  /** the entries, molt after molt (null for a dry run: only the totals are kept) */
  spool: Spool | null
}

export interface PlanOptions {
  excludeMaildir: boolean
  excludeLogs: boolean
  /** read each molt user's crontab (only when a Linux user of the molt's name owns the home) */
  crontab?: boolean
  spool?: Spool | null
}

/** byte-names.ts's conventions: a path is latin1 text of its bytes */
export const fsPath = bytesOf
export const binaryPath = byteNameOfText

/** latin1 text of bytes → a name for people: UTF-8 when it is, else with \xNN for the odd bytes */
export function displayPath(binary: string): string {
  if (!/[\x80-\xff]/.test(binary)) return binary
  const bytes = fsPath(binary)
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch {
    return binary.replace(/[\x80-\xff]/g, (c) => `\\x${c.charCodeAt(0).toString(16)}`)
  }
}

/** latin1 text of bytes → their UTF-8 reading, or null when they are not UTF-8 */
export function utf8Text(binary: string): string | null {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(fsPath(binary))
  } catch {
    return null
  }
}

export function planFleet(baseDir: string, molts: Molt[], options: PlanOptions): Plan {
  const plan: Plan = { molts: [], global: [], files: 0, bytes: 0, notes: [], unreadable: [], spool: options.spool ?? null }
  for (const name of GLOBAL_FILES) {
    const file = readGlobal(join(baseDir, name), name, plan)
    if (file) {
      plan.global.push(file)
      plan.files++
      plan.bytes += file.content.length
    }
  }
  for (const molt of molts) {
    const moltPlan = planMolt(molt, options, plan)
    if (!moltPlan) continue
    plan.molts.push(moltPlan)
    plan.files += moltPlan.files
    plan.bytes += moltPlan.bytes
  }
  return plan
}

function readGlobal(path: string, name: string, plan: Plan): GlobalFile | null {
  let st: BigIntStats
  try {
    st = lstatSync(path, { bigint: true })
  } catch {
    return null
  }
  if (!st.isFile()) {
    plan.notes.push({ kind: 'skipped', path: `global/${name}`, detail: `${path} is not a regular file` })
    return null
  }
  try {
    const content = readFileSync(path)
    return { name, content, mode: Number(st.mode) & 0o7777, mtimeSec: Number(st.mtimeNs / 1_000_000_000n), mtimeNsec: Number(st.mtimeNs % 1_000_000_000n), uid: Number(st.uid), gid: Number(st.gid) }
  } catch (error) {
    plan.unreadable.push({ path: `global/${name}`, reason: errorCode(error) })
    return null
  }
}

const encoder = new TextEncoder()
/** top-level entries of a home that are folders of components (the rest are single files) */
const FOLDER_ROOTS = ['.openclaw', 'Maildir', '.mail-state', '.molt-state'] as const
const SQLITE_NAME = /\.(sqlite3?|db)$/
const SQLITE_SIDECAR = /^(.+\.(?:sqlite3?|db))-(wal|shm|journal)$/
const SQLITE_MAGIC = 'SQLite format 3\0'

/** One spool line per entry: a JSON array (names are latin1 text, which JSON carries unchanged). */
export function encodeEntry(e: PlanEntry): Uint8Array {
  const component = e.component === null ? -1 : COMPONENTS.indexOf(e.component)
  return encoder.encode(`${JSON.stringify([e.rel, e.kind, component, e.size, e.mode, e.mtimeSec, e.mtimeNsec, e.uid, e.gid, e.dev, e.ino, e.target ?? null, e.sqlite ? 1 : 0, e.ctimeNs])}\n`)
}

const decoder = new TextDecoder()
export function decodeEntry(line: Uint8Array): PlanEntry {
  const [rel, kind, component, size, mode, mtimeSec, mtimeNsec, uid, gid, dev, ino, target, sqlite, ctimeNs] = JSON.parse(decoder.decode(line))
  const entry: PlanEntry = { rel, kind, component: component < 0 ? null : COMPONENTS[component]!, size, mode, mtimeSec, mtimeNsec, uid, gid, dev, ino, ctimeNs }
  if (target !== null) entry.target = target
  if (sqlite) entry.sqlite = true
  return entry
}

function planMolt(molt: Molt, options: PlanOptions, plan: Plan): MoltPlan | null {
  const out: MoltPlan = { molt, user: null, group: null, entries: 0, files: 0, dirs: 0, symlinks: 0, bytes: 0, componentStats: {}, owner: { uid: 0, gid: 0 }, components: new Set(), crontab: null, followed: new Map() }
  const member = (rel: string) => (rel ? `${molt.name}/${displayPath(rel)}` : `${molt.name}/`)
  const home = binaryPath(molt.home)
  let realHome: string
  try {
    realHome = realpathSync(molt.home)
  } catch {
    realHome = molt.home
  }
  const pathOf = (rel: string) => fsPath(resolveRel(home, out.followed, rel))

  let homeStat: BigIntStats
  try {
    homeStat = lstatSync(molt.home, { bigint: true })
  } catch (error) {
    // a registry entry without a folder is a molt that is not there: say so, archive the others
    if (errorCode(error) === 'ENOENT') {
      plan.notes.push({ kind: 'skipped', path: member(''), detail: `home ${molt.home} does not exist: molt not archived` })
      return null
    }
    plan.unreadable.push({ path: member(''), reason: `home ${molt.home}: ${errorCode(error)}` })
    return out
  }
  if (!homeStat.isDirectory()) {
    plan.unreadable.push({ path: member(''), reason: `home ${molt.home} is not a folder` })
    return out
  }
  const owner = Number(homeStat.uid)
  out.owner = { uid: owner, gid: Number(homeStat.gid) }

  const add = (rel: string, st: BigIntStats, component: Component | null, extra: Partial<PlanEntry> = {}) => {
    const kind = st.isDirectory() ? KIND_DIR : st.isSymbolicLink() ? KIND_SYMLINK : KIND_FILE
    const entry: PlanEntry = {
      rel,
      kind,
      component,
      size: kind === KIND_FILE ? Number(st.size) : 0,
      mode: Number(st.mode) & 0o7777,
      mtimeSec: Number(st.mtimeNs / 1_000_000_000n),
      mtimeNsec: Number(st.mtimeNs % 1_000_000_000n),
      uid: Number(st.uid),
      gid: Number(st.gid),
      dev: Number(st.dev),
      ino: Number(st.ino),
      ctimeNs: String(st.ctimeNs),
      ...extra,
    }
    plan.spool?.append(encodeEntry(entry))
    out.entries++
    if (component) out.components.add(component)
    if (kind === KIND_DIR) {
      if (rel !== '') out.dirs++
    } else if (kind === KIND_SYMLINK) out.symlinks++
    else {
      out.files++
      out.bytes += entry.size
      const stats = (out.componentStats[component!] ??= { files: 0, bytes: 0 })
      stats.files++
      stats.bytes += entry.size
    }
  }

  /**
   * A molt's top-level component folder that is a symlink (data on another volume): followed when
   * the molt's user owns the link and the folder it leads to, archived as a folder; anything else
   * fails the backup (no silent hole where a whole component was).
   */
  const followTopLink = (rel: string, link: BigIntStats): BigIntStats | null => {
    const path = join(molt.home, rel)
    let target = '?'
    try {
      target = readlinkSync(path)
      const st = statSync(path, { bigint: true })
      if (Number(link.uid) === owner && st.isDirectory() && Number(st.uid) === owner) {
        const real = realpathSync(path)
        out.followed.set(rel, binaryPath(real))
        plan.notes.push({ kind: 'followed', path: member(rel), detail: `symlink to ${JSON.stringify(target)} (owned by the molt's user) followed: archived as a folder, restored as one` })
        return st
      }
      const why = Number(link.uid) !== owner ? "the link is not the molt user's" : !st.isDirectory() ? 'it does not lead to a folder' : "the folder it leads to is not the molt user's"
      plan.unreadable.push({ path: member(rel), reason: `symlink to ${JSON.stringify(target)} not followed: ${why} (clmnt follows a top-level component link only when the molt's user owns it and the folder it leads to)` })
    } catch (error) {
      plan.unreadable.push({ path: member(rel), reason: `symlink to ${JSON.stringify(target)} that leads nowhere readable: ${errorCode(error)}` })
    }
    return null
  }

  /** One entry found by lstat; folders recurse. Decides what goes in. */
  const visit = (rel: string, st: BigIntStats, siblings?: Set<string>) => {
    collectNow()
    const base = rel.slice(rel.lastIndexOf('/') + 1)
    if (st.isSymbolicLink()) {
      if ((FOLDER_ROOTS as readonly string[]).includes(rel)) {
        if ((rel === 'Maildir' && options.excludeMaildir)) return
        const followed = followTopLink(rel, st)
        if (followed) visit(rel, followed)
        return
      }
      const component = componentOf(rel, false)
      if (component === undefined) return
      if ((component === 'logs' && options.excludeLogs) || (component === 'maildir' && options.excludeMaildir)) return
      let target: string
      try {
        target = readlinkSync(pathOf(rel), { encoding: 'buffer' }).toString('latin1')
      } catch (error) {
        plan.notes.push({ kind: 'vanished', path: member(rel), detail: `symlink could not be read: ${errorCode(error)}` })
        return
      }
      if (!linkStaysInside(rel, target, pathOf(rel), realHome)) {
        plan.notes.push({ kind: 'skipped', path: member(rel), detail: `symlink to ${JSON.stringify(displayPath(target))} points outside the molt; not archived (restore refuses such links)` })
        return
      }
      add(rel, st, component ?? null, { target })
      return
    }
    if (st.isDirectory()) {
      const component = componentOf(rel, true)
      if (component === undefined) return
      if ((component === 'maildir' && options.excludeMaildir) || (component === 'logs' && options.excludeLogs)) return
      add(rel, st, component)
      let names: string[]
      try {
        names = (readdirSync(pathOf(rel), { encoding: 'buffer' }) as Buffer[]).map((b) => b.toString('latin1'))
      } catch (error) {
        plan.unreadable.push({ path: member(rel), reason: errorCode(error) })
        return
      }
      names.sort()
      const here = new Set(names)
      for (const name of names) {
        const child = rel ? `${rel}/${name}` : name
        // only the known roots of a home; inside them, everything but what componentOf leaves out
        if (!rel && !(HOME_ROOTS as readonly string[]).includes(name)) continue
        let childStat: BigIntStats
        try {
          childStat = lstatSync(pathOf(child), { bigint: true })
        } catch {
          continue // gone between readdir and lstat: it was never planned
        }
        visit(child, childStat, here)
      }
      return
    }
    if (!st.isFile()) return // sockets, FIFOs, devices never go in
    const component = componentOf(rel, false)
    if (component === undefined) return
    if (component === 'logs' && options.excludeLogs) return
    if (component === 'maildir' && options.excludeMaildir) return
    // a database's -wal/-shm/-journal: its committed content is in the database's snapshot
    const sidecar = SQLITE_SIDECAR.exec(base)
    if (sidecar && siblings?.has(sidecar[1]!)) return
    const path = pathOf(rel)
    try {
      accessSync(path, constants.R_OK)
    } catch (error) {
      plan.unreadable.push({ path: member(rel), reason: errorCode(error) })
      return
    }
    // bun:sqlite opens by text path: a database whose name is not UTF-8 is copied like any file
    add(rel, st, component, SQLITE_NAME.test(base) && displayPath(rel) === utf8Text(rel) && isSqlite(path) ? { sqlite: true } : {})
  }

  visit('', homeStat)
  const users = systemUsers()
  out.user = nameOfUid(owner, users)
  out.group = groupName(Number(homeStat.gid))

  if (options.crontab !== false) {
    // only a dedicated Linux user's crontab is the molt's; a shared or root owner's is not
    const dedicated = users.get(molt.name)
    if (dedicated && dedicated.uid === owner) {
      const read = readCrontab(molt.name)
      if (read.ok) {
        if (read.text !== '') {
          out.crontab = encoder.encode(read.text)
          out.files++
          out.bytes += out.crontab.length
          out.componentStats.crontab = { files: 1, bytes: out.crontab.length }
          out.components.add('crontab')
        }
      } else {
        plan.notes.push({ kind: 'skipped', path: member('.clmnt-crontab'), detail: `crontab of ${molt.name} not readable: ${read.error}` })
      }
    }
  }
  return out
}

/** The fs path of a molt entry: through the real folder of a followed top-level link, else under the home. */
export function resolveRel(home: string, followed: ReadonlyMap<string, string>, rel: string): string {
  if (followed.size) {
    const top = rel.includes('/') ? rel.slice(0, rel.indexOf('/')) : rel
    const real = followed.get(top)
    if (real !== undefined) return real + rel.slice(top.length)
  }
  return rel ? `${home}/${rel}` : home
}

/** The first 16 bytes say "SQLite format 3": read without following links or blocking on a FIFO. */
function isSqlite(path: Buffer): boolean {
  let fd: number
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
  } catch {
    return false
  }
  try {
    const head = Buffer.alloc(16)
    return readSync(fd, head, 0, 16, 0) === 16 && head.toString('latin1') === SQLITE_MAGIC
  } catch {
    return false
  } finally {
    closeSync(fd)
  }
}

/** Textually inside, and where it can be resolved on disk, really inside (a link through a link can climb out). */
function linkStaysInside(rel: string, target: string, path: Buffer, realHome: string): boolean {
  if (!symlinkStaysInside(rel, target)) return false
  let resolved: string
  try {
    resolved = realpathSync(path, { encoding: 'buffer' }).toString('utf8')
  } catch {
    return true // dangling: its text was checked, and restore checks the text too
  }
  return resolved === realHome || resolved.startsWith(`${realHome}/`)
}

/**
 * Planning makes short-lived garbage (a stat object of bigints per entry) faster than the
 * collector gets to it, and the allocator keeps the high-water mark: collecting every few
 * thousand entries keeps a 40,000-file plan ~30 MB smaller for ~2 ms each time.
 */
let visited = 0
export function collectNow(every = 4096): void {
  if (++visited % every === 0) Bun.gc(true)
}

const uidNames = new Map<number, string | null>()
export function nameOfUid(uid: number, users = systemUsers()): string | null {
  if (!uidNames.has(uid)) {
    let found: string | null = null
    for (const user of users.values()) if (user.uid === uid) { found = user.name; break }
    uidNames.set(uid, found)
  }
  return uidNames.get(uid)!
}

let groups: Map<number, string> | undefined
export function groupName(gid: number): string | null {
  if (!groups) {
    groups = new Map()
    try {
      for (const line of readFileSync('/etc/group', 'utf8').split('\n')) {
        const [name, , id] = line.split(':')
        if (name && id !== undefined && !groups.has(Number(id))) groups.set(Number(id), name)
      }
    } catch {}
  }
  return groups.get(gid) ?? null
}

export function errorCode(error: unknown): string {
  return (error as NodeJS.ErrnoException).code ?? (error as Error).message
}
