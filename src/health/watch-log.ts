import { closeSync, fstatSync, openSync, renameSync, statSync, writeSync } from 'node:fs'
import { chownIfRoot, ensureDir, type Owner } from '../lib/atomic.ts'
import { stateDir, watchLogFile } from './paths.ts'

/**
 * `.molt-state/health.log`: one line per watch run, what `health logs` shows. Appended with one
 * write on an O_APPEND descriptor (a skipped run writes beside the lock holder without mixing
 * lines); rotated by size by the lock holder only: health.log → .1 → .2 → .3, oldest dropped.
 * `health logs -f` follows across the rename.
 */
export const WATCH_LOG_MAX_BYTES = 1024 * 1024
export const WATCH_LOG_KEEP = 3

export interface WatchLogOptions {
  owner?: Owner
  /** only the run holding the watch lock rotates */
  rotate?: boolean
  maxBytes?: number
  keep?: number
}

/** One line: control characters become spaces, so a reason or an error text cannot fake a line. */
export function logLine(at: string, text: string): string {
  return `${at} ${text.replace(/[\x00-\x1f\x7f]+/g, ' ').trim()}\n`
}

export function appendWatchLog(home: string, line: string, options: WatchLogOptions = {}): void {
  ensureDir(stateDir(home), { owner: options.owner })
  const path = watchLogFile(home)
  if (options.rotate) rotateLog(path, Buffer.byteLength(line), options.maxBytes ?? WATCH_LOG_MAX_BYTES, options.keep ?? WATCH_LOG_KEEP)
  const fd = openSync(path, 'a', 0o644)
  try {
    if (fstatSync(fd).size === 0) chownIfRoot(path, options.owner)
    writeSync(fd, line)
  } finally {
    closeSync(fd)
  }
}

/** Rotate when the next line would take the file past `maxBytes`. Returns true when it did. */
export function rotateLog(path: string, incoming: number, maxBytes: number, keep: number): boolean {
  let size: number
  try {
    size = statSync(path).size
  } catch {
    return false
  }
  if (size === 0 || size + incoming <= maxBytes) return false
  for (let i = keep - 1; i >= 1; i--) {
    try {
      renameSync(`${path}.${i}`, `${path}.${i + 1}`)
    } catch {}
  }
  renameSync(path, `${path}.1`)
  return true
}
