/**
 * `bun run bench:openclaw [--runs N]`: `clmnt molt health check` on a real, healthy OpenClaw
 * 2026.9.6 gateway (installed by scripts/install-openclaw.sh), as whole processes, next to the
 * bash+curl check it replaces (scripts/bench/health-check.sh: gateway.pid, ps, GET /health).
 * clmnt does more per run (the gateway's lock file, GET /health and GET /readyz, history line):
 * the ratio says what that costs. Not a test: it prints medians and never fails on a figure.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { availableParallelism, cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { freePort } from '../../src/demo/fleet.ts'
import { writeRegistry } from '../../src/fleet/registry.ts'
import { killGateway, startReady, waitForExit, writeRealConfig } from '../../test/helpers/openclaw.ts'

const { values } = parseArgs({ options: { runs: { type: 'string' } } })
const RUNS = values.runs ? Number(values.runs) : 15
if (!Number.isInteger(RUNS) || RUNS < 1) throw new Error(`--runs wants a positive integer, got ${values.runs}`)
const ROOT = join(import.meta.dir, '..', '..')
const tmp = mkdtempSync(join(tmpdir(), 'clmnt-bench-openclaw-'))
const progress = (text: string) => process.stderr.write(`${text}\n`)
let gatewayPid: number | null = null

function cleanup(): void {
  if (gatewayPid) killGateway(gatewayPid)
  rmSync(tmp, { recursive: true, force: true })
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    cleanup()
    process.exit(130)
  })
}

function time(argv: string[], env: Record<string, string> = {}): { median: number; p90: number; exit: number } {
  const once = () => {
    const started = performance.now()
    const result = Bun.spawnSync(argv, { env: { ...process.env, NO_COLOR: '1', ...env }, stdout: 'pipe', stderr: 'pipe' })
    return { ms: performance.now() - started, exit: result.exitCode }
  }
  const exit = once().exit // warm-up, unmeasured
  const samples = Array.from({ length: RUNS }, () => once().ms).sort((a, b) => a - b)
  const median = RUNS % 2 ? samples[(RUNS - 1) / 2]! : (samples[RUNS / 2 - 1]! + samples[RUNS / 2]!) / 2
  return { median, p90: samples[Math.max(0, Math.ceil(0.9 * RUNS) - 1)]!, exit }
}

try {
  const home = join(tmp, 'mybot')
  mkdirSync(home, { mode: 0o700 })
  const port = await freePort()
  writeRealConfig(home, { port, gatewayToken: 'bench-token' })
  writeFileSync(join(home, '.molt-info'), `MOLT_NAME=mybot\nMOLT_PORT=${port}\n`)
  writeRegistry(tmp, { version: '1', molts: { mybot: { name: 'mybot', home, created: '2026-12-01' } } })
  progress(`starting a real gateway in ${home} (20-60 s) …`)
  const started = performance.now()
  const gateway = await startReady(home, port, { onStart: (pid) => (gatewayPid = pid) })
  gatewayPid = gateway.pid
  progress(`  ready in ${((performance.now() - started) / 1000).toFixed(1)} s (PID ${gateway.pid})`)
  // the bash toolkit reads gateway.pid only; clmnt finds the PID in the gateway's lock without it
  const bashHome = join(tmp, 'bash')
  mkdirSync(join(bashHome, '.openclaw'), { recursive: true })
  writeFileSync(join(bashHome, '.openclaw', 'gateway.pid'), `${gateway.pid}\n`)

  progress('building the compiled binary …')
  const binary = join(tmp, 'clmnt')
  const build = Bun.spawnSync([process.execPath, join(ROOT, 'scripts', 'build.ts'), binary], { stdout: 'pipe', stderr: 'pipe' })
  if (build.exitCode !== 0) throw new Error(`bun scripts/build.ts failed:\n${build.stderr.toString()}`)

  progress(`timing, ${RUNS} runs each …`)
  const env = { CLMNT_BASE_DIR: tmp }
  const rows: [string, ReturnType<typeof time>][] = [
    ['bash health-check.sh (gateway.pid, ps, curl /health)', time(['bash', join(import.meta.dir, 'health-check.sh'), bashHome, String(port)])],
    ['clmnt compiled: check mybot (lock, /health, /readyz)', time([binary, 'molt', 'health', 'check', 'mybot'], env)],
    ['clmnt source:   check mybot', time([process.execPath, join(ROOT, 'src', 'cli.ts'), 'molt', 'health', 'check', 'mybot'], env)],
  ]
  const bash = rows[0]![1].median
  console.log(`\nmachine: ${availableParallelism()} CPUs (${cpus()[0]?.model ?? '?'}), bun ${Bun.version}, openclaw 2026.9.6 on Node 24, ${RUNS} runs per row`)
  for (const [name, r] of rows) {
    const ratio = name.startsWith('bash') ? '' : `  ${(r.median / bash).toFixed(2)}× bash`
    console.log(`${name.padEnd(56)} median ${r.median.toFixed(1).padStart(7)} ms  p90 ${r.p90.toFixed(1).padStart(7)} ms  exit ${r.exit}${ratio}`)
  }
} finally {
  const pid = gatewayPid
  cleanup()
  if (pid) await waitForExit(pid, 30_000)
}
