import { afterAll, beforeAll, expect, test } from 'bun:test'
import { spawnSync } from 'node:child_process'
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { verifyArchive } from '../../src/archive/verify.ts'
import { writeRichFleet } from '../helpers/archive.ts'
import { CLI } from '../helpers/cli.ts'
import { removeDir, tempDir } from '../helpers/fleet.ts'

/**
 * Root reads every file whatever its mode, so "permission denied" is made real by running the CLI
 * as `nobody` (runuser) on a fleet that user can mostly read: the fleet's 0600 secrets (.env,
 * .msmtprc) and a 0640 file stay unreadable to it. The base dir belongs to nobody so it can take
 * the lock and write the archive. Skipped when not root or without runuser.
 */
const canSwitch = process.getuid?.() === 0 && spawnSync('runuser', ['-u', 'nobody', '--', 'true']).status === 0
let dir: string
let base: string

beforeAll(() => {
  if (!canSwitch) return
  dir = tempDir()
  chmodSync(dir, 0o755)
  base = join(dir, 'fleet')
  writeRichFleet(base, [{ name: 'alpha', port: 19001 }])
  chmodSync(join(base, 'alpha'), 0o755)
  const nobody = Number(spawnSync('id', ['-u', 'nobody'], { encoding: 'utf8' }).stdout.trim())
  chownSync(base, nobody, nobody)
  mkdirSync(join(base, 'out'))
  chownSync(join(base, 'out'), nobody, nobody)
})
afterAll(() => dir && removeDir(dir))

function asNobody(args: string[]) {
  const env = { PATH: process.env.PATH, HOME: '/tmp', NO_COLOR: '1', BUN_RUNTIME_TRANSPILER_CACHE_PATH: '0' }
  const result = spawnSync('runuser', ['-u', 'nobody', '--', process.execPath, CLI, ...args], { encoding: 'utf8', env, timeout: 30_000 })
  return { code: result.status, stdout: result.stdout, stderr: result.stderr }
}

const UNREADABLE = ['alpha/.openclaw/.env', 'alpha/.msmtprc', 'alpha/.openclaw/workspace/MEMORY.md', 'alpha/.openclaw/workspace/MEMORY-hardlink.md']

test.skipIf(!canSwitch)('an unreadable file fails the backup: exit 1, every unreadable path listed, no archive left', () => {
  const result = asNobody(['fleet', 'backup', '-d', base, '--output', join(base, 'out') + '/'])
  expect(result.code).toBe(1)
  for (const path of UNREADABLE) expect(result.stderr).toContain(`cannot read ${path}: EACCES`)
  expect(result.stderr).toContain(`backup failed: ${UNREADABLE.length} file(s) or folder(s) could not be read; no archive written`)
  expect(readdirSync(join(base, 'out'))).toEqual([])
})

test.skipIf(!canSwitch)('--allow-partial writes the archive with the misses recorded, and still exits 1 with a summary', async () => {
  const result = asNobody(['fleet', 'backup', '-d', base, '--output', join(base, 'out') + '/', '--allow-partial'])
  expect(result.code).toBe(1)
  expect(result.stderr).toContain(`partial backup: ${UNREADABLE.length} file(s) could not be read`)
  const files = readdirSync(join(base, 'out'))
  expect(files).toHaveLength(1)
  const archive = join(base, 'out', files[0]!)
  expect(result.stdout).toContain(`backup written: ${archive}`)
  const report = await verifyArchive(archive)
  expect(report.problems).toEqual([])
  expect(report.notes.filter((n) => n.kind === 'unreadable').map((n) => n.path).sort()).toEqual([...UNREADABLE].sort())
  expect(report.manifest?.options.allow_partial).toBe(true)
  expect(existsSync(`${archive}.partial`)).toBe(false)
})
