import { closeSync, openSync, readSync, type Stats } from 'node:fs'
import { HomeDir, inHomeDir, isMissing, judge, O_CLOEXEC, O_DIRECTORY, O_RDONLY, SafeFsError, type HomeOptions } from './safe-fs.ts'

/**
 * Reading a file that a molt's user may have planted, in one call: by its path inside a molt home
 * (walked as safe-fs.ts walks), or by an absolute path whose last component is not followed. Every
 * read is capped; a link, FIFO, device or stranger's file is a SafeFsError, a missing one null.
 */

/** Default cap of readHomeFile: JSON state files are a few KiB. */
export const READ_CAP_BYTES = 4 * 1024 * 1024

/**
 * A small file of a molt home as text: null when missing; throws SafeFsError for a link, FIFO,
 * device, a stranger's file, or one larger than `maxBytes` (read no further than that).
 */
export function readHomeFile(home: string, rel: string, options: HomeOptions & { maxBytes?: number } = {}): string | null {
  const max = options.maxBytes ?? READ_CAP_BYTES
  return unlessMissing(() => inHomeDir(home, rel, options, (dir, name) => {
    const { fd, stats } = dir.openRead(name)
    try {
      refuseLarger(stats, max, `${dir.path}/${name}`)
      // one byte more than the cap: a file that grew since fstat is refused too, not cut short
      const buf = Buffer.allocUnsafe(Math.min(max + 1, Math.max(stats.size + 1, 4096)))
      const got = readInto(fd, buf)
      if (got > max) throw new SafeFsError('EFBIG', `refusing ${dir.path}/${name}: more than ${max} bytes`)
      return buf.toString('utf8', 0, got)
    } finally {
      closeSync(fd)
    }
  }))
}

/** lstat of `rel` inside the home without following anything; null when it (or a folder on the way) is missing. */
export function statHomeFile(home: string, rel: string, options: HomeOptions = {}): Stats | null {
  return unlessMissing(() => inHomeDir(home, rel, options, (dir, name) => dir.stat(name)))
}

/** A regular file of the home opened for reading: the caller closes `fd`. null when missing. */
export function openHomeFile(home: string, rel: string, options: HomeOptions = {}): { fd: number; stats: Stats; path: string } | null {
  return unlessMissing(() => inHomeDir(home, rel, options, (dir, name) => ({ ...dir.openRead(name), path: `${dir.path}/${name}` })))
}

function unlessMissing<T>(fn: () => T): T | null {
  try {
    return fn()
  } catch (error) {
    if (isMissing(error)) return null
    throw error
  }
}

function refuseLarger(stats: Stats, max: number, path: string): void {
  if (stats.size > max) throw new SafeFsError('EFBIG', `refusing ${path}: ${stats.size} bytes, more than ${max}`)
}

/** Reads from the start until `buf` is full or the file ends; returns the bytes read. */
function readInto(fd: number, buf: Buffer): number {
  let got = 0
  for (let n; got < buf.length && (n = readSync(fd, buf, got, buf.length - got, got)) > 0; ) got += n
  return got
}

/** One line for an operator: our own refusals say it all; a system error gets its code. */
export function safeFsMessage(error: unknown, path: string): string {
  if (error instanceof SafeFsError) return error.message
  const code = (error as NodeJS.ErrnoException).code
  return `cannot read ${path}: ${code ?? (error as Error).message}`
}

/**
 * A file named by an absolute path that may lie in a molt home (an msmtp configuration, a gateway
 * log under /tmp): the last component is not followed, a FIFO or device is refused before it is
 * opened (O_PATH, then fstat, then a reopen of exactly that inode). The caller closes `fd`.
 * Throws ENOENT when missing, EUNSAFE for anything but a regular file.
 */
export function openRegularFile(path: string): { fd: number; stats: Stats } {
  const slash = path.lastIndexOf('/')
  const dir = path.slice(0, slash) || '/'
  const dirFd = openSync(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
  try {
    const holder = new HomeDir(dirFd, dir.replace(/\/$/, ''), { uid: -1, gid: -1 }, undefined)
    const stats = holder.stat(path.slice(slash + 1))
    if (!stats) throw new SafeFsError('ENOENT', `cannot read ${path}: ENOENT`)
    // any owner will do here (the caller judges it); the kind of file may not
    if (!stats.isFile()) judge(stats, path, 'file', { uid: stats.uid, gid: stats.gid })
    return holder.openRead(path.slice(slash + 1), { anyOwner: true })
  } finally {
    closeSync(dirFd)
  }
}

/** openRegularFile, read whole: refused when larger than `maxBytes`. */
export function readRegularFile(path: string, maxBytes = READ_CAP_BYTES): { stats: Stats; text: string } {
  const { fd, stats } = openRegularFile(path)
  try {
    refuseLarger(stats, maxBytes, path)
    const buf = Buffer.allocUnsafe(Math.min(maxBytes, stats.size))
    return { stats, text: buf.toString('utf8', 0, readInto(fd, buf)) }
  } finally {
    closeSync(fd)
  }
}
