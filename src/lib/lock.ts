import { closeSync, ftruncateSync, openSync, readSync, writeSync } from 'node:fs'
import type { Owner } from './atomic.ts'
import { chownIfRoot } from './atomic.ts'
import { lastErrno, LOCK_EX, LOCK_NB, sys } from './libc.ts'

/**
 * Exclusive locks with flock(2), called through bun:ffi (libc.ts: 0.2 ms, no `flock` process). The kernel
 * drops the lock when the holder exits, even by kill -9, so a crash never leaves a stale lock.
 * The lock file stays (unlinking it would race with the next locker); it names the last holder.
 */
const EWOULDBLOCK = 11

export interface LockHolder {
  pid: number
  command: string
  since: string
}

export interface Lock {
  release(): void
}

export type LockAttempt = { ok: true; lock: Lock } | { ok: false; holder: LockHolder | null }

/** Take the lock now or report who has it; never waits. `command` says what the holder is doing. */
export function tryLock(path: string, command: string, owner?: Owner): LockAttempt {
  return lockDescriptor(openSync(path, 'a+', 0o644), path, command, () => chownIfRoot(path, owner))
}

/**
 * The same on a descriptor opened for reading and writing by the caller (a lock file inside a
 * molt home is opened without following links, see safe-fs.ts). Closed when the lock is refused.
 */
export function lockDescriptor(fd: number, path: string, command: string, onTaken?: () => void): LockAttempt {
  if (sys().flock(fd, LOCK_EX | LOCK_NB) !== 0) {
    const errno = lastErrno()
    const holder = readHolder(fd)
    closeSync(fd)
    if (errno !== EWOULDBLOCK) throw new Error(`cannot lock ${path}: flock errno ${errno}`)
    return { ok: false, holder }
  }
  onTaken?.()
  const holder: LockHolder = { pid: process.pid, command, since: new Date().toISOString() }
  ftruncateSync(fd, 0)
  writeSync(fd, `${JSON.stringify(holder)}\n`, 0)
  let released = false
  return {
    ok: true,
    lock: {
      release() {
        if (released) return
        released = true
        closeSync(fd)
      },
    },
  }
}

/** The holder's line, read from the descriptor (at most 4 KiB: the file may be anyone's). */
function readHolder(fd: number): LockHolder | null {
  try {
    const buf = Buffer.alloc(4096)
    const n = readSync(fd, buf, 0, buf.length, 0)
    const holder = JSON.parse(buf.toString('utf8', 0, n)) as LockHolder
    return typeof holder.pid === 'number' ? holder : null
  } catch {
    return null
  }
}

export function describeHolder(holder: LockHolder | null): string {
  return holder ? `PID ${holder.pid} (${holder.command}, since ${holder.since})` : 'another process'
}
