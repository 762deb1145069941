/**
 * `bun scripts/bench/fleet-realistic.ts [--scale 1] [--runs 1] [--dir /tmp] [--select molt07] [--restore-rounds 3]`: issue 18's
 * side-by-side on the realistic fleet of fleet-gen.ts (20 molts, ~1 GB: RFC 5322 mail with quoted
 * replies and base64 attachments, JSONL sessions and health history, markdown skills), in one run:
 *
 *   full backup      clmnt fleet backup (gzip, then --compression zstd) | tar -czf | tar -cf - | pigz | restic backup (first)
 *   1% churn         clmnt fleet backup --incremental (when this clmnt has it) | restic backup (second)
 *   restore          clmnt fleet restore (all molts) | tar -xzf of the same archive | restic restore
 *   chain restore    clmnt fleet restore --from <the incremental> (when there is one)
 *   one molt         clmnt fleet restore --select molt07 (through the molt index) against the full restore
 *
 * Every command runs as a whole process (the compiled binary) under GNU time for its peak RSS; the
 * fleet and the archives stay in the page cache. Prints wall times, ratios and peak RSS next to the
 * issue's goals; never fails on a miss. On a shared machine, run it twice and look at both.
 *
 * The restores run `--restore-rounds` times (default 3), tar and clmnt in turn, each into a folder
 * of its own: medians are compared, and nothing is deleted until the end. On ext4 without a journal
 * (this VM's disk) a new inode skips every inode freed in the last minute or more (`recently_deleted`
 * in the kernel): after deleting a restored fleet, the next restore's file creation took ~10× as
 * long, for tar and clmnt alike. Run it a few minutes after deleting much (an earlier run's cleanup).
 */
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs'
import { availableParallelism, cpus, totalmem } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { churn, generateFleet } from './fleet-gen.ts'
import { benchWorkdir } from './workdir.ts'

const { values } = parseArgs({ options: { scale: { type: 'string' }, runs: { type: 'string' }, dir: { type: 'string' }, select: { type: 'string' }, 'restore-rounds': { type: 'string' } } })
const SCALE = values.scale ? Number(values.scale) : 1
const RUNS = values.runs ? Number(values.runs) : 1
const SELECT = values.select ?? 'molt07'
const ROUNDS = Number(values['restore-rounds'] ?? 3)
const ROOT = join(import.meta.dir, '..', '..')
const { tmp, cleanup } = benchWorkdir('clmnt-bench-realistic-', values.dir)
const progress = (text: string) => process.stderr.write(`${text}\n`)

interface Measured {
  wallMs: number
  rssKb: number
  /** user + system CPU seconds of the whole run (all processes, all threads): less at the mercy of a loaded host than wall time */
  cpuS: number
}

/** Wall time from spawn to exit, peak RSS (%M: the largest process of the run) and CPU time from GNU time. */
async function measure(label: string, argv: string[], env: Record<string, string> = {}): Promise<Measured> {
  const runs: Measured[] = []
  for (let run = 0; run < RUNS; run++) {
    progress(`${label}${RUNS > 1 ? ` (run ${run + 1}/${RUNS})` : ''} …`)
    const rssFile = join(tmp, `rss-${Date.now()}`)
    // the previous command's dirty pages are written out first, or their writeback lands on this one (sys time)
    Bun.spawnSync(['sync'])
    const started = performance.now()
    const child = Bun.spawn(['/usr/bin/time', '-f', '%M %U %S', '-o', rssFile, ...argv], { env: { ...process.env, NO_COLOR: '1', ...env }, stdout: 'ignore', stderr: 'pipe' })
    const stderr = await new Response(child.stderr).text()
    const code = await child.exited
    const wallMs = performance.now() - started
    if (code !== 0) throw new Error(`${label}: ${argv.join(' ')} exited ${code}: ${stderr}`)
    const [rssKb, user, sys] = (await Bun.file(rssFile).text()).trim().split('\n').pop()!.split(' ').map(Number) as [number, number, number]
    runs.push({ wallMs, rssKb, cpuS: user + sys })
    if (run + 1 < RUNS) await between?.()
  }
  runs.sort((a, b) => a.wallMs - b.wallMs)
  const median = runs[Math.floor(runs.length / 2)]!
  return { wallMs: median.wallMs, cpuS: median.cpuS, rssKb: Math.max(...runs.map((r) => r.rssKb)) }
}
/** what must happen between two runs of the same command (empty the target) */
let between: (() => Promise<void> | void) | undefined

