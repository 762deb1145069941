import { closeSync, fchmodSync, fstatSync, fsyncSync, readSync } from 'node:fs'
import type { Owner } from '../lib/atomic.ts'
import { HomeDir, inHomeDir, isMissing, O_APPEND, O_WRONLY, writeAll } from '../lib/safe-fs.ts'
import { forEachLine, HISTORY_READ_MAX_BYTES, lineStartFrom, parseJsonLine, toCheck } from './history.ts'
import { HISTORY_REL } from './paths.ts'
import { historyLine } from './record.ts'

/**
 * Rewriting health-history.jsonl while `health check` may append to it from cron: the new content
 * goes to a temp file in the same directory, lines appended meanwhile are copied over until the
 * size holds still, then one rename. Mode of the original is kept; as root, every step runs with
 * the molt user's rights inside its `.molt-state` (safe-fs.ts), so the file stays the molt's.
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

function copyRange(from: number, to: number, start: number, end: number): void {
  const buf = Buffer.allocUnsafe(Math.min(CHUNK, Math.max(1, end - start)))
  for (let at = start; at < end; ) {
    const got = readSync(from, buf, 0, Math.min(buf.length, end - at), at)
    if (got === 0) break
    writeAll(to, buf, got)
    at += got
  }
}

type Fill = (src: number, size: number, out: HistoryOutput) => { consumed: number; changed: boolean }

/** rewriteHistoryFile on a molt's health-history.jsonl; null when it has none. */
export function rewriteHistory(home: string, fill: Fill, owner?: Owner): RewriteResult | null {
  try {
    return inHomeDir(home, HISTORY_REL, { owner }, (dir, name) => rewriteHistoryFile(dir, name, fill))
  } catch (error) {
    if (isMissing(error)) return null
    throw error
  }
}

/**
 * `fill` writes the new head of the file from the bytes [0, size) and returns the offset up to
 * which it consumed them (and whether anything changed); everything after that offset is copied
 * verbatim. Throws ENOENT when the file is missing.
 */
export function rewriteHistoryFile(dir: HomeDir, name: string, fill: Fill): RewriteResult {
  const { fd: src, stats: before } = dir.openRead(name)
  const tmp = `.${name}.${process.pid}.${Date.now()}.tmp`
  let out: number | undefined
  try {
    out = dir.create(tmp, before.mode & 0o777)
    const output = new HistoryOutput(out)
    const { consumed, changed } = fill(src, before.size, output)
    const unchanged = () => {
      dir.unlink(tmp)
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
    if (dir.stat(name)?.ino !== before.ino) return unchanged()
    const result = { bytes_before: before.size, bytes_after: fstatSync(out).size, appended_during: copied - before.size, rewritten: true }
    fchmodSync(out, before.mode & 0o777)
    fsyncSync(out)
    dir.rename(tmp, name)
    // a check that opened the old file just before the rename may still land its line there
    const late = fstatSync(src).size
    if (late > copied) {
      const fd = dir.openOrCreate(name, O_WRONLY | O_APPEND)
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
      if (out !== undefined) dir.unlink(tmp)
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
 * `dryRun` counts the same and opens nothing for writing (not even the temp file).
 */
export function pruneHistory(home: string, options: { cutoff: number; owner?: Owner; dryRun?: boolean }): PruneResult | null {
  const counts = { kept: 0, removed: 0, invalid: 0, normalized: 0 }
  const fill: Fill = (src, size, out) => {
    // a history larger than clmnt ever keeps was not written by it: only its newest part is read
    const start = lineStartFrom(src, size - HISTORY_READ_MAX_BYTES, size)
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
    }, { start, end: size })
    counts.invalid += scan.overlong
    return { consumed: scan.end, changed: start > 0 || counts.removed + counts.invalid + counts.normalized > 0 }
  }
  const result = options.dryRun ? countHistory(home, fill, options.owner) : rewriteHistory(home, fill, options.owner)
  return result && { ...result, cutoff: new Date(options.cutoff).toISOString(), ...counts }
}

/** `fill` over the file with its output thrown away: what a rewrite would do, changing nothing. */
function countHistory(home: string, fill: Fill, owner?: Owner): RewriteResult | null {
  try {
    return inHomeDir(home, HISTORY_REL, { owner }, (dir, name) => {
      const { fd, stats } = dir.openRead(name)
      try {
        let bytes = 0
        const { consumed } = fill(fd, stats.size, { write: (text: string) => void (bytes += Buffer.byteLength(text)), flush() {} } as unknown as HistoryOutput)
        return { bytes_before: stats.size, bytes_after: bytes + (stats.size - consumed), appended_during: 0, rewritten: false }
      } finally {
        closeSync(fd)
      }
    })
  } catch (error) {
    if (isMissing(error)) return null
    throw error
  }
}

/** Keep about the newest `keepBytes` of whole lines: the automatic size cap of appendHistory. */
export function capHistory(home: string, keepBytes: number, owner?: Owner): RewriteResult | null {
  return rewriteHistory(home, (src, size) => {
    if (size <= keepBytes) return { consumed: 0, changed: false }
    return { consumed: lineStartFrom(src, size - keepBytes, size), changed: true }
  }, owner)
}
