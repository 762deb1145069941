import { closeSync, openSync, readFileSync, statSync } from 'node:fs'
import { basename, dirname } from 'node:path'
import { writeFileAtomic } from '../lib/atomic.ts'
import { renderFamilies, type Labels, type MetricFamily } from './exposition.ts'
import { parseExposition, type ParsedFamily } from './parse.ts'

/**
 * node_exporter's textfile collector reads every *.prom file of its folder at each scrape, so a
 * file must change atomically (temp file + rename in the same folder: a scrape never sees half a
 * file). Several writers may share one file — `health watch` of each molt, `check --all`,
 * `fleet backup` — so a write is a merge: read the file, drop the series this writer replaces,
 * add its own, write it back. Writers take turns through flock(2) on the folder itself (no lock
 * file to own or clean up), waiting up to 2 s; a writer that cannot get its turn writes anyway:
 * a lost update costs one interval, a missing one costs more.
 */
export interface TextfileUpdate {
  families: MetricFamily[]
  /** which existing series to drop: called for every sample of the file */
  replaces(family: string, labels: Labels): boolean
  /** families named here come first, in this order, whoever wrote them last; the rest follow as found */
  order?: readonly string[]
}

export interface TextfileResult {
  path: string
  /** the old content could not be read as metrics and was replaced whole */
  warning?: string
}

export const PROM_SUFFIX = '.prom'

/** Where a --prom-file may go; the message names the problem. null when fine. */
export function promFileProblem(path: string): string | null {
  if (!basename(path).endsWith(PROM_SUFFIX) || basename(path) === PROM_SUFFIX) return `${path}: the file name must end with ${PROM_SUFFIX} (the textfile collector reads only *${PROM_SUFFIX} files)`
  try {
    if (!statSync(dirname(path)).isDirectory()) return `${dirname(path)} is not a folder`
  } catch {
    return `folder ${dirname(path)} does not exist (point --prom-file into node_exporter's --collector.textfile.directory)`
  }
  return null
}

export async function updateTextfile(path: string, update: TextfileUpdate): Promise<TextfileResult> {
  const release = await lockFolder(dirname(path))
  try {
    const result: TextfileResult = { path }
    let existing: ParsedFamily[] = []
    try {
      existing = parseExposition(readFileSync(path, 'utf8'))
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      if (code !== 'ENOENT') result.warning = `${path} could not be read as metrics (${code ?? (error as Error).message}); writing it afresh`
    }
    writeFileAtomic(path, mergeFamilies(existing, update), { mode: 0o644 })
    return result
  } finally {
    release()
  }
}

/** The file's families with the replaced series taken out and the update's put in; update's HELP and TYPE win. */
export function mergeFamilies(existing: readonly ParsedFamily[], update: TextfileUpdate): string {
  const out: MetricFamily[] = []
  const byName = new Map<string, MetricFamily>()
  for (const f of existing) {
    const kept = f.samples.filter((s) => !update.replaces(f.name, s.labels))
    const family: MetricFamily = { name: f.name, help: f.help ?? '', type: f.type, samples: kept.map((s) => (s.name === f.name ? { labels: s.labels, value: s.value } : { labels: s.labels, value: s.value, name: s.name })) }
    byName.set(f.name, family)
    out.push(family)
  }
  for (const f of update.families) {
    const old = byName.get(f.name)
    if (old) {
      old.help = f.help
      old.type = f.type
      old.samples.push(...f.samples)
    } else {
      const family = { ...f, samples: [...f.samples] }
      byName.set(f.name, family)
      out.push(family)
    }
  }
  const rank = (name: string) => {
    const i = update.order?.indexOf(name) ?? -1
    return i < 0 ? Number.MAX_SAFE_INTEGER : i
  }
  return renderFamilies(out.map((f, i) => ({ f, i })).sort((a, b) => rank(a.f.name) - rank(b.f.name) || a.i - b.i).map(({ f }) => f))
}

// --- flock(2) on the folder -------------------------------------------------------------------

let libc: typeof import('../lib/libc.ts') | undefined

async function lockFolder(dir: string, waitMs = 2000): Promise<() => void> {
  let fd: number
  try {
    fd = openSync(dir, 'r')
  } catch {
    return () => {}
  }
  try {
    libc ??= await import('../lib/libc.ts')
    libc.sys()
  } catch {
    closeSync(fd)
    return () => {}
  }
  const end = performance.now() + waitMs
  const { sys, LOCK_EX, LOCK_NB } = libc
  while (sys().flock(fd, LOCK_EX | LOCK_NB) !== 0) {
    if (performance.now() >= end) break
    await Bun.sleep(10)
  }
  // closing the descriptor releases the lock (or nothing, when the wait ran out)
  return () => closeSync(fd)
}
