import { chmodSync, closeSync, constants, lchownSync, lstatSync, openSync, readdirSync, renameSync, rmSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { cName, errnoName, lastErrno, sysOrNull } from '../lib/libc.ts'

/**
 * File-system steps of a restore that node:fs lacks: an atomic exchange of two paths
 * (renameat2 RENAME_EXCHANGE, through bun:ffi like the fleet lock's flock), so a molt's home is
 * the old tree or the new one at every instant, even under kill -9; and a remover that copes with
 * read-only folders.
 */
const AT_FDCWD = -100
const RENAME_EXCHANGE = 2
const RENAME_NOREPLACE = 1

/**
 * Swap what `a` and `b` name, atomically. Where the kernel or file system cannot (old kernels,
 * some network file systems), falls back to three renames through `spare` — a short window in
 * which `b` is absent, which crash recovery repairs from the journal.
 */
export { syncDir } from '../lib/atomic.ts'

export function exchangePaths(a: string, b: string, spare: string): 'atomic' | 'renames' {
  if (tryRenameat2(a, b, RENAME_EXCHANGE, `cannot exchange ${a} and ${b}`)) return 'atomic'
  renameSync(b, spare)
  try {
    renameSync(a, b)
  } catch (error) {
    renameSync(spare, b)
    throw error
  }
  renameSync(spare, a)
  return 'renames'
}

/** rename that never replaces: EEXIST when something appeared at `to` (rename(2) would replace an empty folder). */
export function renameNoReplace(from: string | Buffer, to: string | Buffer): void {
  if (tryRenameat2(from, to, RENAME_NOREPLACE, `cannot rename ${from} to ${to}`)) return
  if (pathExists(to)) throw Object.assign(new Error(`cannot rename ${from} to ${to}: EEXIST`), { code: 'EEXIST' })
  renameSync(from, to)
}

/**
 * renameat2(2) through bun:ffi: true when it did the job, false when this kernel or file system
 * does not support the flag (EINVAL, ENOSYS, EOPNOTSUPP: the caller falls back); throws otherwise.
 */
function tryRenameat2(from: string | Buffer, to: string | Buffer, flags: number, what: string): boolean {
  const libc = sysOrNull()
  if (!libc) return false
  if (libc.renameat2(AT_FDCWD, cName(from), AT_FDCWD, cName(to), flags) === 0) return true
  const errno = lastErrno()
  if (errno === 22 || errno === 38 || errno === 95) return false
  const code = errnoName(errno)
  throw Object.assign(new Error(`${what}: ${code}`), { code })
}

/**
 * Everything written to the file system that holds a folder, on its disk: syncfs(2), one call for
 * the whole file system where an fsync of each of 40,000 restored files would wait for the disk
 * 40,000 times. A home is exchanged only once its new tree is on disk: the old one is deleted at
 * the end of the run, and a power cut must leave one of the two.
 *
 * The folder is opened before the restore writes anything: Linux reports a write-back error to every
 * descriptor opened before it, even when another process's sync (the background `sync -f` of
 * restore-writer.ts, a sync of the host's) saw it first; a descriptor opened afterwards would not
 * hear of it. A failure is kept: every later call throws it too, as what it lost is not known.
 * Where libc cannot be reached: sync(1) -f, which opens the folder anew.
 */
export class DiskSync {
  readonly #dir: string
  readonly #fd: number
  #failure: Error | null = null

  constructor(dir: string) {
    this.#dir = dir
    this.#fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW)
  }

  sync(): void {
    if (this.#failure) throw this.#failure
    const libc = sysOrNull()
    let code: string | null = null
    if (!libc) code = spawnSync('sync', ['-f', this.#dir], { stdio: 'ignore', timeout: 600_000 }).status === 0 ? null : 'sync -f failed'
    else if (libc.syncfs(this.#fd) !== 0) code = errnoName(lastErrno())
    if (code === null) return
    this.#failure = Object.assign(new Error(`cannot write the restored files to disk: ${code}`), { code })
    throw this.#failure
  }

  close(): void {
    closeSync(this.#fd)
  }
}

/** rm -rf that never follows a symlink and gets through folders left without write permission. */
export function removeTree(path: string): void {
  try {
    rmSync(path, { recursive: true, force: true })
    return
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code !== 'EACCES' && code !== 'EPERM') throw error
  }
  walkDirs(path, (dir) => {
    try {
      chmodSync(dir, 0o700)
    } catch {}
  })
  rmSync(path, { recursive: true, force: true })
}

/** Every real folder under `root` (root first), never through a symlink. */
function walkDirs(root: string, visit: (dir: Buffer<ArrayBufferLike>) => void): void {
  const stack: Buffer<ArrayBufferLike>[] = [Buffer.from(root)]
  while (stack.length) {
    const dir = stack.pop()!
    try {
      if (!lstatSync(dir).isDirectory()) continue
    } catch {
      continue
    }
    visit(dir)
    let names: Buffer<ArrayBufferLike>[] = []
    try {
      names = readdirSync(dir, { encoding: 'buffer' })
    } catch {}
    for (const name of names) stack.push(childPath(dir, name))
  }
}

/** Paths as bytes: names that are not UTF-8 (restored Latin-1 names) must reach the system call unchanged. */
function childPath(dir: Buffer<ArrayBufferLike>, name: Buffer<ArrayBufferLike>): Buffer<ArrayBufferLike> {
  return Buffer.concat([dir, Buffer.from('/'), name])
}

/** lchown everything under (and including) `root`; symlinks themselves, never their targets. */
export function chownTree(root: string, uid: number, gid: number): number {
  let count = 0
  const stack: Buffer<ArrayBufferLike>[] = [Buffer.from(root)]
  lchownSync(root, uid, gid)
  count++
  while (stack.length) {
    const dir = stack.pop()!
    // (Bun's Dirent has no name with encoding 'buffer': names, then lstat)
    for (const name of readdirSync(dir, { encoding: 'buffer' })) {
      const path = childPath(dir, name)
      lchownSync(path, uid, gid)
      count++
      if (lstatSync(path).isDirectory()) stack.push(path)
    }
  }
  return count
}


/**
 * A time for utimes/futimes/lutimes: Bun takes a negative number of seconds as "now", so times
 * before 1970 go as a Date (to the millisecond); the others as seconds, to the microsecond.
 */
export function fileTime(seconds: number): number | Date {
  return seconds < 0 ? new Date(seconds * 1000) : seconds
}

export function pathExists(path: string | Buffer): boolean {
  try {
    lstatSync(path)
    return true
  } catch {
    return false
  }
}

export function inodeOf(path: string): number | null {
  try {
    return lstatSync(path).ino
  } catch {
    return null
  }
}
