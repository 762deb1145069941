import { closeSync, constants, fstatSync, fsyncSync, openSync, writeSync, type Stats } from 'node:fs'
import { constants as osConstants } from 'node:os'
import type { Owner } from './atomic.ts'
import { ClmntError } from './errors.ts'
import { cName, errnoName, lastErrno, sys } from './libc.ts'

/**
 * Files inside a molt's home, as root's clmnt must touch them: the molt's Linux user owns that
 * home and may have planted anything in it (a symlink to /etc, a FIFO, a device, a 1 TB sparse
 * file). So every path below the home is walked one component at a time with openat(2) and
 * O_NOFOLLOW (node:fs has no openat, hence libc.ts), a file is first opened with
 * O_PATH (which never blocks on a FIFO nor wakes a device) and judged by fstat — a regular file
 * owned by the molt's user or root — before it is reopened for reading or writing, and every read
 * is capped. The path up to and including the home itself is root's (base dir, registry) and is
 * trusted.
 *
 * Writes happen with the molt user's rights when root runs: setfsuid/setfsgid around the
 * synchronous system calls. Why not a child process per write: `health watch` runs for every molt
 * every few minutes and a spawn costs ~10 ms; why not seteuid: glibc applies it to every thread of
 * the process, while fsuid is per thread and only changes file-system checks — the HTTP server and
 * other threads keep root, and no `await` may happen in between (callers pass synchronous code).
 * With fsuid set the kernel itself refuses to write a root-owned file a molt user hard-linked
 * into its home, and what clmnt creates there belongs to the molt's user without a chown.
 */

const O_PATH = 0o10000000
export const O_CLOEXEC = 0o2000000
export const { O_DIRECTORY, O_NOFOLLOW, O_NONBLOCK, O_NOCTTY, O_CREAT, O_EXCL, O_WRONLY, O_RDONLY, O_RDWR, O_APPEND } = constants

/**
 * Shaped like node:fs's errors, so callers keep testing `code === 'ENOENT'`; an expected failure
 * (exit 1, one line) when it reaches the runner.
 */
export class SafeFsError extends ClmntError {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message, 1)
    this.name = 'SafeFsError'
  }
}

function fail(what: string, path: string, errno = lastErrno()): never {
  const code = errnoName(errno)
  // a symlink met with O_NOFOLLOW is ELOOP; a non-folder with O_DIRECTORY is ENOTDIR: say what it is
  const why = code === 'ELOOP' ? 'a symbolic link (not followed)' : code
  throw new SafeFsError(code, `cannot ${what} ${path}: ${why}`)
}

/** True for a missing file or a missing folder on its way. */
export function isMissing(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code
  return code === 'ENOENT'
}

/** What a molt home's files may be owned by: the molt's user or root. */
export interface HomeOptions {
  /** the molt's user (owner of the home); undefined: whoever owns the home */
  owner?: Owner
}

/** Run `fn` with the file-system identity of `owner` when root; synchronous code only. */
export function asOwner<T>(owner: Owner | undefined, fn: () => T): T {
  if (!owner || process.getuid?.() !== 0 || owner.uid === 0) return fn()
  const { setfsuid, setfsgid } = sys()
  // the group first: once fsuid is not 0 the thread may no longer change its fsgid
  const oldGid = setfsgid(owner.gid)
  const oldUid = setfsuid(owner.uid)
  try {
    // setfsuid reports no error; asking with an invalid id returns the current one
    if (setfsuid(-1 >>> 0) !== owner.uid || setfsgid(-1 >>> 0) !== owner.gid) throw new SafeFsError('EPERM', `cannot take the identity of uid ${owner.uid}`)
    return fn()
  } finally {
    setfsuid(oldUid)
    setfsgid(oldGid)
  }
}

/** A folder inside a molt home, held open: names inside it are looked up without following links. */
export class HomeDir {
  constructor(
    readonly fd: number,
    /** for messages */
    readonly path: string,
    /** the molt's user: files here must be its own or root's */
    readonly owner: Owner,
    /** whose rights changes here are made with (undefined: our own) */
    readonly writer: Owner | undefined,
  ) {}

  close(): void {
    closeSync(this.fd)
  }

  /** lstat of an entry: null when missing. */
  stat(name: string): Stats | null {
    const fd = sys().openat(this.fd, cName(name), O_PATH | O_NOFOLLOW | O_CLOEXEC, 0)
    if (fd < 0) {
      try {
        fail('look at', `${this.path}/${name}`)
      } catch (error) {
        if (isMissing(error)) return null
        throw error
      }
    }
    try {
      return fstatSync(fd)
    } finally {
      closeSync(fd)
    }
  }

