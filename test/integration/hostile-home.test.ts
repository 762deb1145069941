import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { spawnSync } from 'node:child_process'
import { chmodSync, chownSync, lstatSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { writeRegistry } from '../../src/fleet/registry.ts'
import { CLI, runCli, type CliResult } from '../helpers/cli.ts'
import { createDemoFleet } from '../../src/demo/fleet.ts'
import { freePort, removeDir, tempDir, writeMoltHome } from '../helpers/fleet.ts'
import { readTree, treeDiff } from '../helpers/tree.ts'
import { createUser, isRoot, removeUser, throwawayName } from '../helpers/users.ts'

/**
 * A molt's Linux user is not trusted. A real unprivileged user plants symlinks (to root's files and
 * to /dev/zero), FIFOs, devices (mknod'ed for it by root, as it cannot) and huge sparse files at
 * every path clmnt touches in its home; root then runs every command against the fleet. Nothing
 * outside the home may change, and every command must come back: BUDGET_MS is a hang detector
 * (a blocked read never returns at all), not a timing assertion.
 */

const BUDGET_MS = 60_000
const TOKEN = 'hostile-test-token-0123456789abcdefghijkl'

/** Every file clmnt reads or writes in a home. */
const FILES = [
  '.molt-info',
  '.openclaw/openclaw.json',
  '.openclaw/gateway.pid',
  '.openclaw/.env',
  '.molt-state/health-status.json',
  '.molt-state/health-history.jsonl',
  '.molt-state/health-watch-state.json',
  '.molt-state/health.log',
  '.molt-state/health-watch.lock',
  '.molt-state/restart.log',
  '.molt-state/cron.log',
  'cron.log',
  '.msmtprc',
]

type Kind = 'symlink' | 'fifo' | 'device' | 'huge' | 'folder-link'

let base: string
let outside: string
let user: string
let home: string
let stopGood: () => void
let before: { outside: ReturnType<typeof readTree>; base: ReturnType<typeof readTree> }

// the base dir and the good molt's folder get new entries (state, backup status, fleet lock): their mtimes move
const ignoreInBase = (rel: string) => rel === '' || rel === 'good' || rel.startsWith('.clmnt-') || rel === user || rel.startsWith(`${user}/`) || rel.startsWith('good/.molt-state') || rel === 'backups' || rel.startsWith('backups/')

/** Run as the molt's user, as its prompt-injected agent would. */
function asUser(script: string): void {
  const r = spawnSync('runuser', ['-u', user, '--', 'sh', '-c', script], { cwd: home, encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`as ${user}: ${script}: ${r.stderr}`)
}

/** A fresh, ordinary home: the molt's own files, all its own. */
function resetHome(port: number): void {
  rmSync(home, { recursive: true, force: true })
  mkdirSync(home, { mode: 0o700 })
  writeMoltHome(home, { name: user, port })
  mkdirSync(join(home, '.molt-state'))
  spawnSync('chown', ['-R', `${user}:${user}`, home])
  chmodSync(home, 0o700)
}

function plant(kind: Kind): void {
  const sh = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`
  if (kind === 'folder-link') {
    asUser(`rm -rf .molt-state .openclaw .config && ln -s ${sh(join(outside, 'dir'))} .molt-state && ln -s ${sh(join(outside, 'dir2'))} .openclaw && ln -s ${sh(join(outside, 'dir3'))} .config`)
    return
  }
  const script: string[] = []
  FILES.forEach((rel, i) => {
    script.push(`rm -f ${sh(rel)}`)
    if (kind === 'symlink') script.push(`ln -s ${sh(rel.endsWith('.jsonl') || rel.endsWith('.log') ? '/dev/zero' : join(outside, `victim-${i}`))} ${sh(rel)}`)
    if (kind === 'fifo') script.push(`mkfifo ${sh(rel)}`)
    if (kind === 'huge') script.push(`truncate -s 200M ${sh(rel)}`)
  })
  asUser(script.join(' && '))
  if (kind === 'device') {
    // a molt user cannot mknod; root does it for the test, then gives the nodes to the user
    for (const rel of FILES) {
      rmSync(join(home, rel), { force: true })
      const r = spawnSync('mknod', [join(home, rel), 'c', '1', rel.endsWith('.jsonl') ? '5' : '3'])
      if (r.status !== 0) throw new Error(`mknod: ${r.stderr}`)
      chownSync(join(home, rel), statSync(home).uid, statSync(home).gid)
    }
  }
}

const cli = (args: string[], extra: Record<string, string> = {}): Promise<CliResult> =>
  runCli(['-d', base, ...args], { timeoutMs: BUDGET_MS, env: { CLMNT_DASHBOARD_TOKEN: TOKEN, ...extra } })

/** The command came back by itself: not killed by the hang detector. */
function returned(r: CliResult, what: string): void {
  if (r.code === 137 || r.code === 143 || r.code === null) throw new Error(`${what} did not return within ${BUDGET_MS / 1000} s (killed); stderr: ${r.stderr}`)
  expect(r.stderr).not.toContain('internal error')
}

function assertNothingOutsideChanged(): void {
  expect(treeDiff(before.outside, readTree(outside), { mtimes: true })).toEqual([])
  // sizes and mtimes (not contents: the planted files are hundreds of MiB)
  expect(treeDiff(before.base, readTree(base, { content: false }), { ignore: ignoreInBase, mtimes: true })).toEqual([])
}

async function dashboard(): Promise<{ url: string; stop(): Promise<void> }> {
  const proc = Bun.spawn([process.execPath, CLI, 'dashboard', '--port', '0', '-d', base], { env: { ...process.env, NO_COLOR: '1', CLMNT_DASHBOARD_TOKEN: TOKEN } as Record<string, string>, stdout: 'pipe', stderr: 'pipe', stdin: 'ignore' })
  const reader = proc.stdout.getReader()
  let out = ''
  while (!out.includes('\n')) {
    const { value, done } = await reader.read()
    if (done) throw new Error(`the dashboard did not start: ${await new Response(proc.stderr).text()}`)
    out += new TextDecoder().decode(value)
  }
  reader.releaseLock()
  const url = /https?:\/\/\S+/.exec(out)![0].replace(/\?.*$/, '')
  return { url, stop: async () => void (proc.kill('SIGTERM'), await proc.exited) }
}

const hostile = isRoot ? describe : describe.skip

hostile('a molt user plants links, FIFOs, devices and huge files; root runs clmnt', () => {
  let port: number
  beforeAll(async () => {
    base = tempDir('clmnt-hostile-')
    chmodSync(base, 0o755)
    outside = tempDir('clmnt-outside-')
    chmodSync(outside, 0o755)
    for (const dir of ['dir', 'dir2', 'dir3']) mkdirSync(join(outside, dir))
    FILES.forEach((_, i) => writeFileSync(join(outside, `victim-${i}`), `root's file ${i}\n`, { mode: 0o644 }))
    writeFileSync(join(outside, 'dir', 'health-status.json'), '{"root":"file"}\n', { mode: 0o644 })
    const good = await createDemoFleet(base, [{ name: 'good', mode: 'healthy' }])
    stopGood = good.stop
    user = throwawayName()
    home = join(base, user)
    createUser(home, user)
    port = await freePort()
    resetHome(port)
    const entries = { good: { name: 'good', port: good.molts[0]!.port, home: good.molts[0]!.home, created: '2026-01-15' }, [user]: { name: user, port, home, created: '2026-01-15' } }
    writeRegistry(base, { version: '1', molts: entries })
    before = { outside: readTree(outside), base: readTree(base, { content: false }) }
  })
  afterAll(() => {
    stopGood?.()
    if (user) removeUser(user)
    removeDir(base)
    removeDir(outside)
  })

  test('an ordinary home: what root writes there belongs to the molt user', async () => {
    resetHome(port)
    const r = await cli(['molt', 'health', 'check', user, '--json'])
    returned(r, 'check')
    const uid = statSync(home).uid
    for (const rel of ['.molt-state/health-status.json', '.molt-state/health-history.jsonl']) expect(lstatSync(join(home, rel)).uid).toBe(uid)
    const w = await cli(['molt', 'health', 'watch', user])
    returned(w, 'watch')
    for (const rel of readdirSync(join(home, '.molt-state'))) expect(lstatSync(join(home, '.molt-state', rel)).uid).toBe(uid)
  })

  for (const kind of ['symlink', 'fifo', 'device', 'huge', 'folder-link'] as Kind[]) {
    test(`${kind}s everywhere: every command returns, the fleet stays readable, nothing outside the home changes`, async () => {
      resetHome(port)
      plant(kind)
      const runs: [string, string[]][] = [
        ['list', ['molt', 'list', '--json']],
        ['status --all', ['molt', 'health', 'status', '--all', '--json']],
        ['check', ['molt', 'health', 'check', user, '--json']],
        ['check --all', ['molt', 'health', 'check', '--all', '--json']],
        ['watch', ['molt', 'health', 'watch', user]],
        ['history', ['molt', 'health', 'history', user, '--json']],
        ['history --prune', ['molt', 'health', 'history', user, '--prune', '90d']],
        ['logs', ['molt', 'health', 'logs', user, '-n', '5']],
        ['doctor', ['doctor', '--all', '--json']],
        // the systemd units go to ~/.config/systemd/user: written as the user, never through a link
        ['setup --scheduler systemd', ['molt', 'health', 'setup', user, '--scheduler', 'systemd']],
      ]
      if (kind !== 'huge') runs.push(['logs -f', ['molt', 'health', 'logs', user, '-f']])
      for (const [what, args] of runs) {
        const r = await cli(args)
        returned(r, what)
        if (what === 'list') {
          // the other molt is listed and well: one molt's files never take the fleet down
          const rows = JSON.parse(r.stdout) as { name: string }[]
          expect(rows.map((row) => row.name).sort()).toEqual(['good', user].sort())
        }
        if (what === 'check --all') expect((JSON.parse(r.stdout) as { molt: string; status: string }[]).find((c) => c.molt === 'good')?.status).toBe('healthy')
        // -f on a log that is not a regular file of the molt ends at once, with the reason
        if (what === 'logs -f') expect(r.code).toBe(1)
      }

      const d = await dashboard()
      try {
        const auth = { Authorization: `Bearer ${TOKEN}` }
        const get = (path: string, init: RequestInit = {}) => fetch(new URL(path, d.url), { ...init, headers: { ...auth, ...(init.headers as Record<string, string>) }, signal: AbortSignal.timeout(BUDGET_MS) })
        const molts = await get('/api/molts')
        expect(molts.status).toBe(200)
        const body = (await molts.json()) as { molts: { name: string; health: string | null }[] }
        expect(body.molts.find((m) => m.name === 'good')?.health).toBe('healthy')
        for (const path of [`/api/molts/${user}/health`, `/api/molts/${user}/history`, '/metrics']) expect([200, 500]).toContain((await get(path)).status)
        expect([200, 429, 500]).toContain((await get(`/api/molts/${user}/check`, { method: 'POST' })).status)
      } finally {
        await d.stop()
      }
      assertNothingOutsideChanged()
    }, 8 * BUDGET_MS)
  }

  test('backup and restore as root over a home full of links, FIFOs and devices', async () => {
    resetHome(port)
    plant('symlink')
    asUser('mkfifo .molt-state/a-fifo && ln -s /etc/shadow .openclaw/shadow && ln -s / .openclaw/root-link && mkdir -p Maildir/cur && truncate -s 100M Maildir/cur/huge')
    for (const [rel, minor] of [['.openclaw/zero', '5'], ['Maildir-null', '3']] as const) spawnSync('mknod', [join(home, rel), 'c', '1', minor])
    const out = join(base, 'backups')
    mkdirSync(out, { recursive: true })
    const backup = await cli(['fleet', 'backup', '--output', out, '--json'])
    returned(backup, 'backup')
    assertNothingOutsideChanged()
    const archives = readdirSync(out).filter((f) => f.endsWith('.tar.gz'))
    if (backup.code === 0) {
      expect(archives).toHaveLength(1)
      const names = spawnSync('tar', ['-tzvf', join(out, archives[0]!)], { encoding: 'utf8' }).stdout
      // FIFOs and devices are never archived; a link is never followed (one leaving the molt is left
      // out with a note: restore would refuse it), so root's files never enter the archive
      expect(names).not.toContain('a-fifo')
      expect(names).not.toMatch(/\bzero\b/)
      expect(names).not.toMatch(/^-.*(shadow|victim|root-link)/m)
      expect(backup.stdout).toContain('points outside the molt')
      const elsewhere = tempDir('clmnt-hostile-restore-')
      try {
        const restore = await cli(['fleet', 'restore', '--from', join(out, archives[0]!), '--base-dir', elsewhere, '--select', user, '--skip-users', '--skip-cron', '--yes'])
        returned(restore, 'restore')
        expect(restore.code).toBe(0)
        // what was archived comes back, the molt's own; what never was (FIFO, devices, links out) does not
        const restored = join(elsewhere, user)
        expect(statSync(join(restored, 'Maildir/cur/huge')).size).toBe(100 * 2 ** 20)
        expect(lstatSync(join(restored, 'Maildir/cur/huge')).uid).toBe(statSync(home).uid)
        for (const rel of ['.molt-state/a-fifo', '.openclaw/zero', '.openclaw/shadow', '.openclaw/root-link']) expect(() => lstatSync(join(restored, rel))).toThrow(/ENOENT/)
        assertNothingOutsideChanged()
      } finally {
        removeDir(elsewhere)
      }
    }
    assertNothingOutsideChanged()
  }, 4 * BUDGET_MS)
})
