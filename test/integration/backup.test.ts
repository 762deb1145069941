import { afterAll, beforeAll, expect, setDefaultTimeout, test } from 'bun:test'
import { spawn, spawnSync } from 'node:child_process'
import { chownSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { CLI, runCli } from '../helpers/cli.ts'
import { addBulk, run, tarList, writeLegacyArchive, writeRichFleet } from '../helpers/archive.ts'
import { removeDir, tempDir } from '../helpers/fleet.ts'

// whole backups, some through the CLI: seconds each on a loaded machine
setDefaultTimeout(30_000)

// `clmnt fleet backup` as an operator runs it, checked with GNU tar and sha256sum.
let dir: string
let base: string
beforeAll(() => {
  dir = tempDir()
  base = join(dir, 'fleet')
  writeRichFleet(base, [
    { name: 'alpha', port: 19001 },
    { name: 'bravo', port: 19021 },
  ])
})
afterAll(() => removeDir(dir))

const backup = (args: string[], options: { base?: string } = {}) => runCli(['fleet', 'backup', '-d', options.base ?? base, ...args])

test.each(['gzip', 'zstd'] as const)('%s: round trip through GNU tar and sha256sum -c; modes, mtimes and symlinks survive', async (compression) => {
  const out = join(dir, `rt-${compression}`)
  mkdirSync(out)
  const result = await backup(['--output', out, '--compression', compression])
  expect(result.stderr).not.toContain('error')
  expect(result.code).toBe(0)
  const [file] = readdirSync(out)
  expect(file).toMatch(compression === 'gzip' ? /^fleet-\d{4}-\d\d-\d\d-\d{6}\.tar\.gz$/ : /\.tar\.zst$/)
  const archive = join(out, file!)
  expect(statSync(archive).mode & 0o777).toBe(0o600)
  expect(result.stdout).toContain(`backup written: ${archive}`)
  const members = tarList(archive)
  expect(members[0]).toBe('manifest.json')
  expect(members.at(-1)).toBe('checksums.sha256')
  expect(members.every((m) => !m.startsWith('./') && !m.startsWith('/') && !m.split('/').includes('..'))).toBe(true)

  const extracted = join(dir, `x-${compression}`)
  mkdirSync(extracted)
  run('tar', ['-xf', archive, '-C', extracted])
  const check = spawnSync('sha256sum', ['-c', '--strict', 'checksums.sha256'], { cwd: extracted, encoding: 'utf8' })
  expect(check.stderr).toBe('')
  expect(check.status).toBe(0)
  expect(check.stdout).toContain('alpha/Maildir/new/ünïcødé ✉ message: OK')
  expect(check.stdout).toContain('alpha/Maildir/cur/msg with spaces:2,S: OK')

  for (const rel of ['.molt-info', '.msmtprc', '.openclaw/workspace/MEMORY.md', 'Maildir/cur/msg with spaces:2,S', '.openclaw', 'Maildir/new', '.openclaw/workspace/current']) {
    const before = lstatSync(join(base, 'alpha', rel), { bigint: true })
    const after = lstatSync(join(extracted, 'alpha', rel), { bigint: true })
    expect([rel, after.mode]).toEqual([rel, before.mode])
    if (!before.isSymbolicLink()) expect([rel, after.mtimeNs]).toEqual([rel, before.mtimeNs])
  }
  expect(readlinkSync(join(extracted, 'alpha', '.openclaw', 'workspace', 'current'))).toBe('MEMORY.md')
  expect(readlinkSync(join(extracted, 'alpha', '.openclaw', 'skills', 'mail'))).toBe('../../Maildir')
  const hard = lstatSync(join(extracted, 'alpha', '.openclaw', 'workspace', 'MEMORY-hardlink.md'))
  expect(hard.isFile() && hard.nlink === 1).toBe(true)
  expect(readFileSync(join(extracted, 'global', 'clmnt.json'), 'utf8')).toBe(readFileSync(join(base, 'clmnt.json'), 'utf8'))
  const manifest = JSON.parse(readFileSync(join(extracted, 'manifest.json'), 'utf8'))
  expect(manifest).toMatchObject({ version: '4', clmnt_version: expect.any(String), base_dir: base, options: { compression, compress_level: compression === 'gzip' ? 2 : 3 } })
  expect(manifest.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d$/)
  expect(existsSync(join(extracted, 'alpha', '.openclaw', 'gateway.pid'))).toBe(false)
  // sandbox workspaces are the gateway's state, as `openclaw backup create` has them
  expect(readFileSync(join(extracted, 'alpha', '.openclaw', 'sandboxes', 'box1', 'notes.md'), 'utf8')).toBe('what a sandboxed tool wrote\n')
})

test('--output FILE is never overwritten; --output into a missing folder is refused', async () => {
  const file = join(dir, 'named.tar.gz')
  expect((await backup(['--output', file, '-q'])).code).toBe(0)
  const before = readFileSync(file)
  const again = await backup(['--output', file])
  expect(again.code).toBe(2)
  expect(again.stderr).toContain('exists; an archive is never overwritten')
  expect(Buffer.compare(readFileSync(file), before)).toBe(0)
  const missing = await backup(['--output', join(dir, 'nope', 'x.tar.gz')])
  expect(missing.code).toBe(2)
  expect(missing.stderr).toContain('does not exist')
})

test('two backups in the same second get distinct names; --keep deletes only our oldest good archives, never another fleet\'s', async () => {
  const out = join(dir, 'keep')
  mkdirSync(out)
  writeFileSync(join(out, 'notes.txt'), 'foreign')
  writeFileSync(join(out, 'fleet-2020-01-01-000000.tar.gz.partial'), 'dead')
  writeLegacyArchive(join(dir, 'legacy'), join(out, 'fleet-2020-01-01.tar.gz'), [{ name: 'old', port: 19001 }])
  // another fleet (another base dir) shares the folder: its archive is older than all of ours
  const other = join(dir, 'other-fleet')
  writeRichFleet(other, [{ name: 'zulu', port: 19101 }])
  expect((await backup(['--output', join(out, 'fleet-2019-01-01-000000.tar.gz'), '-q'], { base: other })).code).toBe(0)
  for (let i = 0; i < 3; i++) expect((await backup(['--output', out, '-q'])).code).toBe(0)
  const ours = () => readdirSync(out).filter((n) => /^fleet-\d{4}-\d\d-\d\d-\d{6}(-\d+)?\.tar\.gz$/.test(n) && n !== 'fleet-2019-01-01-000000.tar.gz').sort()
  expect(ours()).toHaveLength(3)
  const newest = (await runCli(['fleet', 'list-backups', '--backup-dir', out, '--json'])).stdout
  const [first, second] = JSON.parse(newest) as { file: string }[]
  const result = await backup(['--output', out, '--keep', '2'])
  expect(result.code).toBe(0)
  expect(result.stderr).toContain('--keep 2: deleted')
  const left = ours()
  expect(left).toHaveLength(2)
  expect(left).toContain(first!.file)
  expect(left).not.toContain(second!.file)
  expect(readdirSync(out)).toEqual(expect.arrayContaining(['notes.txt', 'fleet-2020-01-01-000000.tar.gz.partial', 'fleet-2020-01-01.tar.gz', 'fleet-2019-01-01-000000.tar.gz']))
}, 60_000)

test('--keep with --dry-run names what would be deleted once the new archive exists, and deletes nothing', async () => {
  const out = join(dir, 'keep-dry')
  mkdirSync(out)
  for (let i = 0; i < 2; i++) expect((await backup(['--output', out, '-q'])).code).toBe(0)
  const before = readdirSync(out).sort()
  const listed = JSON.parse((await runCli(['fleet', 'list-backups', '--backup-dir', out, '--json'])).stdout) as { file: string }[]
  const r = await backup(['--output', `${out}/`, '--keep', '2', '--dry-run', '--json'])
  expect(r.code).toBe(0)
  expect(JSON.parse(r.stdout).would_delete).toEqual([join(out, listed[1]!.file)])
  const text = await backup(['--output', out, '--keep', '1', '--dry-run'])
  expect(text.stdout).toContain(`--keep 1: would delete ${join(out, listed[0]!.file)}\n--keep 1: would delete ${join(out, listed[1]!.file)}\n`)
  expect(readdirSync(out).sort()).toEqual(before)
}, 30_000)

test('a second backup while one runs is refused, naming the holder; the first one finishes', async () => {
  const big = join(dir, 'big')
  writeRichFleet(big, [{ name: 'alpha', port: 19001 }])
  addBulk(join(big, 'alpha'), 60, 1 << 20)
  const out = join(dir, 'concurrent')
  mkdirSync(out)
  const first = spawn(process.execPath, [CLI, 'fleet', 'backup', '-d', big, '--output', out, '-q'], { stdio: ['ignore', 'pipe', 'pipe'] })
  const firstExit = new Promise<number>((resolve) => first.once('exit', (code) => resolve(code ?? -1)))
  for (let i = 0; i < 400 && !readdirSync(out).some((n) => n.endsWith('.partial')); i++) await Bun.sleep(10)
  const second = await backup(['--output', out], { base: big })
  expect(second.code).toBe(1)
  expect(second.stderr).toContain(`another backup or restore is running on ${big}: PID ${first.pid} (fleet backup`)
  expect(await firstExit).toBe(0)
  expect(readdirSync(out).filter((n) => n.endsWith('.tar.gz'))).toHaveLength(1)
}, 30_000)

test('an empty fleet is refused in one line, exit 1, and no archive is written', async () => {
  const empty = join(dir, 'empty')
  mkdirSync(empty)
  for (const extra of [[], ['--dry-run']]) {
    const result = await backup(extra, { base: empty })
    expect(result.code).toBe(1)
    expect(result.stdout).toBe('')
    expect(result.stderr).toBe(`error no molts in ${empty}: nothing to back up (is -d/--base-dir the fleet's folder?)\n`)
  }
  expect(existsSync(join(empty, 'backups'))).toBe(false)
})

test('--select: names are validated, unknown ones listed against the fleet, before anything is written', async () => {
  const unknown = await backup(['--select', 'alpha,zed', '--output', join(dir, 'never.tar.gz')])
  expect(unknown.code).toBe(2)
  expect(unknown.stderr).toContain('unknown molt "zed" in --select; the fleet has: alpha, bravo')
  const invalid = await backup(['--select', '../x', '--output', join(dir, 'never.tar.gz')])
  expect(invalid.code).toBe(2)
  expect(invalid.stderr).toContain('invalid molt name "../x"')
  expect(existsSync(join(dir, 'never.tar.gz'))).toBe(false)
  expect(existsSync(join(dir, 'never.tar.gz.partial'))).toBe(false)
})

test('--dry-run lists molts and components with sizes and writes nothing; --json gives the manifest', async () => {
  const fresh = join(dir, 'dry')
  writeRichFleet(fresh, [{ name: 'alpha', port: 19001 }])
  const table = await backup(['--dry-run'], { base: fresh })
  expect(table.code).toBe(0)
  expect(table.stdout).toMatch(/^MOLT\s+USER\s+COMPONENT\s+FILES\s+SIZE/)
  expect(table.stdout).toMatch(/alpha\s+root\s+\(all\)\s+\d+\s+[\d.]+ (B|KiB)/)
  expect(table.stdout).toMatch(/\s+maildir\s+4\s+/)
  expect(table.stdout).toContain('nothing written')
  const json = JSON.parse((await backup(['--dry-run', '--json'], { base: fresh })).stdout)
  expect(json.manifest.molts[0].name).toBe('alpha')
  expect(existsSync(join(fresh, 'backups'))).toBe(false)
  expect(existsSync(join(fresh, '.clmnt-fleet.lock'))).toBe(false)
})

test('--json summary; no progress line when stderr is not a terminal', async () => {
  const out = join(dir, 'json')
  mkdirSync(out)
  const result = await backup(['--output', out, '--json', '--compress-level', '1'])
  expect(result.code).toBe(0)
  const summary = JSON.parse(result.stdout)
  expect(summary).toMatchObject({ molts: ['alpha', 'bravo'], partial: false, files: expect.any(Number), bytes_in: expect.any(Number), bytes_out: expect.any(Number) })
  expect(summary.path).toStartWith(out)
  expect(result.stderr).not.toContain('\r')
  expect((await backup(['--compress-level', '10'])).stderr).toContain('invalid value "10" for --compress-level')
})

const root = process.getuid?.() === 0 && spawnSync('which', ['useradd']).status === 0
test.skipIf(!root)("a dedicated molt user's crontab goes in as the crontab component", async () => {
  const user = `clmntbk${process.pid % 100000}`
  const fleet = join(dir, 'cron')
  writeRichFleet(fleet, [{ name: user, port: 19001 }])
  run('useradd', ['-M', '-d', join(fleet, user), '-s', '/usr/sbin/nologin', user])
  try {
    const uid = Number(run('id', ['-u', user]).trim())
    chownSync(join(fleet, user), uid, uid)
    run('crontab', ['-u', user, '-'], { input: '*/5 * * * * echo hi\n' })
    const out = join(dir, 'cron-out.tar.gz')
    const result = await backup(['--output', out], { base: fleet })
    expect(result.code).toBe(0)
    expect(tarList(out)).toContain(`${user}/.clmnt-crontab`)
    const manifest = JSON.parse(run('tar', ['-xOf', out, 'manifest.json']))
    expect(manifest.molts[0]).toMatchObject({ user, crontab: '.clmnt-crontab', components: expect.arrayContaining(['crontab']) })
    expect(run('tar', ['-xOf', out, `${user}/.clmnt-crontab`])).toBe('*/5 * * * * echo hi\n')
  } finally {
    spawnSync('crontab', ['-u', user, '-r'])
    spawnSync('userdel', [user])
  }
})

const haveScript = spawnSync('which', ['script']).status === 0
test.skipIf(!haveScript)('on a terminal: a progress line rewritten in place, at most ~10 times a second, then the summary', async () => {
  const big = join(dir, 'tty')
  writeRichFleet(big, [{ name: 'alpha', port: 19001 }])
  addBulk(join(big, 'alpha'), 150, 1 << 20)
  const out = join(dir, 'tty-out')
  mkdirSync(out)
  // script(1) gives the CLI a pseudo-terminal for stdout and stderr
  const command = [process.execPath, CLI, 'fleet', 'backup', '-d', big, '--output', out].map((a) => `'${a}'`).join(' ')
  const started = performance.now()
  const result = spawnSync('script', ['-qec', command, '/dev/null'], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' }, timeout: 120_000 })
  const seconds = (performance.now() - started) / 1000
  expect(result.status).toBe(0)
  const updates = result.stdout.split('\r\x1b[K').filter((part) => /files .*\/s {2}ETA/.test(part))
  expect(updates.length).toBeGreaterThan(0)
  expect(updates.length).toBeLessThanOrEqual(Math.ceil(seconds * 10) + 1)
  expect(updates[0]).toMatch(/^\d+%  [\d.]+ (B|KiB|MiB) \/ [\d.]+ MiB  [\d,]+ \/ [\d,]+ files  [\d.]+ (B|KiB|MiB|GiB)\/s  ETA \S+/)
  expect(result.stdout).toContain('backup written:')
  // quiet: no progress with --quiet even on a terminal
  const quiet = spawnSync('script', ['-qec', `${command} -q`, '/dev/null'], { encoding: 'utf8', timeout: 120_000 })
  expect(quiet.stdout).not.toContain('ETA')
}, 300_000)

test('every common reader sees every member: Python tarfile streaming, GNU tar, bsdtar, busybox tar, gunzip -t', async () => {
  const out = join(dir, 'readers')
  mkdirSync(out)
  expect((await backup(['--output', out, '-q'])).code).toBe(0)
  const archive = join(out, readdirSync(out)[0]!)
  const gnu = tarList(archive)
  expect(gnu.length).toBeGreaterThan(20)
  const python = spawnSync('python3', ['-c', "import sys,tarfile\nwith tarfile.open(fileobj=sys.stdin.buffer, mode='r|gz') as t:\n  for m in t: print(m.name + ('/' if m.isdir() else ''))"], { input: readFileSync(archive), encoding: 'utf8' })
  expect(python.stderr).toBe('')
  expect(python.stdout.trimEnd().split('\n')).toEqual(gnu)
  const bsd = spawnSync('bsdtar', ['-tzf', archive], { encoding: 'utf8' })
  expect(bsd.status).toBe(0)
  expect(bsd.stdout.trimEnd().split('\n')).toEqual(gnu)
  const busybox = spawnSync('busybox', ['tar', '-tzf', archive], { encoding: 'utf8' })
  expect(busybox.status).toBe(0)
  expect(busybox.stdout.trimEnd().split('\n').length).toBe(gnu.length)
  expect(spawnSync('gunzip', ['-t', archive]).status).toBe(0)
})
