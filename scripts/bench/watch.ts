/**
 * `bun scripts/bench/watch.ts [--runs N]`: what `clmnt molt health watch` costs as a whole process
 * on a healthy molt, next to `check` (goal: watch ≤ 1.2× check). The watch does the same check
 * plus the lock, the state file and the log line; nothing is due, so neither zod nor nodemailer
 * may load. Every process is timed from spawn to exit, after one unmeasured warm-up run.
 * Not a test: it prints medians and the ratio and never fails on a miss.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { availableParallelism, cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { createDemoFleet, type DemoFleet } from '../../src/demo/fleet.ts'

const { values } = parseArgs({ options: { runs: { type: 'string', default: '25' } } })
const RUNS = Number(values.runs)
if (!Number.isInteger(RUNS) || RUNS < 1) throw new Error(`--runs wants a positive integer, got ${values.runs}`)

const ROOT = join(import.meta.dir, '..', '..')
const tmp = mkdtempSync(join(tmpdir(), 'clmnt-bench-watch-'))
let fleet: DemoFleet | undefined
const cleanup = () => {
  fleet?.stop()
  rmSync(tmp, { recursive: true, force: true })
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => (cleanup(), process.exit(130)))

const median = (sorted: number[]) => (sorted.length % 2 ? sorted[(sorted.length - 1) / 2]! : (sorted[sorted.length / 2 - 1]! + sorted[sorted.length / 2]!) / 2)
const p90 = (sorted: number[]) => sorted[Math.max(0, Math.ceil(0.9 * sorted.length) - 1)]!
const notes: string[] = []

function once(argv: string[], env: Record<string, string>): { ms: number; code: number | null; said: string } {
  const started = performance.now()
  const result = Bun.spawnSync(argv, { env: { ...process.env, NO_COLOR: '1', ...env }, stdout: 'pipe', stderr: 'pipe' })
  return { ms: performance.now() - started, code: result.exitCode, said: `${result.stderr.toString()}${result.stdout.toString()}`.trim().split('\n')[0] ?? '' }
}

/** Runs alternate between the commands so drift in the machine's load hits both alike. */
function timeAll(commands: [string, string[]][], env: Record<string, string>): Map<string, number[]> {
  const samples = new Map(commands.map(([name]) => [name, [] as number[]]))
  for (const [name, argv] of commands) {
    const warm = once(argv, env)
    if (warm.code !== 0) notes.push(`${name}: exit ${warm.code}: ${warm.said}`)
  }
  for (let i = 0; i < RUNS; i++) for (const [name, argv] of commands) samples.get(name)!.push(once(argv, env).ms)
  for (const list of samples.values()) list.sort((a, b) => a - b)
  return samples
}

try {
  process.stderr.write(`building the compiled binary into ${tmp} …\n`)
  const binary = join(tmp, 'clmnt')
  const build = Bun.spawnSync([process.execPath, join(ROOT, 'scripts', 'build.ts'), binary], { stdout: 'pipe', stderr: 'pipe' })
  if (build.exitCode !== 0) throw new Error(`bun scripts/build.ts failed:\n${build.stderr.toString()}`)
  const dir = join(tmp, 'fleet')
  mkdirSync(dir)
  fleet = await createDemoFleet(dir, [{ name: 'alpha', mode: 'healthy' }])
  // a fleet config as a real host has one: the watch reads it on every run
  writeFileSync(join(dir, 'clmnt.json'), JSON.stringify({ alert_emails: ['ops@example.org'], consecutive_failures: 2, remind: '1h' }), { mode: 0o600 })
  const env = { CLMNT_BASE_DIR: dir }

  process.stderr.write(`timing ${RUNS} runs of each …\n`)
  const samples = timeAll([
    ['check alpha (compiled)', [binary, 'molt', 'health', 'check', 'alpha']],
    ['watch alpha (compiled)', [binary, 'molt', 'health', 'watch', 'alpha']],
    ['watch alpha --interval 5 --restart (compiled)', [binary, 'molt', 'health', 'watch', 'alpha', '--interval', '5', '--restart']],
    ['check alpha (source)', [process.execPath, join(ROOT, 'src', 'cli.ts'), 'molt', 'health', 'check', 'alpha']],
    ['watch alpha (source)', [process.execPath, join(ROOT, 'src', 'cli.ts'), 'molt', 'health', 'watch', 'alpha']],
  ], env)

  const check = median(samples.get('check alpha (compiled)')!)
  const checkSource = median(samples.get('check alpha (source)')!)
  console.log(`\nmachine: ${availableParallelism()} CPUs (${cpus()[0]?.model ?? '?'}), bun ${Bun.version}, ${RUNS} runs per row, healthy molt`)
  console.log(`\n${'case'.padEnd(48)}  ${'median ms'.padStart(9)}  ${'p90 ms'.padStart(7)}  ratio to check`)
  for (const [name, list] of samples) {
    const base = name.endsWith('(source)') ? checkSource : check
    const ratio = median(list) / base
    // the goal is for the compiled binary cron runs; from source, transpiling the extra modules shows
    const verdict = !name.startsWith('watch') ? '-' : name.endsWith('(source)') ? `${ratio.toFixed(2)}× (for reference)` : `${ratio.toFixed(2)}× ${ratio <= 1.2 ? 'ok' : 'MISS'} (goal ≤ 1.2×)`
    console.log(`${name.padEnd(48)}  ${median(list).toFixed(1).padStart(9)}  ${p90(list).toFixed(1).padStart(7)}  ${verdict}`)
  }
  for (const note of notes) console.log(`note: ${note}`)
} finally {
  cleanup()
}
