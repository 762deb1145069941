import { constants as osConstants } from 'node:os'

/**
 * The few libc calls node:fs does not offer (openat and friends, setfsuid, flock, renameat2, lseek, syncfs),
 * through bun:ffi: one library handle for the whole process, opened at the first call (a run that
 * locks nothing and touches no molt home never opens it, nor loads bun:ffi: ~4 ms of a start).
 */

let libc: ReturnType<typeof openLibc> | undefined
function openLibc() {
  const { dlopen } = require('bun:ffi') as typeof import('bun:ffi')
  return dlopen('libc.so.6', {
    openat: { args: ['i32', 'ptr', 'i32', 'u32'], returns: 'i32' },
    mkdirat: { args: ['i32', 'ptr', 'u32'], returns: 'i32' },
    unlinkat: { args: ['i32', 'ptr', 'i32'], returns: 'i32' },
    renameat: { args: ['i32', 'ptr', 'i32', 'ptr'], returns: 'i32' },
    setfsuid: { args: ['u32'], returns: 'i32' },
    setfsgid: { args: ['u32'], returns: 'i32' },
    flock: { args: ['i32', 'i32'], returns: 'i32' },
    renameat2: { args: ['i32', 'ptr', 'i32', 'ptr', 'u32'], returns: 'i32' },
    lseek: { args: ['i32', 'i64', 'i32'], returns: 'i64' },
    syncfs: { args: ['i32'], returns: 'i32' },
    __errno_location: { args: [], returns: 'ptr' },
  }).symbols
}

/** flock(2): exclusive, and fail at once instead of waiting */
export const LOCK_EX = 2
export const LOCK_NB = 4

export const sys = () => (libc ??= openLibc())

/** libc, or null where it cannot be opened: for calls with a fallback (renameat2, lseek's holes, syncfs). */
export function sysOrNull(): ReturnType<typeof sys> | null {
  try {
    return sys()
  } catch {
    return null
  }
}

/** errno of the last failed call on this thread. */
export const lastErrno = () => (require('bun:ffi') as typeof import('bun:ffi')).read.i32(sys().__errno_location()!, 0)

const ERRNO_NAMES = new Map(Object.entries(osConstants.errno).map(([name, n]) => [n, name]))

/** "ENOENT" for 2: the code node:fs would give. */
export const errnoName = (errno: number) => ERRNO_NAMES.get(errno) ?? `errno ${errno}`

/** A C string for a path argument: text, or bytes (names restored as they were, byte-names.ts). */
export const cName = (name: string | Buffer) => (typeof name === 'string' ? Buffer.from(`${name}\0`) : Buffer.concat([name, Buffer.alloc(1)]))
