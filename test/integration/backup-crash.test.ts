import { afterAll, beforeAll, expect, test } from 'bun:test'
import { spawn } from 'node:child_process'
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { verifyArchive } from '../../src/archive/verify.ts'
import { addBulk, addText, writeRichFleet } from '../helpers/archive.ts'
import { CLI, runCli } from '../helpers/cli.ts'
import { removeDir, tempDir } from '../helpers/fleet.ts'

// kill -9 at random moments of a real backup: never a broken archive under a final name.
let dir: string
let base: string
beforeAll(() => {
  dir = tempDir()
  base = join(dir, 'fleet')
  writeRichFleet(base, [
    { name: 'alpha', port: 19001 },
    { name: 'bravo', port: 19021 },
  ])
  // about a second of work on two cores: text to deflate, random data to store
  addText(join(base, 'alpha'), 400, 100_000)
  addBulk(join(base, 'bravo'), 40, 1 << 20)
}, 30_000)
afterAll(() => removeDir(dir))

interface Listing {
  file: string
  status: string
}

async function checkFolder(out: string): Promise<void> {
  const listed = JSON.parse((await runCli(['fleet', 'list-backups', '--backup-dir', out, '--json'])).stdout) as Listing[]
  for (const entry of listed) {
    if (entry.file.endsWith('.partial')) expect([entry.file, entry.status]).toEqual([entry.file, 'incomplete'])
    // anything under a final name, or listed as good, must be a sound archive
    if (!entry.file.endsWith('.partial') || entry.status === 'ok') {
      const report = await verifyArchive(join(out, entry.file))
      expect([entry.file, report.problems]).toEqual([entry.file, []])
    }
  }
  for (const file of readdirSync(out)) expect(listed.map((l) => l.file)).toContain(file)
}

test('kill -9 during a backup: no broken archive under its final name, list-backups never calls a broken one good, the next backup succeeds', async () => {
  const out = join(dir, 'backups')
  mkdirSync(out)
  // the moments are parts of how long a whole backup takes here: fixed delays missed it once backups got faster
  const timed = join(dir, 'timed')
  mkdirSync(timed)
  const started = performance.now()
  expect((await runCli(['fleet', 'backup', '-d', base, '--output', `${timed}/`, '-q'])).code).toBe(0)
  const whole = performance.now() - started
  const delays = [0.05, 0.2, 0.35, 0.5, 0.65, 0.8, 0.95, Math.random()].map((part) => Math.round(part * whole))
  const killed: string[] = []
  for (const delay of delays) {
    const child = spawn(process.execPath, [CLI, 'fleet', 'backup', '-d', base, '--output', `${out}/`, '-q'], { stdio: 'ignore' })
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
    await Bun.sleep(delay)
    const wasRunning = child.exitCode === null
    child.kill('SIGKILL')
    await exited
    killed.push(`${delay} ms: ${wasRunning ? 'killed' : 'had finished'}, folder: ${readdirSync(out).join(' ')}`)
    await checkFolder(out)
  }
  if (process.env.DEBUG_CRASH) console.log(`a whole backup: ${Math.round(whole)} ms\n${killed.join('\n')}`)
  // at least some trials must really have been cut short, or the test proves nothing
  expect(killed.filter((k) => k.includes(': killed')).length).toBeGreaterThanOrEqual(3)
  const after = await runCli(['fleet', 'backup', '-d', base, '--output', `${out}/`, '--json'], { timeoutMs: 30_000 })
  expect(after.code).toBe(0)
  // in the default folder, the next backup also points at what the dead ones left
  const inDefault = join(base, 'backups')
  mkdirSync(inDefault)
  writeFileSync(join(inDefault, 'fleet-2026-01-01-000000.tar.gz.partial'), 'left by a dead backup')
  const warned = await runCli(['fleet', 'backup', '-d', base, '-q', '--exclude-maildir'])
  expect(warned.code).toBe(0)
  expect(warned.stderr).toBe('')
  const noisy = await runCli(['fleet', 'backup', '-d', base, '--exclude-maildir'])
  expect(noisy.stderr).toContain(`1 .partial file(s) in ${inDefault} were left by interrupted backups and are not archives: fleet-2026-01-01-000000.tar.gz.partial (delete them)`)
  const path = JSON.parse(after.stdout).path as string
  expect((await verifyArchive(path)).problems).toEqual([])
  await checkFolder(out)
}, 50_000)
