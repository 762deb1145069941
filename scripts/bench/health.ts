/**
 * `bun run bench:health [--runs N] [--quick]`: what `clmnt molt health` costs as whole processes,
 * against real fake gateways and real files, next to the bash script it replaces.
 * Not a test: it prints medians and ratios against the goals and never fails on a miss.
 * Every process is timed from spawn to exit (wall time), after one unmeasured warm-up run that
 * pages in the 100 MB binary and the files, as cron would find them on a busy host.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { availableParallelism, cpus, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { createDemoFleet, type DemoFleet, type DemoMoltSpec } from '../../src/demo/fleet.ts'
import { historyFile, stateDir } from '../../src/health/paths.ts'
import { historyLine, type HealthRecord } from '../../src/health/record.ts'

const { values } = parseArgs({ options: { runs: { type: 'string' }, quick: { type: 'boolean' } } })
const RUNS = values.runs ? Number(values.runs) : values.quick ? 5 : 15
if (!Number.isInteger(RUNS) || RUNS < 1) throw new Error(`--runs wants a positive integer, got ${values.runs}`)

const ROOT = join(import.meta.dir, '..', '..')
const BASH_CHECK = join(import.meta.dir, 'health-check.sh')
const tmp = mkdtempSync(join(tmpdir(), 'clmnt-bench-'))
const fleets: DemoFleet[] = []
let cleaned = false

/** Gateways are real processes: they must not outlive the bench, whatever ends it. */
function cleanup(): void {
  if (cleaned) return
  cleaned = true
  for (const fleet of fleets) fleet.stop()
  rmSync(tmp, { recursive: true, force: true })
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    cleanup()
    process.exit(130)
  })
}

interface Row {
  name: string
  runner: string
  median: number
  p90: number
  /** ms, or a fraction of the bash time for case 1; null for reference rows */
  goal: number | null
  vsBash?: number
}
const rows: Row[] = []
const notes: string[] = []
const progress = (text: string) => process.stderr.write(`${text}\n`)

/** Nearest-rank percentile of sorted samples; the median of an even count is the mean of the middle two. */
function percentile(sorted: number[], p: number): number {
  if (p === 0.5 && sorted.length % 2 === 0) return (sorted[sorted.length / 2 - 1]! + sorted[sorted.length / 2]!) / 2
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)]!
}

function time(argv: string[], options: { env?: Record<string, string>; runs?: number; expect?: number } = {}): { median: number; p90: number } {
  const once = () => {
    const started = performance.now()
    const result = Bun.spawnSync(argv, { env: { ...process.env, NO_COLOR: '1', ...options.env }, stdout: 'pipe', stderr: 'pipe' })
    return { ms: performance.now() - started, result }
  }
  const warm = once().result
  // a figure for a run that did the wrong thing is worse than none: say so next to the table
  if (options.expect !== undefined && warm.exitCode !== options.expect) {
    const said = `${warm.stderr.toString()}${warm.stdout.toString()}`.trim().split('\n')[0]
    notes.push(`${argv.slice(-6).join(' ')}: exit ${warm.exitCode}, expected ${options.expect}: ${said}`)
  }
  const samples = Array.from({ length: options.runs ?? RUNS }, () => once().ms).sort((a, b) => a - b)
  return { median: percentile(samples, 0.5), p90: percentile(samples, 0.9) }
}

async function startFleet(dir: string, specs: DemoMoltSpec[]): Promise<DemoFleet> {
  mkdirSync(dir)
  const fleet = await createDemoFleet(dir, specs)
  fleets.push(fleet)
  return fleet
}

