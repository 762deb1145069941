/**
 * The demo: a throw-away fleet of five molts with real fake gateways on 127.0.0.1, one per health
 * state, and the commands an operator runs first. Nothing outside the temp folder is touched.
 *   bun run demo            run it, stop the gateways, keep the files
 *   bun run demo --keep     leave the gateways running until Ctrl-C, to try commands by hand
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createDemoFleet, type DemoMoltSpec } from '../src/demo/fleet.ts'

const CLI = join(import.meta.dir, '..', 'src', 'cli.ts')
const keep = process.argv.includes('--keep')
const bold = (text: string) => (process.stdout.isTTY ? `\x1b[1m${text}\x1b[22m` : text)

const SPECS: DemoMoltSpec[] = [
  { name: 'alpha', mode: 'healthy' },
  { name: 'bravo', mode: 'error' },
  { name: 'charlie', mode: 'hang' },
  { name: 'delta', mode: 'dead' },
  { name: 'echo', mode: 'stopped' },
]
const WHAT: Record<string, string> = {
  healthy: 'answers 200',
  error: 'answers HTTP 500',
  hang: 'accepts connections, never answers',
  dead: 'gateway.pid points at a process that exited',
  stopped: 'no gateway.pid, no process',
}

const baseDir = mkdtempSync(join(tmpdir(), 'clmnt-demo-'))
console.log(`${bold('clmnt demo')}: a fleet of ${SPECS.length} molts in ${baseDir}`)
const fleet = await createDemoFleet(baseDir, SPECS)
const stop = () => fleet.stop()
process.on('exit', stop)
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(0))
for (const molt of fleet.molts) console.log(`  ${molt.name.padEnd(8)} port ${molt.port}  ${WHAT[molt.mode]}`)

/** Run the real CLI, output straight to the terminal; exit 1 is expected when something is unhealthy. */
function clmnt(...args: string[]): void {
  console.log(`\n${bold(`$ clmnt ${args.join(' ')}`)}`)
  const result = spawnSync(process.execPath, [CLI, ...args, '--base-dir', baseDir], { stdio: 'inherit' })
  console.log(`(exit ${result.status})`)
}

clmnt('molt', 'list')
// a few rounds, so status and history have something to say; the hung gateway costs one timeout per round
for (let round = 1; round <= 3; round++) {
  if (round === 3) clmnt('molt', 'health', 'check', '--all', '--timeout', '1000')
  else spawnSync(process.execPath, [CLI, 'molt', 'health', 'check', '--all', '--timeout', '1000', '-q', '-d', baseDir], { stdio: 'ignore' })
}
clmnt('molt', 'health', 'check', 'alpha')
clmnt('molt', 'health', 'status', '--all')
clmnt('molt', 'health', 'status', 'bravo')
clmnt('molt', 'health', 'history', 'alpha', '--limit', '5')
clmnt('molt', 'health', 'history', 'charlie', '--limit', '3')

console.log(`\n${bold('Where the files are')}`)
console.log(`  registry   ${join(baseDir, 'molts.json')}`)
for (const molt of fleet.molts) {
  const state = join(molt.home, '.molt-state')
  let files: string[] = []
  try {
    files = readdirSync(state)
  } catch {}
  console.log(`  ${molt.name.padEnd(9)}  ${state}/{${files.join(',')}}`)
}
if (keep) {
  console.log(`\nGateways keep running. Try:  bun ${CLI} molt list -d ${baseDir}\nCtrl-C stops them.`)
  await new Promise(() => {})
}
console.log(`\nGateways stopped; files kept. Remove them with: rm -rf ${baseDir}`)
