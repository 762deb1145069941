import { closeSync, fchmodSync, fstatSync, fsyncSync, openSync, readSync, renameSync, statSync, unlinkSync, writeSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { chownIfRoot } from '../lib/atomic.ts'
import { forEachLine, parseJsonLine, toCheck } from './history.ts'
import { historyLine } from './record.ts'

/**
 * Rewriting health-history.jsonl while `health check` may append to it from cron: the new content
 * goes to a temp file in the same directory, lines appended meanwhile are copied over until the
 * size holds still, then one rename. Owner and mode of the original are kept.
 */

const CHUNK = 1 << 20

export interface RewriteResult {
  bytes_before: number
  bytes_after: number
  /** bytes a concurrent writer appended while we rewrote, carried over */
  appended_during: number
  /** false when nothing needed to change (the file was left alone) */
  rewritten: boolean
}

export interface PruneResult extends RewriteResult {
  cutoff: string
  kept: number
  removed: number
  /** unreadable lines dropped (blank, garbage, too long) */
  invalid: number
  /** legacy lines written back in the clean form */
  normalized: number
}

/** Buffered writes to the temp file, so memory stays bounded and syscalls few. */
export class HistoryOutput {
  private parts: string[] = []
  private pending = 0
  constructor(readonly fd: number) {}
  write(text: string): void {
    this.parts.push(text)
    if ((this.pending += text.length) >= CHUNK) this.flush()
  }
  flush(): void {
    if (this.parts.length) writeAll(this.fd, Buffer.from(this.parts.join('')))
    this.parts = []
    this.pending = 0
  }
}

function writeAll(fd: number, buf: Uint8Array, length = buf.length): void {
  for (let done = 0; done < length; ) done += writeSync(fd, buf, done, length - done)
}

function copyRange(from: number, to: number, start: number, end: number): void {
  const buf = Buffer.allocUnsafe(Math.min(CHUNK, Math.max(1, end - start)))
  for (let at = start; at < end; ) {
    const got = readSync(from, buf, 0, Math.min(buf.length, end - at), at)
    if (got === 0) break
    writeAll(to, buf, got)
    at += got
  }
}

/**
 * `fill` writes the new head of the file from the bytes [0, size) and returns the offset up to
 * which it consumed them (and whether anything changed); everything after that offset is copied
 * verbatim. Returns null when the file is missing.
 */
export function rewriteHistoryFile(path: string, fill: (src: number, size: number, out: HistoryOutput) => { consumed: number; changed: boolean }): RewriteResult | null {
  let src: number
  try {
    src = openSync(path, 'r')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw error
  }
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`)
  let out: number | undefined
  try {
    const before = fstatSync(src)
    out = openSync(tmp, 'wx', before.mode & 0o777)
    const output = new HistoryOutput(out)
    const { consumed, changed } = fill(src, before.size, output)
    const unchanged = () => {
      unlinkSync(tmp)
      const size = fstatSync(src).size
      return { bytes_before: before.size, bytes_after: size, appended_during: size - before.size, rewritten: false }
    }
    if (!changed) return unchanged()
    output.flush()
    let copied = consumed
    for (let size = fstatSync(src).size; size > copied; size = fstatSync(src).size) {
      copyRange(src, out, copied, size)
      copied = size
    }
    // another prune or cap replaced the file meanwhile: renaming ours would undo its work
    if (statSync(path).ino !== before.ino) return unchanged()
    const result = { bytes_before: before.size, bytes_after: fstatSync(out).size, appended_during: copied - before.size, rewritten: true }
    fchmodSync(out, before.mode & 0o7777)
    fsyncSync(out)
    chownIfRoot(tmp, { uid: before.uid, gid: before.gid })
    renameSync(tmp, path)
    // a check that opened the old file just before the rename may still land its line there
    const late = fstatSync(src).size
    if (late > copied) {
      const fd = openSync(path, 'a')
      try {
        copyRange(src, fd, copied, late)
      } finally {
        closeSync(fd)
      }
      result.appended_during += late - copied
      result.bytes_after += late - copied
    }
    return result
  } catch (error) {
    try {
      if (out !== undefined) unlinkSync(tmp)
    } catch {}
    throw error
  } finally {
    if (out !== undefined) closeSync(out)
    closeSync(src)
  }
}

/**
 * Keep the checks at or after `cutoff` (ms). Unreadable lines go; legacy lines are written back
 * clean. A last line without its newline is left as it is (it may be a write in progress).
 */
export function pruneHistory(path: string, options: { cutoff: number }): PruneResult | null {
  const counts = { kept: 0, removed: 0, invalid: 0, normalized: 0 }
  const result = rewriteHistoryFile(path, (src, size, out) => {
    const scan = forEachLine(src, (line) => {
      let raw: unknown
      let repaired = false
      try {
        raw = JSON.parse(line)
      } catch {
        raw = parseJsonLine(line)
        repaired = true
      }
      const check = raw === undefined ? null : toCheck(raw)
      if (!check) counts.invalid++
      else if (check.at < options.cutoff) counts.removed++
      else {
        counts.kept++
        if (!check.legacy && !repaired) out.write(`${line}\n`)
        else {
          counts.normalized++
          out.write(historyLine(check.record))
        }
      }
    }, { end: size })
    counts.invalid += scan.overlong
    return { consumed: scan.end, changed: counts.removed + counts.invalid + counts.normalized > 0 }
  })
  return result && { ...result, cutoff: new Date(options.cutoff).toISOString(), ...counts }
}

/** Keep about the newest `keepBytes` of whole lines: the automatic size cap of appendHistory. */
export function capHistory(path: string, keepBytes: number): RewriteResult | null {
  return rewriteHistoryFile(path, (src, size) => {
    if (size <= keepBytes) return { consumed: 0, changed: false }
    // start at the first line that begins at or after size - keepBytes
    const buf = Buffer.allocUnsafe(64 * 1024)
    for (let at = size - keepBytes - 1; at < size; ) {
      const got = readSync(src, buf, 0, Math.min(buf.length, size - at), at)
      if (got === 0) break
      const newline = buf.subarray(0, got).indexOf(10)
      if (newline >= 0) return { consumed: at + newline + 1, changed: true }
      at += got
    }
    return { consumed: size, changed: true }
  })
}
