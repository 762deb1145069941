import { afterAll, beforeAll, expect, test } from 'bun:test'
import { spawnSync } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { run, writeLegacyArchive, writeRichFleet } from '../helpers/archive.ts'
import { CLI, runCli } from '../helpers/cli.ts'
import { removeDir, startGateway, tempDir, writeMoltHome } from '../helpers/fleet.ts'
import { fullListing, readTree, treeDiff } from '../helpers/tree.ts'

// `clmnt fleet restore` as an operator runs it: real archives from `fleet backup`, real files.
let dir: string
let source: string
let archive: string

/** What a backup never holds: these are absent after restoring into an empty base dir. */
const NOT_ARCHIVED = new Set(['.bashrc', '.openclaw/gateway.pid', '.openclaw/cache', '.openclaw/cache/blob', '.openclaw/skills/escape', '.molt-state/fifo'])

beforeAll(async () => {
  dir = tempDir('clmnt-restore-')
  source = join(dir, 'source')
  writeRichFleet(source, [
    { name: 'alpha', port: 19001 },
    { name: 'bravo', port: 19021 },
  ])
  // absolute paths of the old base dir inside openclaw.json, and one that only looks alike
  const config = join(source, 'alpha', '.openclaw', 'openclaw.json')
  const parsed = JSON.parse(readFileSync(config, 'utf8'))
  parsed.agents = { workspace: join(source, 'alpha', '.openclaw', 'workspace'), shared: `--dir=${join(source, 'shared')}`, unrelated: `${source}2/x` }
  writeFileSync(config, JSON.stringify(parsed, null, 2))
  archive = join(dir, 'full.tar.gz')
  const backup = await runCli(['fleet', 'backup', '-d', source, '--output', archive, '-q'])
  expect(backup.code).toBe(0)
}, 60_000)
afterAll(() => removeDir(dir))

const restore = (base: string, args: string[], options: { timeoutMs?: number } = {}) => runCli(['fleet', 'restore', '-d', base, '--from', archive, ...args], options)

function emptyBase(name: string): string {
  const base = join(dir, name)
  mkdirSync(base)
  return base
}

async function restoredBase(name: string, args: string[] = []): Promise<string> {
  const base = emptyBase(name)
  const result = await restore(base, ['--yes', '--skip-users', ...args])
  expect(result.stderr).not.toContain('error')
  expect(result.code).toBe(0)
  return base
}

test('round trip: backup, wipe, restore gives the same trees (content, modes, mtimes, symlinks); registry and .molt-info updated', async () => {
  const base = join(dir, 'round-trip')
  writeRichFleet(base, [
    { name: 'alpha', port: 19001 },
    { name: 'bravo', port: 19021 },
  ])
  const own = join(dir, 'round-trip.tar.gz')
  expect((await runCli(['fleet', 'backup', '-d', base, '--output', own, '-q'])).code).toBe(0)
  const before = { alpha: readTree(join(base, 'alpha')), bravo: readTree(join(base, 'bravo')) }
  for (const name of ['alpha', 'bravo', 'molts.json', 'clmnt.json']) rmSync(join(base, name), { recursive: true })

  const result = await runCli(['fleet', 'restore', '-d', base, '--from', own, '--yes', '--skip-users'])
  expect(result.stderr).not.toContain('error')
  expect(result.code).toBe(0)
  expect(result.stdout).toMatch(/restore: 2 of 2 molt\(s\) restored, \d+ files, .*, \d+ sha256 verified/)
  for (const name of ['alpha', 'bravo'] as const) {
    const after = readTree(join(base, name))
    const ignore = (rel: string) => NOT_ARCHIVED.has(rel) || rel === '.molt-info'
    expect([name, treeDiff(before[name], after, { ignore })]).toEqual([name, []])
    expect(after.get('.openclaw/workspace/current')).toMatchObject({ kind: 'symlink', target: 'MEMORY.md' })
    expect(after.get('.openclaw/skills/mail')).toMatchObject({ kind: 'symlink', target: '../../Maildir' })
    expect(after.get('')!.mode).toBe(0o700)
    for (const rel of NOT_ARCHIVED) expect(after.has(rel)).toBe(false)
    const info = readFileSync(join(base, name, '.molt-info'), 'utf8')
    expect(info).toContain(`MOLT_HOME="${join(base, name)}"`)
    expect(info.match(/^RESTORED=\d{4}-\d\d-\d\dT[\d:.]+Z$/gm)).toHaveLength(1)
    expect(info).toContain(`MOLT_NAME=${name}\n`)
  }
  const registry = JSON.parse(readFileSync(join(base, 'molts.json'), 'utf8'))
  expect(registry.molts.alpha).toMatchObject({ name: 'alpha', port: 19001, home: join(base, 'alpha'), created: '2026-01-15' })
  expect(registry.molts.bravo).toMatchObject({ name: 'bravo', port: 19021, home: join(base, 'bravo') })
  expect(readFileSync(join(base, 'clmnt.json'), 'utf8')).toContain('ops@example.com')
  expect(readdirSync(base).filter((n) => n.startsWith('.clmnt-restore'))).toEqual([])
  // restoring again (--force) replaces RESTORED=, never adds a second one
  expect((await runCli(['fleet', 'restore', '-d', base, '--from', own, '--yes', '--skip-users', '--force', '-q'])).code).toBe(0)
  expect(readFileSync(join(base, 'alpha', '.molt-info'), 'utf8').match(/^RESTORED=/gm)).toHaveLength(1)
}, 30_000)

