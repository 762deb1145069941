import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { appendFileSync, mkdirSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { CLI, runCli } from '../helpers/cli.ts'
import { removeDir, tempDir, writeMoltHome } from '../helpers/fleet.ts'

let dir: string
let home: string
const healthLog = () => join(home, '.molt-state', 'health.log')

beforeEach(() => {
  dir = tempDir()
  home = join(dir, 'alpha')
  mkdirSync(join(home, '.molt-state'), { recursive: true })
  writeMoltHome(home, { name: 'alpha', port: 19001 })
})
afterEach(() => removeDir(dir))

const logs = (...args: string[]) => runCli(['molt', 'health', 'logs', ...args, '-d', dir])

async function waitFor(what: string, condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await Bun.sleep(10)
  }
}

/** `logs -f` as a child whose output is collected as it comes, so a test can react to it. */
function spawnFollow(...args: string[]) {
  const env: Record<string, string | undefined> = { ...process.env, NO_COLOR: '1', CLMNT_BASE_DIR: undefined }
  const proc = Bun.spawn([process.execPath, CLI, 'molt', 'health', 'logs', 'alpha', '-f', '-d', dir, ...args], {
    env: env as Record<string, string>,
    stdout: 'pipe',
    stderr: 'pipe',
    stdin: 'ignore',
  })
  const out = { stdout: '', stderr: '' }
  const collect = async (stream: ReadableStream<Uint8Array>, key: keyof typeof out) => {
    const decoder = new TextDecoder()
    for await (const chunk of stream) out[key] += decoder.decode(chunk, { stream: true })
  }
  const reading = Promise.all([collect(proc.stdout, 'stdout'), collect(proc.stderr, 'stderr')])
  const killer = setTimeout(() => proc.kill('SIGKILL'), 30_000)
  const stop = async (signal: 'SIGINT' | 'SIGTERM') => {
    proc.kill(signal)
    const code = await proc.exited
    clearTimeout(killer)
    await reading
    return code
  }
  return { out, stop }
}

describe('clmnt molt health logs', () => {
  test('-n 3 prints exactly the last three lines', async () => {
    writeFileSync(healthLog(), 'one\ntwo\nthree\nfour\nfive\n')
    const r = await logs('alpha', '-n', '3')
    expect(r).toEqual({ code: 0, stdout: 'three\nfour\nfive\n', stderr: '' })
  })

  test('a bad -n is a usage error in one line', async () => {
    writeFileSync(healthLog(), 'one\n')
    const r = await logs('alpha', '-n', 'abc')
    expect(r.code).toBe(2)
    expect(r.stdout).toBe('')
    const errors = r.stderr.split('\n').filter((line) => line.startsWith('error'))
    expect(errors).toEqual([expect.stringContaining('invalid value "abc" for --lines')])
  })

  test('an invalid molt name is refused', async () => {
    const r = await logs('a;rm -rf /')
    expect(r.code).toBe(2)
    expect(r.stdout).toBe('')
  })

  test('no log yet: a note on stderr, nothing on stdout, exit 0', async () => {
    const r = await logs('alpha')
    expect(r.code).toBe(0)
    expect(r.stdout).toBe('')
    expect(r.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^no health log for alpha yet \(looked in .*health\.log, .*cron\.log, .*cron\.log\)$/)])
  })

  test("the bash toolkit's cron.log is shown when it is all there is, and said so on stderr", async () => {
    writeFileSync(join(home, 'cron.log'), 'legacy 1\nlegacy 2\n')
    const r = await logs('alpha')
    expect(r.code).toBe(0)
    expect(r.stdout).toBe('legacy 1\nlegacy 2\n')
    expect(r.stderr).toContain(join(home, 'cron.log'))
  })

  test('-f follows across rotation and exits 0 on Ctrl-C', async () => {
    writeFileSync(healthLog(), 'old line\n')
    const child = spawnFollow('-n', '1')
    await waitFor('the tail', () => child.out.stdout.includes('old line\n'))
    appendFileSync(healthLog(), 'before rotation\n')
    await waitFor('the appended line', () => child.out.stdout.includes('before rotation\n'))
    renameSync(healthLog(), `${healthLog()}.1`)
    // the watcher may write once more to the renamed file before it opens the new one
    appendFileSync(`${healthLog()}.1`, 'late old line\n')
    writeFileSync(healthLog(), 'after rotation\n')
    await waitFor('the rotated file', () => child.out.stdout.includes('after rotation\n'))
    appendFileSync(healthLog(), 'later\n')
    await waitFor('a line appended to the new file', () => child.out.stdout.includes('later\n'))
    expect(await child.stop('SIGINT')).toBe(0)
    expect(child.out.stdout).toBe('old line\nbefore rotation\nlate old line\nafter rotation\nlater\n')
    expect(child.out.stderr).toContain('rotated')
  })

  test('-f waits for a log that does not exist yet; SIGTERM also ends it cleanly', async () => {
    const child = spawnFollow()
    await waitFor('the waiting note', () => child.out.stderr.includes('no health log for alpha yet'))
    writeFileSync(healthLog(), 'first\n')
    await waitFor('the new log', () => child.out.stdout.includes('first\n'))
    expect(await child.stop('SIGTERM')).toBe(0)
    expect(child.out.stdout).toBe('first\n')
  })
})
