import type { Owner } from '../lib/atomic.ts'
import { inHomeDir, type HomeDir } from '../lib/safe-fs.ts'
import { WATCH_LOG_REL } from './paths.ts'

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
  inHomeDir(home, WATCH_LOG_REL, { owner: options.owner, create: true }, (dir, name) => {
    if (options.rotate) rotateLog(dir, name, Buffer.byteLength(line), options.maxBytes ?? WATCH_LOG_MAX_BYTES, options.keep ?? WATCH_LOG_KEEP)
    dir.append(name, line)
  })
}

/** Rotate when the next line would take the file past `maxBytes`. Returns true when it did. */
export function rotateLog(dir: HomeDir, name: string, incoming: number, maxBytes: number, keep: number): boolean {
  const size = dir.stat(name)?.size ?? 0
  if (size === 0 || size + incoming <= maxBytes) return false
  for (let i = keep - 1; i >= 1; i--) {
    try {
      dir.rename(`${name}.${i}`, `${name}.${i + 1}`)
    } catch {}
  }
  dir.rename(name, `${name}.1`)
  return true
}