  /**
   * A regular file of this folder opened for reading (non-blocking, so a FIFO swapped in later
   * cannot hang a read either). Throws ENOENT when missing, EUNSAFE for anything but a regular
   * file of the molt's user or root.
   */
  openRead(name: string, options: { anyOwner?: boolean } = {}): { fd: number; stats: Stats } {
    return this.reopen(name, O_RDONLY | O_NONBLOCK | O_NOCTTY, options.anyOwner)
  }

  /**
   * A regular file opened with `flags` (O_WRONLY|O_APPEND, O_RDWR …) as the molt's user, created
   * (O_EXCL, never through a link) when missing.
   */
  openOrCreate(name: string, flags: number, mode = 0o644): number {
    for (let attempt = 0; ; attempt++) {
      try {
        return asOwner(this.writer, () => this.reopen(name, flags | O_NONBLOCK | O_NOCTTY)).fd
      } catch (error) {
        if (!isMissing(error) || attempt > 2) throw error
      }
      try {
        return this.create(name, mode, flags)
      } catch (error) {
        // another writer created it meanwhile: use theirs
        if ((error as SafeFsError).code !== 'EEXIST') throw error
      }
    }
  }

  /** Create a new file (never an existing one, never through a link), as the molt's user. */
  create(name: string, mode = 0o644, flags = O_WRONLY): number {
    const fd = asOwner(this.writer, () => sys().openat(this.fd, cName(name), flags | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode))
    if (fd < 0) fail('create', `${this.path}/${name}`)
    return fd
  }

  /** Append to `name` with one write on an O_APPEND descriptor, creating it when missing; returns the size after. */
  append(name: string, data: string | Uint8Array, mode = 0o644): number {
    const fd = this.openOrCreate(name, O_WRONLY | O_APPEND, mode)
    try {
      writeAll(fd, typeof data === 'string' ? Buffer.from(data) : data)
      return fstatSync(fd).size
    } finally {
      closeSync(fd)
    }
  }

  /** Replace `name` atomically: a temp file here, fsync, renameat; readers see old or new. */
  writeAtomic(name: string, data: string | Uint8Array, mode = 0o644): void {
    const tmp = `.${name}.${process.pid}.${Date.now()}.tmp`
    const fd = this.create(tmp, mode)
    try {
      writeAll(fd, typeof data === 'string' ? Buffer.from(data) : data)
      fsyncSync(fd)
    } catch (error) {
      closeSync(fd)
      this.unlink(tmp)
      throw error
    }
    closeSync(fd)
    try {
      this.rename(tmp, name)
    } catch (error) {
      try {
        this.unlink(tmp)
      } catch {}
      throw error
    }
  }

  /** renameat within this folder, as the molt's user (never follows: rename works on names). */
  rename(from: string, to: string): void {
    const ok = asOwner(this.writer, () => sys().renameat(this.fd, cName(from), this.fd, cName(to)))
    if (ok !== 0) fail(`rename ${this.path}/${from} to`, to)
  }

  unlink(name: string): void {
    const ok = asOwner(this.writer, () => sys().unlinkat(this.fd, cName(name), 0))
    if (ok !== 0) fail('remove', `${this.path}/${name}`)
  }

  /** A subfolder, optionally created (as the molt's user); never a link. */
  dir(name: string, options: { create?: boolean; mode?: number } = {}): HomeDir {
    return openChild(this, name, options)
  }

  /** O_PATH + fstat, judged, then reopened through /proc/self/fd with the wanted flags. */
  private reopen(name: string, flags: number, anyOwner = false): { fd: number; stats: Stats } {
    const full = `${this.path}/${name}`
    const pathFd = sys().openat(this.fd, cName(name), O_PATH | O_NOFOLLOW | O_CLOEXEC, 0)
    if (pathFd < 0) fail('open', full)
    try {
      const stats = fstatSync(pathFd)
      judge(stats, full, 'file', anyOwner ? { uid: stats.uid, gid: stats.gid } : this.owner)
      // reopening the O_PATH descriptor opens exactly the inode judged above, whatever the name points at now
      const fd = openSync(`/proc/self/fd/${pathFd}`, flags)
      return { fd, stats }
    } finally {
      closeSync(pathFd)
    }
  }
}

/**
 * Changes in a folder are made as the molt's user, except in a folder of root's that no one else
 * may write to (a `.molt-state` the bash toolkit made as root): nothing in it can be swapped by the
 * molt's user, and as that user we could not write there at all.
 */
