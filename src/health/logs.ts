import { closeSync, fstatSync, readSync, type Stats } from 'node:fs'
import { join } from 'node:path'
import { ClmntError } from '../lib/errors.ts'
import { openHomeFile, safeFsMessage, statHomeFile } from '../lib/safe-read.ts'
import { tailLines } from '../lib/tail.ts'
import { STATE_DIR, WATCH_LOG_REL } from './paths.ts'

/**
 * A molt's health log; `legacy` when it is the bash toolkit's cron.log rather than ours. Opened
 * by `rel` inside `home` without following links (safe-fs.ts); `path` is for messages.
 */
export interface LogFile {
  home: string
  rel: string
  path: string
  legacy: boolean
}

/** Where a molt's log may be, best first: molts set up by the bash toolkit only ever had cron.log. */
export function logCandidates(home: string): LogFile[] {
  return [
    { home, rel: WATCH_LOG_REL, path: join(home, WATCH_LOG_REL), legacy: false },
    { home, rel: `${STATE_DIR}/cron.log`, path: join(home, STATE_DIR, 'cron.log'), legacy: true },
    { home, rel: 'cron.log', path: join(home, 'cron.log'), legacy: true },
  ]
}

export function findLogFile(home: string): LogFile | null {
  return logCandidates(home).find((c) => statFile(c) !== null) ?? null
}

export function readLastLines(file: LogFile, count: number): string[] {
  const opened = openLog(file)
  if (!opened) throw new ClmntError(`cannot read ${file.path}: ENOENT`)
  try {
    return tailLines(opened.fd, count)
  } finally {
    closeSync(opened.fd)
  }
}

export type FollowEvent =
  | { type: 'waiting'; looked: string[] }
  /** `waited`: the file appeared after following began, so it is read from its start */
  | { type: 'opened'; file: LogFile; waited: boolean }
  | { type: 'rotated'; file: LogFile }
  | { type: 'truncated'; file: LogFile }
  /** health.log appeared while a legacy cron.log was being followed */
  | { type: 'switched'; from: LogFile; file: LogFile }

export interface FollowOptions {
  /** how many of the last whole lines to emit before following */
  lines: number
  signal: AbortSignal
  /** awaited, so a caller can apply back-pressure */
  onLines(lines: string[]): void | Promise<void>
  onEvent?(event: FollowEvent): void
  intervalMs?: number
  chunkSize?: number
  /** a line that never ends is emitted in pieces of this size, so memory stays bounded */
  maxLineBytes?: number
}

interface Followed {
  file: LogFile
  fd: number
  dev: number
  ino: number
  offset: number
  /** bytes after the last newline, waiting for the rest of their line */
  carry: Buffer
}

const EMPTY = Buffer.alloc(0)

/**
 * Emit the last lines of a molt's log, then every whole line appended to it until `signal` aborts.
 * Polls rather than fs.watch: watches on a path are lost or misfire when logrotate renames it.
 */
export async function followLog(home: string, options: FollowOptions): Promise<void> {
  const { signal, onLines } = options
  const emit = options.onEvent ?? (() => {})
  const chunk = Buffer.allocUnsafe(options.chunkSize ?? 64 * 1024)
  const maxLine = options.maxLineBytes ?? 1024 * 1024

  const drain = async (f: Followed) => {
    while (!signal.aborted) {
      const n = readSync(f.fd, chunk, 0, chunk.length, f.offset)
      if (n === 0) return
      f.offset += n
      const lines = splitLines(f, chunk.subarray(0, n), maxLine)
      if (lines.length) await onLines(lines)
    }
  }
  const leave = async (f: Followed) => {
    // a partial line in a file we leave will never be completed there
    if (f.carry.length) await onLines([f.carry.toString('utf8')])
    closeSync(f.fd)
  }

  let current: Followed | null = null
  const first = findLogFile(home)
  if (first) {
    current = openLog(first)
    if (current) {
      emit({ type: 'opened', file: first, waited: false })
      await emitTail(current, options.lines, onLines)
    }
  }
  if (!current) emit({ type: 'waiting', looked: logCandidates(home).map((c) => c.path) })

  try {
    while (!signal.aborted) {
      if (!current) {
        const found = findLogFile(home)
        current = found && openLog(found)
        if (current) emit({ type: 'opened', file: current.file, waited: true })
      }
      if (current) {
        await drain(current)
        const f: Followed = current
        const ours = f.file.legacy ? logCandidates(home)[0]! : null
        const onDisk = statFile(f.file)
        if (ours && statFile(ours)) {
          await leave(f)
          current = openLog(ours)
          emit({ type: 'switched', from: f.file, file: ours })
        } else if (onDisk && (onDisk.ino !== f.ino || onDisk.dev !== f.dev)) {
          // the writer may have written to the renamed file until it reopened: take that first
          await drain(f)
          await leave(f)
          current = openLog(f.file)
          emit({ type: 'rotated', file: f.file })
        } else if (fstatSync(f.fd).size < f.offset) {
          // copytruncate; one that has grown past our offset again before this poll cannot be told apart
          if (f.carry.length) await onLines([f.carry.toString('utf8')])
          f.carry = EMPTY
          f.offset = 0
          emit({ type: 'truncated', file: f.file })
        }
        // renamed away with no new file yet: keep reading the old descriptor until one appears
      }
      await sleep(options.intervalMs ?? 200, signal)
    }
    if (current?.carry.length) await onLines([current.carry.toString('utf8')])
  } finally {
    if (current) closeSync(current.fd)
  }
}

