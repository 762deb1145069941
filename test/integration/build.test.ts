import { afterAll, beforeAll, expect, test } from 'bun:test'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { CLI } from '../helpers/cli.ts'
import { buildFleet, LEGACY_STATUS, removeDir, tempDir, writeState } from '../helpers/fleet.ts'

// `bun run build` must give an executable that behaves exactly like `bun src/cli.ts`.
let out: string
let fleet: Awaited<ReturnType<typeof buildFleet>>
let binary: string

beforeAll(async () => {
  out = tempDir()
  binary = join(out, 'clmnt')
  const build = spawnSync(process.execPath, [join(import.meta.dir, '..', '..', 'scripts', 'build.ts'), binary], { encoding: 'utf8' })
  if (build.status !== 0) throw new Error(`build failed: ${build.stderr}`)
  fleet = await buildFleet([
    { name: 'alpha', mode: 'healthy' },
    { name: 'bravo', mode: 'error' },
    { name: 'delta', mode: 'dead' },
  ])
  writeState(join(fleet.baseDir, 'delta'), 'health-status.json', LEGACY_STATUS)
}, 60_000)

afterAll(() => {
  fleet.cleanup()
  removeDir(out)
})

const env = { ...process.env, NO_COLOR: '1' }
const viaSource = (args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env })
const viaBinary = (args: string[]) => spawnSync(binary, args, { encoding: 'utf8', env })
// what differs between two runs of the same check: times, and the demo's temp paths do not
const steady = (text: string) => text.replace(/\d{4}-\d\d-\d\dT[\d:.]+Z/g, 'T').replace(/\d+(\.\d+)? ms/g, 'N ms').replace(/"response_time_ms": [\d.]+/g, '"response_time_ms": N').replace(/\d+s ago|just now/g, 'AGO').replace(/"age_seconds": \d+/g, '"age_seconds": N')

test.each([
  [['--version']],
  [['--help']],
  [['molt', 'health', 'check', '--help']],
  [['molt', 'health', 'history', '--help']],
  [['molt', 'bogus']],
  [['molt', 'health', 'check', '--timeout', 'abc', 'alpha']],
  [['molt', 'health', 'check', '../x']],
  [['molt', 'health', 'status', 'delta', '--json']],
  [['molt', 'health', 'check', '--all', '--json']],
  [['molt', 'health', 'status', '--all']],
  [['molt', 'health', 'history', 'alpha', '--json']],
])('%p: same stdout, stderr and exit code', (args) => {
  const fleetArgs = [...args, '-d', fleet.baseDir]
  const source = viaSource(fleetArgs)
  const compiled = viaBinary(fleetArgs)
  expect(compiled.status).toBe(source.status)
  expect(steady(compiled.stdout)).toBe(steady(source.stdout))
  expect(steady(compiled.stderr)).toBe(steady(source.stderr))
})

test('start-up stays light: no heavy built-in is imported at the top of the bundle', async () => {
  // An ESM dependency loaded with import() still has its `import net from "net"` hoisted to the top
  // of the bundle, so every cron run would load it; such libraries are loaded with require().
  const result = await Bun.build({ entrypoints: [CLI], target: 'bun', format: 'esm' })
  expect(result.success).toBe(true)
  const code = await result.outputs[0]!.text()
  const topLevel = [...code.matchAll(/^import .* from "(?:node:)?([a-z_:]+)";$/gm)].map((m) => m[1])
  expect(topLevel.filter((name) => ['net', 'http', 'https', 'tls', 'zlib', 'dns', 'stream', 'crypto', 'worker_threads'].includes(name!))).toEqual([])
})
