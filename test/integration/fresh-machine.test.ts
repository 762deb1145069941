import { afterAll, beforeAll, expect, test } from 'bun:test'
import { spawnSync } from 'node:child_process'
import { mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync } from 'node:fs'
import { join } from 'node:path'
import { removeDir, tempDir } from '../helpers/fleet.ts'

/**
 * The README's two commands on something as close to a fresh machine as this host allows: a clean
 * `git clone` of this checkout (only what is committed), an empty HOME (no Bun cache: `bun install`
 * fetches every package), and a PATH holding only node, npm, bun, bash and a few coreutils —
 * none of the Debian tools the tests use (crontab, msmtp, zsh, fish, chromium, promtool).
 *
 * What it proves: everything the quick start needs is committed; scripts/setup.sh works from an
 * empty HOME and finds the packages it needs with dpkg, not through PATH; the demo walks the whole
 * job (list, check, DOWN and RECOVERED mails through a real SMTP server, backup, list-backups,
 * verify, restore, dashboard), exits 0 and leaves no process of the clone running; and `bun test`
 * passes in the clone once the standard Debian PATH (where apt puts the packages) is back.
 * What it cannot prove: that `npm install -g bun` and `apt-get install` work — Bun and the Debian
 * packages are already installed on this host system-wide, so setup.sh reports them present and
 * installs nothing. .ci/run on a really fresh machine is what exercises those two lines.
 */

/** The two commands of the README's quick start, as written there. */
function readmeCommands(): string[][] {
  const readme = readFileSync(join(import.meta.dir, '..', '..', 'README.md'), 'utf8')
  const block = /## Quick start[\s\S]*?```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? ''
  return block.split('\n').map((l) => l.replace(/#.*$/, '').trim()).filter(Boolean).map((l) => l.split(/\s+/))
}

let dir = ''
let clone = ''
let home = ''
let shims = ''
const which = (name: string) => spawnSync('bash', ['-c', `command -v ${name}`], { encoding: 'utf8' }).stdout.trim()

beforeAll(() => {
  dir = tempDir('clmnt-fresh-')
  clone = join(dir, 'clmnt')
  home = join(dir, 'home')
  shims = join(dir, 'bin')
  mkdirSync(home)
  mkdirSync(shims)
  const root = join(import.meta.dir, '..', '..')
  const cloned = spawnSync('git', ['clone', '-q', root, clone], { encoding: 'utf8' })
  if (cloned.status !== 0) throw new Error(`git clone failed: ${cloned.stderr}`)
  const tools = ['node', 'npm', 'bun', 'bash', 'sh', 'env', 'dirname', 'id', 'grep', 'cat', 'ls', 'rm', 'mkdir', 'mktemp', 'tee', 'tr', 'head', 'tail', 'uname', 'dpkg-query']
  for (const tool of tools) {
    const path = which(tool)
    if (!path) throw new Error(`${tool} is not installed here`)
    symlinkSync(path, join(shims, tool))
  }
}, 60_000)

afterAll(() => removeDir(dir))

/** PIDs of live processes whose command line mentions the clone: what the demo left behind. */
function processesOfClone(): string[] {
  const found: string[] = []
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ')
      const cwd = readlinkSync(`/proc/${pid}/cwd`)
      if (cmdline.includes(clone) || cwd.startsWith(clone)) found.push(`${pid}: ${cmdline}`)
    } catch {}
  }
  return found
}

test('./scripts/demo.sh: set-up from nothing, the whole walk, exit 0, nothing left running', () => {
  expect(which('crontab')).not.toBe('') // the host has the packages; the PATH below hides them
  const env = { HOME: home, PATH: shims, NO_COLOR: '1', LANG: 'C.UTF-8', TMPDIR: dir }
  const hidden = spawnSync(join(shims, 'bash'), ['-c', 'command -v crontab msmtp zsh fish promtool chromium'], { env, encoding: 'utf8' })
  expect(hidden.stdout).toBe('')
  const [demoCommand] = readmeCommands()
  expect(demoCommand).toEqual(['./scripts/demo.sh'])
  const demo = spawnSync(demoCommand![0]!, demoCommand!.slice(1), { cwd: clone, env, encoding: 'utf8', timeout: 300_000 })
  expect(demo.stderr).toContain('setup: npm dependencies installed from bun.lock')
  expect(demo.stderr).toContain('setup: Debian packages: all present')
  expect(demo.stderr).not.toContain('demo problem')
  expect(demo.status).toBe(0)
  const out = demo.stdout
  for (const step of ['$ clmnt molt list', '$ clmnt molt health check --all', '$ clmnt fleet backup', '$ clmnt fleet list-backups', '$ clmnt fleet verify latest', '$ clmnt fleet restore --from']) expect(out).toContain(step)
  expect(out).toMatch(/to ops@example\.org: \[Claw Mountain\] molt alpha is DOWN/)
  expect(out).toMatch(/to ops@example\.org: \[Claw Mountain\] molt alpha is UP again/)
  expect(out).toContain('restore: 5 of 5 molt(s) restored')
  expect(out).toMatch(/http:\/\/127\.0\.0\.1:\d+\/ {2}\(GET \/api\/molts answers: alpha, bravo, charlie, delta, echo\)/)
  expect(out).toContain('Everything the demo started is stopped')
  expect(processesOfClone()).toEqual([])
}, 300_000)

test("the README's test command passes in the clone (on a small subset: the suite does not run itself)", () => {
  const [, testCommand] = readmeCommands()
  expect(testCommand!.slice(0, 2)).toEqual(['bun', 'test'])
  const env = { HOME: home, PATH: `${shims}:/usr/sbin:/usr/bin:/sbin:/bin`, NO_COLOR: '1', TMPDIR: dir }
  const files = ['test/unit/duration.test.ts', 'test/integration/cli-conventions.test.ts', 'test/integration/completion.test.ts']
  const run = spawnSync(testCommand![0]!, [...testCommand!.slice(1), ...files], { cwd: clone, env, encoding: 'utf8', timeout: 240_000 })
  const summary = run.stderr + run.stdout
  expect(summary).toMatch(/^ *0 fail$/m)
  expect(Number(/^ *(\d+) pass$/m.exec(summary)?.[1])).toBeGreaterThan(50)
  expect(run.status).toBe(0)
}, 240_000)