function sizeOf(path: string): number {
  const st = statSync(path)
  if (!st.isDirectory()) return st.size
  let total = 0
  for (const entry of readdirSync(path, { withFileTypes: true, recursive: true })) if (entry.isFile()) total += statSync(join(entry.parentPath, entry.name)).size
  return total
}

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`
const sec = (ms: number) => `${(ms / 1000).toFixed(2)} s`
const rss = (m: Measured) => `${(m.rssKb / 1024).toFixed(0)} MB`
const fresh = (name: string) => {
  const dir = join(tmp, name)
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir)
  return dir
}
const newest = (dir: string) => join(dir, readdirSync(dir).filter((n) => !n.endsWith('.partial')).sort().at(-1)!)

try {
  for (const tool of ['/usr/bin/time', '/usr/bin/pigz', '/usr/bin/restic']) if (!existsSync(tool)) throw new Error(`${tool} is needed (Debian: time, pigz, restic)`)
  progress(`building the compiled binary into ${tmp} …`)
  const clmnt = join(tmp, 'clmnt')
  const build = Bun.spawnSync([process.execPath, join(ROOT, 'scripts', 'build.ts'), clmnt], { stdout: 'pipe', stderr: 'pipe' })
  if (build.exitCode !== 0) throw new Error(`bun scripts/build.ts failed:\n${build.stderr.toString()}${build.stdout.toString()}`)
  const help = Bun.spawnSync([clmnt, 'fleet', 'backup', '--help']).stdout.toString()
  const hasIncremental = help.includes('--incremental')

  progress('generating the realistic fleet (20 molts, ~1 GB) …')
  const fleetDir = fresh('fleet')
  const generated = performance.now()
  const fleet = generateFleet(fleetDir, { scale: SCALE })
  progress(`  ${fleet.files} files, ${mb(fleet.bytes)} (${mb(fleet.randomBytes)} in messages with attachments) in ${sec(performance.now() - generated)}`)
  const molts = fleet.molts
  const rows: string[][] = []
  const row = (what: string, m: Measured | null, size: string, ratio: string, goal: string) => rows.push([what, m ? sec(m.wallMs) : '-', m ? `${m.cpuS.toFixed(2)} s` : '-', m ? rss(m) : '-', size, ratio, goal])
  const judge = (ok: boolean) => (ok ? 'ok' : 'MISS')
  const rssOk = (m: Measured) => m.rssKb <= 150 * 1024

  // 1. full backups
  const tarOut = fresh('tar')
  between = () => rmSync(join(tarOut, 'fleet.tar.gz'), { force: true })
  const tarC = await measure('tar -czf', ['tar', '-czf', join(tarOut, 'fleet.tar.gz'), '-C', fleetDir, ...molts])
  const tarSize = statSync(join(tarOut, 'fleet.tar.gz')).size
  between = () => rmSync(join(tarOut, 'fleet-pigz.tar.gz'), { force: true })
  const pigz = await measure('tar | pigz', ['sh', '-c', `tar -cf - -C '${fleetDir}' ${molts.join(' ')} | pigz > '${join(tarOut, 'fleet-pigz.tar.gz')}'`])
  const pigzSize = statSync(join(tarOut, 'fleet-pigz.tar.gz')).size
  const repo = join(tmp, 'restic-repo')
  const resticEnv = { RESTIC_PASSWORD: 'bench', RESTIC_REPOSITORY: repo, RESTIC_CACHE_DIR: join(tmp, 'restic-cache') }
  between = () => {
    rmSync(repo, { recursive: true, force: true })
    Bun.spawnSync(['restic', 'init', '--quiet'], { env: { ...process.env, ...resticEnv } })
  }
  await between()
  const restic1 = await measure('restic backup (first)', ['restic', 'backup', '--quiet', '--host', 'bench', fleetDir], resticEnv)
  const resticSize1 = sizeOf(repo)
  const gzOut = fresh('backups-gz')
  between = () => void fresh('backups-gz')
  const full = await measure('clmnt fleet backup', [clmnt, 'fleet', 'backup', '-d', fleetDir, '--output', gzOut, '-q'])
  const archive = newest(gzOut)
  const archiveSize = statSync(archive).size
  const zstOut = fresh('backups-zst')
  between = () => void fresh('backups-zst')
  const fullZstd = await measure('clmnt fleet backup --compression zstd', [clmnt, 'fleet', 'backup', '-d', fleetDir, '--output', zstOut, '--compression', 'zstd', '-q'])
  const zstSize = statSync(newest(zstOut)).size
  const vsRestic = (m: Measured) => `${(m.wallMs / restic1.wallMs).toFixed(2)}× restic first, ${(m.wallMs / tarC.wallMs).toFixed(2)}× tar -czf`
  row('tar -czf', tarC, mb(tarSize), '1.00× tar -czf', '')
  row('tar -cf - | pigz', pigz, mb(pigzSize), `${(pigz.wallMs / tarC.wallMs).toFixed(2)}× tar -czf`, '')
  row('restic backup (first)', restic1, mb(resticSize1), `${(restic1.wallMs / tarC.wallMs).toFixed(2)}× tar -czf`, '')
  row('clmnt fleet backup (gzip)', full, mb(archiveSize), vsRestic(full), `≤ restic first: ${judge(full.wallMs <= restic1.wallMs && rssOk(full))}`)
  row('clmnt fleet backup --compression zstd', fullZstd, mb(zstSize), vsRestic(fullZstd), `≤ restic first: ${judge(fullZstd.wallMs <= restic1.wallMs && rssOk(fullZstd))}`)

  // 2. 1% churn, then the second backups
  const changed = churn(fleetDir, molts, 0.01)
  progress(`churn: ${changed.files} files / ${mb(changed.bytes)} new or changed, ${changed.deleted} deleted`)
  between = undefined
  const restic2 = await measure('restic backup (second)', ['restic', 'backup', '--quiet', '--host', 'bench', fleetDir], resticEnv)
  const resticSize2 = sizeOf(repo) - resticSize1
  row('restic backup (second, 1% churn)', restic2, `+${mb(resticSize2)}`, '', '')
  let incremental: string | null = null
  if (hasIncremental) {
    const inc = await measure('clmnt fleet backup --incremental', [clmnt, 'fleet', 'backup', '-d', fleetDir, '--output', gzOut, '--incremental', '-q'])
    incremental = newest(gzOut)
    const incSize = statSync(incremental).size
    row('clmnt fleet backup --incremental', inc, mb(incSize), `${(inc.wallMs / restic2.wallMs).toFixed(2)}× restic second`, `≤ restic second, ≤ 2× changed: ${judge(inc.wallMs <= restic2.wallMs && incSize <= 2 * changed.bytes && rssOk(inc))}`)
  } else row('clmnt fleet backup --incremental', null, '-', 'PENDING: this clmnt has no --incremental yet (issue 18, requirement 1)', '')

  // 3. restores: tar -xzf of clmnt's archive, clmnt's full restore, one molt — in rounds, in turn,
  // each into a new folder (see the top: no delete while timing) — then restic's
  between = undefined
  const restores = { tar: [] as Measured[], all: [] as Measured[], one: [] as Measured[] }
  const restoreRuns: Record<keyof typeof restores, (into: string) => [string, string[]]> = {
    tar: (into) => ['tar -xzf', ['tar', '-xzf', archive, '-C', into]],
    all: (into) => ['clmnt fleet restore (all)', [clmnt, 'fleet', 'restore', '-d', into, '--from', archive, '--skip-users', '--skip-cron', '--yes', '--quiet']],
    one: (into) => [`clmnt fleet restore --select ${SELECT}`, [clmnt, 'fleet', 'restore', '-d', into, '--from', archive, '--select', SELECT, '--skip-users', '--skip-cron', '--yes', '--quiet']],
  }
  const order = Object.keys(restoreRuns) as (keyof typeof restores)[]
  for (let round = 0; round < ROUNDS; round++) {
    for (let k = 0; k < order.length; k++) {
      const which = order[(k + round) % order.length]!
      const [label, argv] = restoreRuns[which](fresh(`${which}-${round}`))
      restores[which].push(await measure(`${label} (round ${round + 1}/${ROUNDS})`, argv))
    }
  }
  const median = (runs: Measured[]): Measured => {
    const sorted = [...runs].sort((a, b) => a.wallMs - b.wallMs)
    return { ...sorted[Math.floor(sorted.length / 2)]!, rssKb: Math.max(...runs.map((r) => r.rssKb)) }
  }
  const walls = (runs: Measured[]) => runs.map((r) => (r.wallMs / 1000).toFixed(2)).join(' / ')
  const untar = median(restores.tar)
  const restoreAll = median(restores.all)
  const restoreOne = median(restores.one)
  const resticRestore = await measure('restic restore', ['restic', 'restore', 'latest', '--quiet', '--target', fresh('restic-x')], resticEnv)
  row(`tar -xzf (clmnt's archive; ${walls(restores.tar)} s)`, untar, '', '1.00× tar -xzf', '')
  row('restic restore', resticRestore, '', `${(resticRestore.wallMs / untar.wallMs).toFixed(2)}× tar -xzf`, '')
  row(`clmnt fleet restore (all; ${walls(restores.all)} s)`, restoreAll, '', `${(restoreAll.wallMs / untar.wallMs).toFixed(2)}× tar -xzf`, `≤ 1.0× tar -xzf: ${judge(restoreAll.wallMs <= untar.wallMs && rssOk(restoreAll))}`)
  row(`clmnt fleet restore --select ${SELECT} (${walls(restores.one)} s)`, restoreOne, '', `${(restoreOne.wallMs / restoreAll.wallMs).toFixed(2)}× full restore`, `≤ 0.1× full restore: ${judge(restoreOne.wallMs <= 0.1 * restoreAll.wallMs && rssOk(restoreOne))}`)
  if (incremental) {
    const chain = fresh('chain')
    const restoreChain = await measure('clmnt fleet restore --from <incremental>', [clmnt, 'fleet', 'restore', '-d', chain, '--from', incremental, '--skip-users', '--skip-cron', '--yes', '--quiet'])
    row('clmnt fleet restore (chain)', restoreChain, '', `${(restoreChain.wallMs / untar.wallMs).toFixed(2)}× tar -xzf`, `peak RSS ≤ 150 MB: ${judge(rssOk(restoreChain))}`)
  } else row('clmnt fleet restore (chain)', null, '', 'PENDING: needs --incremental', '')

  const head = ['case', 'wall', 'CPU', 'peak RSS', 'size', 'ratio (wall)', 'goal (wall)']
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()
  console.log(`\nmachine: ${availableParallelism()} CPUs (${cpus()[0]?.model ?? '?'}), ${Math.round(totalmem() / 2 ** 30)} GiB, bun ${Bun.version}; load ${(await Bun.file('/proc/loadavg').text()).split(' ').slice(0, 3).join(' ')}`)
  console.log(`working in ${tmp} (${Bun.spawnSync(['stat', '-f', '-c', '%T', tmp]).stdout.toString().trim()}); page cache warm; ${RUNS} run(s) each, median; restores: ${ROUNDS} round(s) in turn, median`)
  console.log(`fleet: 20 molts, ${fleet.files} files, ${mb(fleet.bytes)}; churn: ${changed.files} files / ${mb(changed.bytes)} new or changed, ${changed.deleted} deleted`)
  console.log('goals (issue 18): full backup ≤ restic first; restore ≤ 1.0× tar -xzf; one-molt restore ≤ 0.1× full restore; incremental ≤ restic second and ≤ 2× changed bytes; peak RSS ≤ 150 MB\n')
  console.log(line(head))
  console.log(line(widths.map((w) => '-'.repeat(w))))
  for (const r of rows) console.log(line(r))
} finally {
  cleanup()
}
