import { afterAll, expect, test } from 'bun:test'
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { basename, join } from 'node:path'
import { tempDir } from '../helpers/fleet.ts'

// The suite cleans up after itself: a real `bun test` (this repository's bunfig.toml and its preload)
// runs two fixture files in one process, in a TMPDIR of their own. The first makes temp folders at
// load, in beforeAll, in a passing, a failing and a timed-out test, mounts a tmpfs on one and leaves a
// child process in another, and removes nothing; the second looks while it runs.
const ROOT_DIR = join(import.meta.dir, '..', '..')
const FIXTURES = './test/fixtures/temp-cleanup'
const ROOT = process.getuid?.() === 0
let busyPid: number | undefined

afterAll(() => {
  if (busyPid) process.kill(busyPid, 'SIGKILL')
})

interface Entry {
  made?: string
  busy?: string
  pid?: number
  mounted?: string
  inOwnAfterAll?: [string, boolean][]
  seenByNextFile?: [string, boolean][]
  mountedByNextFile?: string[]
}

test("a test file's temp folders are gone once its own hooks ran, however its tests ended; never one still in use", async () => {
  const tmp = tempDir('clmnt-cleanup-')
  const outside = tempDir('clmnt-outside-')
  writeFileSync(join(outside, 'keep'), 'not the temp folder\'s')
  const record = join(tempDir(), 'record.jsonl')
  writeFileSync(record, '')
  const proc = Bun.spawn([process.execPath, 'test', '--timeout', '30000', `${FIXTURES}/makes.fixture.ts`, `${FIXTURES}/checks.fixture.ts`], {
    cwd: ROOT_DIR,
    env: { ...process.env, TMPDIR: tmp, CLMNT_TEST_RECORD: record, CLMNT_TEST_OUTSIDE: outside },
    stdout: 'pipe',
    stderr: 'pipe',
  })
  const timer = setTimeout(() => proc.kill('SIGKILL'), 120_000)
  const [stdout, stderr] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited])
  clearTimeout(timer)
  const output = stdout + stderr
  const entries = readFileSync(record, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as Entry)
  const busy = entries.find((e) => e.busy)!
  busyPid = busy.pid
  // the fixture's tests really ended each way
  expect(output).toContain('(pass) passes, with links out of its folder')
  expect(output).toContain('(fail) fails')
  expect(output).toContain('this test timed out after 500ms')
  expect(output).toContain('(pass) the file before left nothing')

  const first = entries.flatMap((e) => (e.made && !('by' in e) ? [e.made] : []))
  expect(first).toHaveLength(ROOT ? 7 : 6)
  for (const dir of first) expect(dir.startsWith(`${tmp}/clmnt-`)).toBe(true)
  // nothing was removed before the file's own afterAll (which stops its gateway) had run
  expect(entries.find((e) => e.inOwnAfterAll)!.inOwnAfterAll).toEqual(first.map((d) => [d, true]))
  // while the next file runs, every folder of the first one is gone but the one a process still works in
  expect(entries.find((e) => e.seenByNextFile)!.seenByNextFile).toEqual(first.map((d) => [d, d === busy.busy]))
  expect(entries.find((e) => e.mountedByNextFile)!.mountedByNextFile).toEqual([])
  if (ROOT) expect(entries.some((e) => e.mounted)).toBe(true)
  // after the run: the last file's folder is gone too; only the busy one is left, and the run says why
  expect(readdirSync(tmp)).toEqual([basename(busy.busy!)])
  expect(output).toContain(`left ${busy.busy}: still used by PID ${busy.pid} (sleep 600)`)
  // links out of a temp folder were removed as links: what they point to is untouched
  expect(readFileSync(join(outside, 'keep'), 'utf8')).toBe('not the temp folder\'s')
  expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(tmp)
  expect(existsSync(`/proc/${busy.pid}`)).toBe(true)
}, 150_000)

test.each([
  ['SIGINT', 130],
  ['SIGTERM', 143],
] as const)('a run stopped with %s removes the folders of the file it was in', async (signal, code) => {
  const tmp = tempDir('clmnt-cleanup-')
  const record = join(tempDir(), 'record.jsonl')
  writeFileSync(record, '')
  const proc = Bun.spawn([process.execPath, 'test', `${FIXTURES}/interrupted.fixture.ts`], {
    cwd: ROOT_DIR,
    env: { ...process.env, TMPDIR: tmp, CLMNT_TEST_RECORD: record },
    stdout: 'pipe',
    stderr: 'pipe',
  })
  // the fixture's test made its folder and waits for ever: then the signal comes
  for (let tries = 0; tries < 600 && readFileSync(record, 'utf8') === ''; tries++) await Bun.sleep(50)
  const made = (JSON.parse(readFileSync(record, 'utf8')) as Entry).made!
  expect(existsSync(made)).toBe(true)
  proc.kill(signal)
  const timer = setTimeout(() => proc.kill('SIGKILL'), 60_000)
  expect(await proc.exited).toBe(code)
  clearTimeout(timer)
  expect(readdirSync(tmp)).toEqual([])
}, 90_000)
