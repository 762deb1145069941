import { expect, test } from 'bun:test'
import { join } from 'node:path'

const SERVER = join(import.meta.dir, '..', '..', 'src', 'dashboard', 'server.ts')

// The earlier dashboard passed URL parameters into a shell command line. Here that class of bug
// cannot come back unnoticed: nothing the server can reach is able to start a program.
test('the dashboard server cannot start a program: its bundle holds no child_process, spawn or shell', async () => {
  const result = await Bun.build({ entrypoints: [SERVER], target: 'bun', format: 'esm' })
  expect(result.success).toBe(true)
  const code = (await Promise.all(result.outputs.filter((o) => o.path.endsWith('.js')).map((o) => o.text()))).join('\n')
  expect(code).toContain('/api/molts')
  for (const needle of ['child_process', 'Bun.spawn', 'spawnSync', 'Bun.$', 'execSync', 'execFile']) expect(code).not.toContain(needle)
})