function writerFor(dir: Stats, owner: Owner): Owner | undefined {
  return dir.uid === 0 && (dir.mode & 0o022) === 0 ? undefined : owner
}

function openChild(parent: HomeDir, name: string, options: { create?: boolean; mode?: number }): HomeDir {
  const full = `${parent.path}/${name}`
  const flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC
  let fd = sys().openat(parent.fd, cName(name), flags, 0)
  if (fd < 0 && options.create) {
    const made = asOwner(parent.writer, () => sys().mkdirat(parent.fd, cName(name), options.mode ?? 0o755))
    if (made !== 0 && lastErrno() !== osConstants.errno.EEXIST) fail('create folder', full)
    fd = sys().openat(parent.fd, cName(name), flags, 0)
  }
  if (fd < 0) {
    const errno = lastErrno()
    // a link or a file where a folder should be: say which, the operator will want to look
    if (errno === osConstants.errno.ENOTDIR || errno === osConstants.errno.ELOOP) {
      const what = parent.stat(name)
      if (what) judge(what, full, 'folder', parent.owner)
    }
    fail('open folder', full, errno)
  }
  try {
    judge(fstatSync(fd), full, 'folder', parent.owner)
  } catch (error) {
    closeSync(fd)
    throw error
  }
  return new HomeDir(fd, full, parent.owner, writerFor(fstatSync(fd), parent.owner))
}

/**
 * A regular file (or folder) of the molt's user or root, nothing else. A root-owned file with
 * several links in a home that is not root's is a hard link clmnt never made: refused too.
 */
export function judge(stats: Stats, path: string, want: 'file' | 'folder', owner: Owner): void {
  const kind = stats.isFile() ? 'file' : stats.isDirectory() ? 'folder' : stats.isSymbolicLink() ? 'a symbolic link' : stats.isFIFO() ? 'a FIFO' : stats.isSocket() ? 'a socket' : stats.isCharacterDevice() || stats.isBlockDevice() ? 'a device' : 'not a regular file'
  if (kind !== want) throw new SafeFsError('EUNSAFE', `refusing ${path}: ${kind === 'file' || kind === 'folder' ? `a ${kind}` : kind}, expected a ${want === 'file' ? 'regular file' : want}`)
  if (stats.uid !== owner.uid && stats.uid !== 0) throw new SafeFsError('EUNSAFE', `refusing ${path}: owned by uid ${stats.uid}, not the molt's user (uid ${owner.uid}) or root`)
  if (want === 'file' && stats.uid === 0 && owner.uid !== 0 && stats.nlink > 1) throw new SafeFsError('EUNSAFE', `refusing ${path}: a root-owned file with ${stats.nlink} hard links`)
}

/**
 * Open a molt's home. `owner` defaults to the home's owner: the molt's user. The home path itself
 * is the operator's (base dir, registry) and may pass through links; below it nothing does.
 */
export function openHome(home: string, options: HomeOptions = {}): HomeDir {
  const fd = openSync(home, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
  const stats = fstatSync(fd)
  const owner = options.owner ?? { uid: stats.uid, gid: stats.gid }
  return new HomeDir(fd, home, owner, writerFor(stats, owner))
}

/** Split "a/b/c" into folders and a last name; refuses absolute paths, "." and "..". */
function splitRel(rel: string): { dirs: string[]; name: string } {
  const parts = rel.split('/').filter((p) => p !== '')
  if (rel.startsWith('/') || !parts.length || parts.some((p) => p === '.' || p === '..')) throw new SafeFsError('EINVAL', `not a path inside a home: ${rel}`)
  return { dirs: parts.slice(0, -1), name: parts.at(-1)! }
}

/** Run `fn` on the folder holding `rel` (created on the way when `create`); closes what it opened. */
export function inHomeDir<T>(home: string, rel: string, options: HomeOptions & { create?: boolean }, fn: (dir: HomeDir, name: string) => T): T {
  const { dirs, name } = splitRel(rel)
  let dir = openHome(home, options)
  try {
    for (const part of dirs) {
      const next = dir.dir(part, { create: options.create })
      dir.close()
      dir = next
    }
    return fn(dir, name)
  } finally {
    dir.close()
  }
}

/** Every byte of buf[0, length) written: at the file's position, or from `position` on (pwrite). */
export function writeAll(fd: number, buf: Uint8Array, length = buf.length, position: number | null = null): void {
  for (let done = 0; done < length; ) done += writeSync(fd, buf, done, length - done, position === null ? null : position + done)
}
