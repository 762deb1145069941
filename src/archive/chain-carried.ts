import { basename } from 'node:path'
import { InputError } from '../lib/errors.ts'
import { shownName } from './byte-names.ts'
import { readFront } from './chain.ts'
import { collectNow } from './collect.ts'
import { componentOf, type Component } from './layout.ts'
import { SAME, SumReader } from './list-readers.ts'
import { ArchiveReadError } from './read.ts'
import type { Scoped } from './restore-extract.ts'
import { Findings, type ListRegions } from './restore-lists.ts'
import type { Spool } from './spool.ts'

/**
 * What an incremental archive left to its chain (state.jsonl, held 0) against what the chain
 * holds, for `fleet verify` and `restore --dry-run`: `restore --from` takes each such file from the
 * newest earlier archive that holds it and refuses when that is not the content the archive
 * recorded (chain-restore.ts), or when no archive of the chain holds it. A parent's own checks
 * (name, size, manifest sha256, its content against its checksums.sha256) cannot tell an archive
 * with the same manifest but other content, so the parents' checksum lists, spooled as each one
 * was verified, are read line by line against the recorded digests. Only the carried files are
 * held, their digests as 32 latin1 characters as the member log keeps them; the lists stay on disk.
 */
export interface ListedParent {
  path: string
  /** its checksums.sha256 as the verify of it spooled it; null when it has none (its verify says so) */
  checksums: Spool | null
  /** a read through its molt index: the parts of the list about what was read (null: all of it) */
  regions: ListRegions | null
  /** the lines of the molts not read are holes in it (list chunks) */
  holes: boolean
}

/** Past this many lines about one molt, the rest is counted in one line. */
const LINES_PER_MOLT = 10

/**
 * The problems, one line each, scoped to their molt. `parents`: the full archive first, as
 * resolveChain gives them; `wants`: the files restore would take from the chain (all of them for verify).
 */
export async function checkCarried(archive: string, parents: ListedParent[], wants: (molt: string, rel: string) => boolean = () => true): Promise<Scoped[]> {
  // member name → the sha256 recorded for it ('' in archives made before digests were recorded)
  const carried = new Map<string, string>()
  try {
    await readFront(archive, (e) => {
      if (!e.held && e.kind === 'f' && wants(e.molt, e.rel)) carried.set(`${e.molt}/${e.rel}`, e.sha256 && Buffer.from(e.sha256, 'hex').toString('latin1'))
    })
  } catch (error) {
    if (!(error instanceof ArchiveReadError) && !(error instanceof InputError)) throw error
    return [{ molt: null, text: `broken chain: what ${basename(archive)} left to its chain cannot be read: ${error.message}` }]
  }
  const problems: Scoped[] = []
  const others = new Map<string, number>()
  // a list missing or cut short: its verify says so, and what it does not list is not known to be missing
  let complete = true
  for (let i = parents.length - 1; i >= 0 && carried.size > 0; i--) {
    const { path, checksums, regions, holes } = parents[i]!
    if (!checksums) {
      complete = false
      continue
    }
    const found = new Findings()
    const sums = new SumReader({ checksums, regions, holes, relevant: (name) => carried.has(name) }, found)
    for (let sum = sums.next(); sum !== null; sum = sums.next()) {
      collectNow()
      if (sum === SAME) continue
      // the newest archive that lists a file is the one restore takes it from
      const recorded = carried.get(sum.name)!
      carried.delete(sum.name)
      if (!recorded || sum.digest === recorded) continue
      const molt = moltOf(sum.name)
      const count = (others.get(molt) ?? 0) + 1
      others.set(molt, count)
      if (count <= LINES_PER_MOLT) problems.push({ molt, text: otherContent(sum.name, path, archive, sum.digest, recorded) })
    }
    if (!found.end) complete = false
  }
  for (const [molt, count] of others) {
    if (count > LINES_PER_MOLT) problems.push({ molt, text: `broken chain: ${count - LINES_PER_MOLT} more file(s) of ${molt} in its chain are not the content ${basename(archive)} left to it` })
  }
  if (complete) {
    const missing = new Map<string, { first: string; count: number }>()
    for (const name of carried.keys()) {
      const molt = moltOf(name)
      const m = missing.get(molt)
      if (m) m.count++
      else missing.set(molt, { first: name, count: 1 })
    }
    for (const [molt, m] of missing) problems.push({ molt, text: notInChain(m.first, m.count) })
  }
  return problems
}

/** Restore's choice of the files it takes from the chain: those of the molts restored and, with --only, of those components. */
export function takenFromChain(molts: ReadonlySet<string>, only: ReadonlySet<Component> | null): (molt: string, rel: string) => boolean {
  return (molt, rel) => {
    if (!molts.has(molt)) return false
    if (!only) return true
    const component = componentOf(rel, false)
    return !!component && only.has(component)
  }
}

/** The line for a file the chain holds with other content (digests as 32 latin1 characters, shown as hex). */
export function otherContent(member: string, from: string, archive: string, digest: string, recorded: string): string {
  const hex = (binary: string) => Buffer.from(binary, 'latin1').toString('hex').slice(0, 12)
  return `broken chain: ${shownName(member)} in ${basename(from)} is not the content ${basename(archive)} left to its chain (sha256 ${hex(digest)}…, recorded ${hex(recorded)}…)`
}

/** The line for files (`count`, the first one named) left to the chain that no archive of it holds. */
export function notInChain(first: string, count: number): string {
  return `broken chain: ${shownName(first)}${count > 1 ? ` and ${count - 1} more file(s)` : ''} unchanged since an earlier archive, but no archive of the chain holds it`
}

function moltOf(name: string): string {
  return name.slice(0, name.indexOf('/'))
}
