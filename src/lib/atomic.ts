import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync, chownSync, mkdirSync, statSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'

export interface Owner {
  uid: number
  gid: number
}

/** Only root can give files away; everyone else creates files as themselves. */
export function chownIfRoot(path: string, owner: Owner | undefined): void {
  if (owner && process.getuid?.() === 0) chownSync(path, owner.uid, owner.gid)
}

/**
 * Write a whole file so that readers see the old content or the new, never a mix:
 * temp file in the same directory, fsync, rename. A crash leaves at most a stray temp file.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array, options: { mode?: number; owner?: Owner } = {}): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`)
  const fd = openSync(tmp, 'wx', options.mode ?? 0o644)
  try {
    writeSync(fd, typeof data === 'string' ? Buffer.from(data) : data)
    fsyncSync(fd)
  } catch (error) {
    closeSync(fd)
    unlinkSync(tmp)
    throw error
  }
  closeSync(fd)
  try {
    chownIfRoot(tmp, options.owner)
    renameSync(tmp, path)
  } catch (error) {
    try { unlinkSync(tmp) } catch {}
    throw error
  }
}

/** mkdir -p, giving every directory it creates to `owner` when running as root. */
export function ensureDir(path: string, options: { mode?: number; owner?: Owner } = {}): void {
  try {
    if (statSync(path).isDirectory()) return
  } catch {}
  const parent = dirname(path)
  if (parent !== path) ensureDir(parent, options)
  try {
    mkdirSync(path, { mode: options.mode ?? 0o755 })
    chownIfRoot(path, options.owner)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
  }
}

/** fsync a directory, so a rename or a new entry in it survives a crash; best effort. */
export function syncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r')
    try {
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
  } catch {}
}