/** mulberry32: the same "year" on every machine, so history figures compare across runs. */
function seeded(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/**
 * A year of 5-minute checks (105,120 lines) ending now, as `health watch` writes them: answers in
 * a few ms with rare slow spikes, ~40 incidents of 5 min to 3 h (hangs, HTTP 500s, crashes
 * followed by a restart under a new PID).
 */
function writeYearOfHistory(home: string, port: number): number {
  const random = seeded(2026)
  const STEP = 5 * 60_000
  const COUNT = 105_120
  const start = Math.floor(Date.now() / STEP) * STEP - (COUNT - 1) * STEP
  const gaussian = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random())
  const round = (ms: number) => Math.round(ms * 10) / 10
  let pid = 41_000
  let left = 0
  let kind = 0
  const lines: string[] = []
  for (let i = 0; i < COUNT; i++) {
    // field order is probe.ts's: the file must look like the real thing
    const record = (status: HealthRecord['status'], http: number | null, ms: number | null, reason: string | null): HealthRecord => ({
      timestamp: new Date(start + i * STEP).toISOString(), status, pid, port, http_status: http, response_time_ms: ms, reason,
    })
    if (!left && random() < 1 / 2500) [left, kind] = [1 + Math.floor(random() ** 2 * 36), Math.floor(random() * 3)]
    if (!left) {
      const spike = random() < 0.01 ? 20 + random() * 200 : 1
      lines.push(historyLine(record('healthy', 200, round(Math.exp(Math.log(2.5) + 0.5 * gaussian()) * spike), null)))
      continue
    }
    left--
    if (kind === 0) lines.push(historyLine(record('unhealthy', null, null, 'no answer within 5000 ms')))
    else if (kind === 1) lines.push(historyLine(record('unhealthy', 500, round(5 + random() * 40), 'HTTP 500')))
    else lines.push(historyLine(record('dead', null, null, `PID ${pid} from gateway.pid is not running`)))
    if (!left && kind === 2) pid += 1 + Math.floor(random() * 900)
  }
  mkdirSync(stateDir(home), { recursive: true })
  writeFileSync(historyFile(home), lines.join(''))
  return lines.length
}