test('into a different base dir: MOLT_HOME, openclaw.json paths and molts.json point at the new place', async () => {
  const base = await restoredBase('moved')
  const info = readFileSync(join(base, 'alpha', '.molt-info'), 'utf8')
  expect(info).toContain(`MOLT_HOME="${join(base, 'alpha')}"`)
  expect(info).not.toContain(source)
  const config = JSON.parse(readFileSync(join(base, 'alpha', '.openclaw', 'openclaw.json'), 'utf8'))
  expect(config.agents).toEqual({ workspace: join(base, 'alpha', '.openclaw', 'workspace'), shared: `--dir=${join(base, 'shared')}`, unrelated: `${source}2/x` })
  expect(config.gateway.port).toBe(19001)
  const registry = JSON.parse(readFileSync(join(base, 'molts.json'), 'utf8'))
  expect(registry.molts.alpha.home).toBe(join(base, 'alpha'))
}, 30_000)

test('--select restores only the named molts; unknown or invalid names are refused with exit 2 before anything happens', async () => {
  const base = await restoredBase('select', ['--select', 'bravo'])
  expect(readdirSync(base).sort()).toEqual(['.clmnt-alerts', '.clmnt-fleet.lock', 'bravo', 'clmnt.json', 'molts.json'])
  expect(Object.keys(JSON.parse(readFileSync(join(base, 'molts.json'), 'utf8')).molts)).toEqual(['bravo'])

  const empty = emptyBase('select-bad')
  const unknown = await restore(empty, ['--select', 'alpha,nope', '--yes', '--skip-users'])
  expect(unknown.code).toBe(2)
  expect(unknown.stderr).toBe('error not in the archive: "nope"; it holds alpha, bravo\n')
  const invalid = await restore(empty, ['--select', 'Bad!', '--yes', '--skip-users'])
  expect(invalid.code).toBe(2)
  expect(invalid.stderr).toContain('invalid molt name "Bad!"')
  expect(readdirSync(empty)).toEqual([])
}, 30_000)

test('--only maildir: a new molt gets its Maildir (and a .molt-info); an existing one, with --force, gets its Maildir back and keeps the rest', async () => {
  const fresh = await restoredBase('only-new', ['--only', 'maildir', '--select', 'alpha'])
  expect(readdirSync(join(fresh, 'alpha')).sort()).toEqual(['.molt-info', 'Maildir'])
  expect(readFileSync(join(fresh, 'alpha', '.molt-info'), 'utf8')).toMatch(/^MOLT_NAME=alpha\nMOLT_PORT=19001\nMOLT_HOME=".*"\nRESTORED=.*\nCREATED=2026-01-15\n$/)

  const base = await restoredBase('only-force')
  const home = join(base, 'alpha')
  rmSync(join(home, 'Maildir', 'cur', 'msg with spaces:2,S'))
  writeFileSync(join(home, 'Maildir', 'new', 'local-only:2,S'), 'arrived after the backup')
  writeFileSync(join(home, '.msmtprc'), 'account changed-since\n')
  const result = await restore(base, ['--yes', '--skip-users', '--force', '--only', 'maildir', '--select', 'alpha'])
  expect(result.stderr).not.toContain('error')
  expect(result.code).toBe(0)
  expect(readFileSync(join(home, 'Maildir', 'cur', 'msg with spaces:2,S'), 'utf8')).toBe('Subject: spaces\n\nhi\n')
  expect(existsSync(join(home, 'Maildir', 'new', 'local-only:2,S'))).toBe(false)
  expect(readFileSync(join(home, '.msmtprc'), 'utf8')).toBe('account changed-since\n')
  expect(treeDiff(readTree(join(source, 'alpha', 'Maildir')), readTree(join(home, 'Maildir')))).toEqual([])
}, 30_000)