function openLog(file: LogFile): Followed | null {
  let opened: ReturnType<typeof openHomeFile>
  try {
    opened = openHomeFile(file.home, file.rel)
  } catch (error) {
    throw readError(file.path, error)
  }
  // gone between the look and the open: the next poll looks again
  if (!opened) return null
  const { dev, ino } = opened.stats
  return { file, fd: opened.fd, dev, ino, offset: 0, carry: EMPTY }
}

/**
 * Emit the last `count` whole lines and position after them; retry while the file grows under
 * it: otherwise lines appended meanwhile would be shown twice.
 */
async function emitTail(f: Followed, count: number, onLines: FollowOptions['onLines']): Promise<void> {
  let size = fstatSync(f.fd).size
  let lines: string[] = []
  let partial: string | undefined
  for (let attempt = 0; attempt < 3; attempt++) {
    const endsWithNewline = size === 0 || lastByte(f.fd, size) === 10
    // a final line without its newline is still being written: keep it back, finish it when it ends
    lines = size === 0 ? [] : tailLines(f.fd, endsWithNewline ? count : count + 1)
    partial = endsWithNewline ? undefined : lines.pop()
    const now = fstatSync(f.fd).size
    if (now === size) break
    size = now
  }
  f.offset = size
  f.carry = partial === undefined ? EMPTY : Buffer.from(partial, 'utf8')
  if (lines.length) await onLines(lines)
}

function splitLines(f: Followed, bytes: Buffer, maxLine: number): string[] {
  const lines: string[] = []
  let start = 0
  // splitting bytes on \n is safe in UTF-8: the byte never occurs inside a multi-byte character
  for (let end = bytes.indexOf(10); end !== -1; end = bytes.indexOf(10, start)) {
    const piece = bytes.subarray(start, end)
    lines.push((f.carry.length ? Buffer.concat([f.carry, piece]) : piece).toString('utf8'))
    f.carry = EMPTY
    start = end + 1
  }
  if (start < bytes.length) {
    // copy: the read buffer is reused for the next chunk
    f.carry = Buffer.concat([f.carry, bytes.subarray(start)])
    if (f.carry.length >= maxLine) {
      lines.push(f.carry.toString('utf8'))
      f.carry = EMPTY
    }
  }
  return lines
}

function lastByte(fd: number, size: number): number | undefined {
  const one = Buffer.alloc(1)
  return readSync(fd, one, 0, 1, size - 1) === 1 ? one[0] : undefined
}

/** The log's entry, never followed: a regular file counts, a link or FIFO is refused when opened. */
function statFile(file: LogFile): Stats | null {
  try {
    const stats = statHomeFile(file.home, file.rel)
    return stats && !stats.isDirectory() ? stats : null
  } catch (error) {
    throw readError(file.path, error)
  }
}

function readError(path: string, error: unknown): ClmntError {
  const err = error as NodeJS.ErrnoException
  if (err.code === 'EACCES') return new ClmntError(`cannot read ${path}: permission denied`, 1, { cause: error })
  return new ClmntError(safeFsMessage(error, path), 1, { cause: error })
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve()
    const done = () => {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal.addEventListener('abort', done, { once: true })
  })
}
