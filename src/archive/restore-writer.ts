import { closeSync, ftruncateSync, futimesSync, openSync, write } from 'node:fs'

/**
 * The files a restore writes, written on the thread pool while the main thread goes on parsing,
 * judging and hashing what follows. The kernel's copy into the page cache was the main thread's
 * biggest cost where pages are new to the VM (each faults on the host first): a 1 GB restore spent
 * ~2 s of its ~6 s in `copy_folio_from_iter_atomic` (perf), a core idle a quarter of the time.
 * Measured in turn in such a state: 4.7–4.9 → 3.5–4.2 s; where pages are warm, no change (3.2 s).
 *
 * The bytes handed to `write` must not change until the file is finished: they are the inflated
 * chunks, which node:zlib never reuses. At most MAX_PENDING bytes are in flight and MAX_OPEN files
 * open: `backlog()` gives a promise to wait on past either. A file is truncated (a hole at its end),
 * given its mtime and closed once its last write is done. A failed write is thrown from the next
 * write or finish (and from `settle()`), as writeSync would have thrown it; a descriptor is never
 * closed while a write on it is in flight, so no write lands in a file opened after it.
 *
 * Every FLUSH_EVERY bytes written, `sync -f` starts in the background (one at a time): the disk
 * writes what is staged while the restore goes on reading, so the syncfs before each home's exchange
 * (restore-molt.ts) finds little left. Without it that syncfs wrote the whole restore at the end:
 * ~0.6 s of a 1 GB restore on this VM's disk; measured in turn, 5.04–5.24 → 4.84–4.88 s.
 */
const MAX_PENDING = 8 << 20
/** files open at once, past which the reader waits too: small files hold a descriptor each until their write lands */
const MAX_OPEN = 256
const FLUSH_EVERY = 128 << 20

interface Open {
  writes: number
  /** set by finish(): what to do once the last write is done */
  done: (() => void) | null
}

export class FileWriter {
  readonly #open = new Map<number, Open>()
  #pendingBytes = 0
  #failure: NodeJS.ErrnoException | null = null
  #wake: (() => void) | null = null
  #written = 0
  #flushDir: string | null
  readonly #flushEvery: number
  #flushAt: number
  #flushing = false
  /** background flushes that ended well */
  flushed = 0

  /** `flushDir`: a folder on the file system written to, for the background flushes (none without it) */
  constructor(options: { flushDir?: string; flushEvery?: number } = {}) {
    this.#flushDir = options.flushDir ?? null
    this.#flushEvery = this.#flushAt = options.flushEvery ?? FLUSH_EVERY
  }

  /** openSync, the descriptor then owned by the writer until finish() or abandon() */
  open(path: string | Buffer, flags: number, mode: number): number {
    const fd = openSync(path, flags, mode)
    this.#open.set(fd, { writes: 0, done: null })
    return fd
  }

  /** `buf` at `position` of the file */
  write(fd: number, buf: Uint8Array, position: number): void {
    this.#check()
    const length = buf.length
    const file = this.#open.get(fd)!
    file.writes++
    this.#pendingBytes += length
    const landed = (error: NodeJS.ErrnoException | null) => {
      if (error) this.#failure ??= error
      else this.#wrote(length)
      this.#pendingBytes -= length
      if (--file.writes === 0 && file.done) file.done()
      this.#wakeUp()
    }
    const go = (from: number) => {
      try {
        write(fd, buf, from, length - from, position + from, (error, n) => {
          if (!error && n > 0 && from + n < length) return go(from + n)
          // a write of 0 bytes to a regular file: the disk is full (what writeSync would loop on until ENOSPC)
          landed(error ?? (n === 0 ? Object.assign(new Error('write: no space left on device'), { code: 'ENOSPC', syscall: 'write' }) : null))
        })
      } catch (error) {
        landed(error as NodeJS.ErrnoException)
      }
    }
    go(0)
  }

  /** The file is complete: truncated to `size` where its last byte written is short of it, given its mtime, closed. */
  finish(fd: number, size: number, end: number, time: number | Date): void {
    this.#after(fd, () => {
      if (!this.#failure) {
        try {
          if (end !== size) ftruncateSync(fd, size)
          futimesSync(fd, time, time)
        } catch (error) {
          this.#failure ??= error as NodeJS.ErrnoException
        }
      }
    })
    this.#check()
  }

  /** The file will not be completed (the extraction stopped): closed once nothing is in flight on it. */
  abandon(fd: number): void {
    this.#after(fd, () => {})
  }

  /** A promise to wait on while too many bytes are in flight or files open; null when there is room. */
  backlog(): Promise<void> | null {
    if (!this.#behind()) return null
    return new Promise<void>((resolve) => (this.#wake = resolve))
  }

  /** Every write done and every file closed (those not finished are abandoned); throws the first failure. */
  async settle(): Promise<void> {
    for (const fd of [...this.#open.keys()]) if (!this.#open.get(fd)!.done) this.abandon(fd)
    while (this.#open.size) await new Promise<void>((resolve) => (this.#wake = resolve))
    this.#check()
  }

  #after(fd: number, then: () => void): void {
    const file = this.#open.get(fd)
    if (!file) return
    file.done = () => {
      this.#open.delete(fd)
      then()
      try {
        closeSync(fd)
      } catch (error) {
        this.#failure ??= error as NodeJS.ErrnoException
      }
    }
    if (file.writes === 0) file.done()
  }

  #wrote(length: number): void {
    this.#written += length
    if (this.#written < this.#flushAt || this.#flushing || !this.#flushDir) return
    this.#flushAt = this.#written + this.#flushEvery
    try {
      const child = Bun.spawn(['sync', '-f', this.#flushDir], { stdin: 'ignore', stdout: 'ignore', stderr: 'ignore' })
      this.#flushing = true
      child.exited.then((code) => {
        this.#flushing = false
        if (code === 0) this.flushed++
        // a write-back error (EIO): the restore stops here rather than at the syncfs before the exchange
        else this.#failure ??= Object.assign(new Error('cannot write the restored files to disk: sync -f failed'), { code: 'EIO' })
      })
    } catch {
      // no sync(1): the syncfs before the exchange writes it all
      this.#flushDir = null
    }
  }

  #behind(): boolean {
    return this.#pendingBytes > MAX_PENDING || this.#open.size > MAX_OPEN
  }

  #wakeUp(): void {
    // behind means files are open with writes in flight: their callbacks come, and wake the reader then
    if (this.#behind() && !this.#failure) return
    const wake = this.#wake
    this.#wake = null
    wake?.()
  }

  #check(): void {
    if (this.#failure) throw this.#failure
  }
}