test('existing molts without --force: left untouched; all of them existing → exit 1 before doing anything', async () => {
  const base = await restoredBase('exists')
  const before = fullListing(base)
  const result = await restore(base, ['--yes', '--skip-users'])
  expect(result.code).toBe(1)
  expect(result.stdout).toMatch(/alpha\s+skip \(exists\)/)
  expect(result.stdout).toContain('alpha: exists (molt home); --force replaces it')
  expect(result.stderr).toContain('error nothing to restore: every selected molt exists (--force replaces existing molts); nothing changed')
  expect(fullListing(base)).toEqual(before)

  const partial = await restoredBase('exists-partial', ['--select', 'alpha'])
  const alphaBefore = readTree(join(partial, 'alpha'))
  const mixed = await restore(partial, ['--yes', '--skip-users'])
  expect(mixed.code).toBe(1)
  expect(mixed.stderr).toContain('✓ bravo: restored')
  expect(mixed.stderr).toContain('warn alpha: skipped: exists (molt home); --force replaces it')
  expect(treeDiff(alphaBefore, readTree(join(partial, 'alpha')))).toEqual([])
  expect(existsSync(join(partial, 'bravo', '.molt-info'))).toBe(true)
}, 30_000)

test('--force: a molt whose gateway runs is refused (and told how to stop it); unselected molts are never touched; files a backup never holds stay', async () => {
  const base = await restoredBase('force')
  const alpha = join(base, 'alpha')
  const gateway = await startGateway('healthy', alpha)
  try {
    writeFileSync(join(alpha, '.openclaw', 'gateway.pid'), `${gateway.child.pid}\n`)
    const alphaBefore = readTree(alpha)
    const bravo = join(base, 'bravo')
    writeFileSync(join(bravo, '.bashrc'), 'export PS1=bravo\n')
    mkdirSync(join(bravo, '.openclaw', 'sandboxes', 'box'), { recursive: true })
    writeFileSync(join(bravo, '.openclaw', 'sandboxes', 'box', 'state'), 'sandbox')
    writeFileSync(join(bravo, '.openclaw', 'gateway.pid'), '999999\n')
    writeFileSync(join(bravo, 'Maildir', 'cur', 'msg with spaces:2,S'), 'edited after the backup')

    const result = await restore(base, ['--yes', '--skip-users', '--force', '--keep-old'])
    expect(result.code).toBe(1)
    expect(result.stdout).toMatch(/alpha\s+refused \(running\)/)
    expect(result.stdout).toContain(`alpha: its gateway is running (PID ${gateway.child.pid}): stop it first (kill ${gateway.child.pid}, or stop its service), then run again`)
    expect(result.stderr).toContain('✓ bravo: restored')
    expect(treeDiff(alphaBefore, readTree(alpha))).toEqual([])
    expect(readFileSync(join(bravo, '.bashrc'), 'utf8')).toBe('export PS1=bravo\n')
    // sandbox workspaces are in the backup: the archived one comes back, the newer one stays with the old home
    expect(existsSync(join(bravo, '.openclaw', 'sandboxes', 'box'))).toBe(false)
    expect(readFileSync(join(bravo, '.openclaw', 'sandboxes', 'box1', 'notes.md'), 'utf8')).toBe('what a sandboxed tool wrote\n')
    expect(existsSync(join(bravo, '.openclaw', 'gateway.pid'))).toBe(false)
    expect(readFileSync(join(bravo, 'Maildir', 'cur', 'msg with spaces:2,S'), 'utf8')).toBe('Subject: spaces\n\nhi\n')
    const [kept] = readdirSync(join(base, '.clmnt-restore-old'))
    expect(readFileSync(join(base, '.clmnt-restore-old', kept!, 'bravo', 'Maildir', 'cur', 'msg with spaces:2,S'), 'utf8')).toBe('edited after the backup')
    expect(readFileSync(join(base, '.clmnt-restore-old', kept!, 'bravo', '.openclaw', 'sandboxes', 'box', 'state'), 'utf8')).toBe('sandbox')
    expect(result.stderr).toContain(`old home kept in ${join(base, '.clmnt-restore-old', kept!, 'bravo')}`)

    // --force --select bravo never touches alpha, even with its gateway stopped
    const selected = await restore(base, ['--yes', '--skip-users', '--force', '--select', 'bravo'])
    expect(selected.code).toBe(0)
    expect(treeDiff(alphaBefore, readTree(alpha))).toEqual([])
  } finally {
    gateway.child.kill('SIGKILL')
  }
}, 30_000)