/** Resident memory of the fleet's gateways: 100 Bun processes are the bench's own biggest cost. */
function fleetRssMb(fleet: DemoFleet): number {
  let kb = 0
  for (const molt of fleet.molts) {
    try {
      kb += Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${molt.pid}/status`, 'utf8'))?.[1] ?? 0)
    } catch {}
  }
  return Math.round(kb / 1024)
}

function printTable(reference: string): void {
  const fmt = (ms: number) => (ms < 100 ? ms.toFixed(1) : ms.toFixed(0))
  const table = rows.map((r) => {
    const ratio = r.vsBash !== undefined ? r.median / r.vsBash : r.goal ? r.median / r.goal : null
    const goal = r.goal === null ? '-' : r.vsBash !== undefined ? `≤ ${r.goal}× bash` : `≤ ${r.goal} ms`
    const limit = r.vsBash !== undefined ? r.goal : 1
    const shown = ratio === null ? '-' : `${ratio.toFixed(2)}× ${r.vsBash !== undefined ? 'bash' : 'goal'}`
    return [r.name, r.runner, fmt(r.median), fmt(r.p90), goal, shown, r.goal === null || ratio === null ? '' : ratio <= limit! ? 'ok' : 'MISS']
  })
  const head = ['case', 'runner', 'median ms', 'p90 ms', 'goal', 'ratio', 'ok/miss']
  const widths = head.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)))
  const line = (cells: string[]) => cells.map((c, i) => (i === 2 || i === 3 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd()
  console.log(`\nmachine: ${availableParallelism()} CPUs (${cpus()[0]?.model ?? '?'}), ${Math.round(totalmem() / 2 ** 30)} GiB, bun ${Bun.version}, ${RUNS} runs per row`)
  console.log(reference)
  console.log(`\n${line(head)}\n${line(widths.map((w) => '-'.repeat(w)))}`)
  for (const row of table) console.log(line(row))
  for (const note of notes) console.log(`note: ${note}`)
}

try {
  progress(`building the compiled binary into ${tmp} …`)
  const binary = join(tmp, 'clmnt')
  const build = Bun.spawnSync([process.execPath, join(ROOT, 'scripts', 'build.ts'), binary], { stdout: 'pipe', stderr: 'pipe' })
  if (build.exitCode !== 0) throw new Error(`bun scripts/build.ts failed:\n${build.stderr.toString()}${build.stdout.toString()}`)
  const runners: [string, string[]][] = [
    ['compiled', [binary]],
    ['source', [process.execPath, join(ROOT, 'src', 'cli.ts')]],
  ]

  // a small fleet, as most hosts have: one healthy molt, one hung, one stopped that holds the year of history
  const small = await startFleet(join(tmp, 'small'), [
    // with gateway.pid: the bash reference reads nothing else
    { name: 'alpha', mode: 'healthy', pidFile: true },
    { name: 'stuck', mode: 'hang' },
    { name: 'year', mode: 'stopped' },
  ])
  const [alpha, , year] = small.molts as [DemoFleet['molts'][number], unknown, DemoFleet['molts'][number]]
  const env = { CLMNT_BASE_DIR: small.baseDir }

  progress('reference: bare bun, bash script …')
  const bareBun = time([process.execPath, '-e', ''])
  // `bun -e ''` measured ~2 ms here against ~7 ms for `-e 0`: an empty script seems to skip most of the start-up
  const bunZero = time([process.execPath, '-e', '0'])
  const bash = time(['bash', BASH_CHECK, alpha.home, String(alpha.port)], { expect: 0 })
  const reference = `reference: bun -e '' ${bareBun.median.toFixed(1)} ms, bun -e 0 ${bunZero.median.toFixed(1)} ms, bash health-check.sh ${bash.median.toFixed(1)} ms (medians)`

  progress('case 1: check a healthy molt …')
  rows.push({ name: '1 check healthy', runner: 'bash+curl+ps', ...bash, goal: null })
  for (const [runner, argv] of runners) {
    rows.push({ name: '1 check healthy', runner, ...time([...argv, 'molt', 'health', 'check', 'alpha'], { env, expect: 0 }), goal: 0.5, vsBash: bash.median })
  }

  progress('case 2: check a hung molt, --timeout 1000 …')
  for (const [runner, argv] of runners) {
    rows.push({ name: '2 check hung', runner, ...time([...argv, 'molt', 'health', 'check', 'stuck', '--timeout', '1000'], { env, expect: 1 }), goal: 1200 })
  }

  // case 3 before case 4 so the 100 gateways live only as long as they are needed
  progress('case 3: starting 100 gateways (90 healthy, 10 hang) …')
  const started = performance.now()
  const specs = Array.from({ length: 100 }, (_, i): DemoMoltSpec => ({ name: `m${String(i).padStart(3, '0')}`, mode: i % 10 === 7 ? 'hang' : 'healthy' }))
  const hundred = await startFleet(join(tmp, 'hundred'), specs)
  progress(`  up in ${((performance.now() - started) / 1000).toFixed(1)} s, ${fleetRssMb(hundred)} MB resident; check --all …`)
  for (const [runner, argv] of runners) {
    const figures = time([...argv, 'molt', 'health', 'check', '--all', '--timeout', '1000'], { env: { CLMNT_BASE_DIR: hundred.baseDir }, expect: 1 })
    rows.push({ name: '3 check --all 100/10 hung', runner, ...figures, goal: 2500 })
  }
  hundred.stop()

  progress('case 4: history over a year of checks …')
  const lines = writeYearOfHistory(year.home, year.port)
  for (const [runner, argv] of runners) {
    rows.push({ name: `4 history ${lines} lines`, runner, ...time([...argv, 'molt', 'health', 'history', 'year'], { env, expect: 0 }), goal: 150 })
  }
  for (const [runner, argv] of runners) {
    const figures = time([...argv, 'molt', 'health', 'history', 'year', '--limit', '500', '--no-stats'], { env, expect: 0 })
    rows.push({ name: '4 history --limit 500 --no-stats', runner, ...figures, goal: 50 })
  }

  printTable(reference)
} finally {
  cleanup()
}