test('not on a terminal and no --yes: refused in one line, exit 2, nothing written (not even the lock file)', async () => {
  const base = emptyBase('no-yes')
  const before = fullListing(base)
  const result = await restore(base, ['--skip-users'])
  expect(result.code).toBe(2)
  expect(result.stderr).toBe('warn the backup was made in ' + source + ': absolute paths in .molt-info, openclaw.json and crontabs are rewritten to ' + base + '\nerror refusing to restore without confirmation: not on a terminal; run again with --yes (check the plan first with --dry-run)\n')
  expect(fullListing(base)).toEqual(before)
  expect(readdirSync(base)).toEqual([])
}, 30_000)

test('on a terminal: asked once, default no; "n" cancels with exit 1, "y" restores', async () => {
  const base = emptyBase('tty')
  const ask = (answer: string) => spawnSync('script', ['-qec', [process.execPath, CLI, 'fleet', 'restore', '-d', base, '--from', archive, '--skip-users'].map((w) => `'${w}'`).join(' '), '/dev/null'], { input: answer, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, timeout: 20_000 })
  const no = ask('\n')
  expect(no.stdout).toContain('? [y/N]')
  expect(no.stdout).toContain('cancelled: nothing changed')
  expect(no.status).toBe(1)
  expect(readdirSync(base)).toEqual([])
  const yes = ask('y\n')
  expect(yes.status).toBe(0)
  expect(readdirSync(base).sort()).toEqual(['.clmnt-alerts', '.clmnt-fleet.lock', 'alpha', 'bravo', 'clmnt.json', 'molts.json'])
}, 30_000)

test('--dry-run leaves no trace: the same listing (mtimes included), no user, no staging folder; --json gives the plan', async () => {
  const base = await restoredBase('dry', ['--select', 'alpha'])
  writeFileSync(join(base, 'alpha', 'Maildir', 'cur', 'local:2,S'), 'x')
  const before = fullListing(base)
  const passwd = readFileSync('/etc/passwd', 'utf8')
  const group = readFileSync('/etc/group', 'utf8')
  const baseMtime = statSync(base, { bigint: true }).mtimeNs
  const text = await restore(base, ['--dry-run', '--force'])
  expect(text.code).toBe(0)
  expect(text.stdout).toMatch(/alpha\s+overwrite\s+create alpha/)
  expect(text.stdout).toMatch(/bravo\s+new\s+create bravo/)
  expect(text.stderr).toContain('dry run: nothing changed')
  const json = await restore(base, ['--dry-run', '--json'])
  expect(json.code).toBe(0)
  const plan = JSON.parse(json.stdout)
  expect(plan).toMatchObject({ dry_run: true, base_dir: base, backup: { base_dir: source, format_version: '4', legacy: false } })
  expect(plan.molts.map((m: { name: string; action: string }) => [m.name, m.action])).toEqual([['alpha', 'skip'], ['bravo', 'new']])
  expect(fullListing(base)).toEqual(before)
  expect(statSync(base, { bigint: true }).mtimeNs).toBe(baseMtime)
  expect(readFileSync('/etc/passwd', 'utf8')).toBe(passwd)
  expect(readFileSync('/etc/group', 'utf8')).toBe(group)
}, 30_000)

test('a legacy archive of the bash toolkit, made with GNU tar, restores (with a warning that nothing can be verified)', async () => {
  const legacy = join(dir, 'legacy.tar.gz')
  writeLegacyArchive(join(dir, 'legacy-src'), legacy, [{ name: 'oldbot', port: 19101 }])
  expect(run('tar', ['-tzf', legacy]).split('\n')).toContain('./oldbot/openclaw.json')
  const base = emptyBase('legacy')
  const result = await runCli(['fleet', 'restore', '-d', base, '--from', legacy, '--yes', '--skip-users'])
  expect(result.code).toBe(0)
  expect(result.stderr).toContain('legacy archive (bash toolkit, manifest version 1.0): it has no checksums, so nothing can be verified')
  expect(JSON.parse(readFileSync(join(base, 'oldbot', '.openclaw', 'openclaw.json'), 'utf8'))).toEqual({ gateway: { port: 19101 } })
  expect(readFileSync(join(base, 'oldbot', '.openclaw', 'skills', 'hello', 'SKILL.md'), 'utf8')).toBe('# hello\n')
  expect(readFileSync(join(base, 'oldbot', '.molt-info'), 'utf8')).toMatch(/^MOLT_NAME=oldbot\nMOLT_PORT=19101\nMOLT_HOME=".*oldbot"\nRESTORED=/)
  expect(JSON.parse(readFileSync(join(base, 'molts.json'), 'utf8')).molts.oldbot).toMatchObject({ port: 19101, home: join(base, 'oldbot') })
  const listed = await runCli(['molt', 'list', '-d', base, '--json'])
  expect(listed.stdout).toContain('oldbot')
}, 30_000)

test('--from latest, a port taken by another molt, and a staging folder left by a dead run', async () => {
  const base = emptyBase('latest')
  mkdirSync(join(base, 'backups'))
  cpSync(archive, join(base, 'backups', 'fleet-2026-02-02-103000.tar.gz'))
  mkdirSync(join(base, 'charlie'))
  writeMoltHome(join(base, 'charlie'), { name: 'charlie', port: 19001 })
  const stale = join(base, '.clmnt-restore-4242-1700000000000')
  mkdirSync(join(stale, 'stage', 'alpha'), { recursive: true })
  writeFileSync(join(stale, 'journal.json'), JSON.stringify({ version: 1, pid: 4242, started: '2026-02-02T10:30:00.000Z', archive, base_dir: base, phase: 'extracting', keep_old: false, molts: {} }))
  const dry = await runCli(['fleet', 'restore', '-d', base, '--from', 'latest', '--dry-run'])
  expect(dry.stdout).toContain(`restore from ${join(base, 'backups', 'fleet-2026-02-02-103000.tar.gz')}`)
  expect(dry.stderr).toContain('warn alpha: port 19001 is also used by molt charlie')
  expect(dry.stderr).toContain(`warn an interrupted restore left ${stale}: left by restore PID 4242 of 2026-02-02T10:30:00.000Z; it was still extracting: nothing live was touched`)
  expect(existsSync(stale)).toBe(true)
  const real = await runCli(['fleet', 'restore', '-d', base, '--from', 'latest', '--yes', '--skip-users'])
  expect(real.code).toBe(0)
  expect(real.stderr).toContain(`an interrupted restore left ${stale}`)
  expect(existsSync(stale)).toBe(false)
  expect(real.stderr).toContain('warn alpha: port 19001 is also used by molt charlie')
}, 30_000)

test('--json on a real run: the plan and the outcome as data, nothing else on stdout', async () => {
  const base = emptyBase('json')
  const result = await restore(base, ['--yes', '--skip-users', '--json', '--select', 'alpha'])
  expect(result.code).toBe(0)
  const data = JSON.parse(result.stdout)
  expect(data.result.ok).toBe(true)
  expect(data.result.molts).toEqual([expect.objectContaining({ name: 'alpha', outcome: 'restored', owner: 'root' })])
  expect(data.result.verified).toBeGreaterThan(10)
}, 30_000)
