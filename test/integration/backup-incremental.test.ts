import { afterEach, beforeEach, expect, setDefaultTimeout, test } from 'bun:test'
import { spawnSync } from 'node:child_process'
import { copyFileSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, utimesSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { readFront } from '../../src/archive/chain.ts'
import { listBackups } from '../../src/archive/list.ts'
import { scheduledBackupArgs } from '../../src/commands/fleet/_backup-schedule.ts'
import { run, tarList } from '../helpers/archive.ts'
import { chainBackups, churn, twoMoltFleet, type ChainBackup } from '../helpers/chain.ts'
import { runCli } from '../helpers/cli.ts'
import { removeDir } from '../helpers/fleet.ts'
import { readTree, treeDiff } from '../helpers/tree.ts'

// whole backups and restores through the real CLI: seconds each on a loaded machine
setDefaultTimeout(60_000)

// `fleet backup --incremental` and its chains, on real files, read back by GNU tar and restored.
let dir: string
let base: string
let out: string
/** in-process, as the CLI does it; each archive a second after the last */
let backup: ChainBackup
beforeEach(() => {
  const fleet = twoMoltFleet({ mail: true })
  ;({ dir, base, out } = fleet)
  backup = chainBackups(fleet)
})
afterEach(() => removeDir(dir))

const cli = (...args: string[]) => runCli(['-d', base, ...args])

/** Restore an archive into a new base dir; the molts' trees, for comparison (.molt-info carries RESTORED=, a time). */
async function restoreInto(archive: string, name: string): Promise<Map<string, ReturnType<typeof readTree>>> {
  const target = join(dir, name)
  mkdirSync(target)
  const r = await runCli(['-d', target, 'fleet', 'restore', '--from', archive, '--skip-users', '--skip-cron', '--yes'])
  expect(r.stderr).not.toContain('error')
  expect(r.code).toBe(0)
  return new Map(['alpha', 'bravo'].map((m) => [m, readTree(join(target, m))]))
}

function sameTrees(a: Map<string, ReturnType<typeof readTree>>, b: Map<string, ReturnType<typeof readTree>>): void {
  for (const molt of ['alpha', 'bravo']) expect([molt, treeDiff(a.get(molt)!, b.get(molt)!, { ignore: (rel) => rel === '.molt-info' || rel === '' })]).toEqual([molt, []])
}

test('1% churn: the incremental archive holds only the change, names its parent and its deletions, and GNU tar extracts it', async () => {
  const first = await backup()
  expect(first.manifest.kind).toBe('full')
  expect(first.incremental).toMatchObject({ parent: null, full_reason: `no earlier good archive of this fleet in ${out}` })
  churn(base, 1)
  const second = await backup()
  expect(second.manifest.kind).toBe('incremental')
  const parentFront = await readFront(first.path!)
  expect(second.manifest.parent).toEqual({ file: first.path!.split('/').pop()!, size: statSync(first.path!).size, manifest_sha256: parentFront.manifestSha256, timestamp: first.manifest.timestamp })
  expect(second.manifest.chain).toMatchObject({ full: first.path!.split('/').pop()!, depth: 1 })
  expect(second.manifest.molts.find((m) => m.name === 'alpha')!.deleted).toEqual(['Maildir/cur/text-11:2,S'])
  // every file of the full one but the 2 global files (always in), the changed one and the deleted one
  expect(second.incremental).toMatchObject({ deleted: 1, carried_files: first.files - 2 - 1 - 1 })
  // the changed file, the new one, and the global files: nothing else
  const files = tarList(second.path!).filter((m) => !m.endsWith('/') && !['manifest.json', 'state.jsonl', 'index.jsonl', 'checksums.sha256'].includes(m))
  expect(files.sort()).toEqual(['alpha/.openclaw/workspace/current', 'alpha/.openclaw/skills/mail', 'alpha/Maildir/cur/text-1:2,S', 'bravo/.openclaw/workspace/current', 'bravo/.openclaw/skills/mail', 'bravo/Maildir/new/delivered-1', 'global/clmnt.json', 'global/molts.json'].sort())
  expect(second.bytesOut * 10).toBeLessThan(first.bytesOut)

  const extracted = join(dir, 'x')
  mkdirSync(extracted)
  run('tar', ['-xzf', second.path!, '-C', extracted])
  const check = spawnSync('sha256sum', ['-c', '--strict', 'checksums.sha256'], { cwd: extracted, encoding: 'utf8' })
  expect(check.status).toBe(0)
  expect(check.stdout).toContain('alpha/Maildir/cur/text-1:2,S: OK')
  expect(check.stdout).toContain('state.jsonl: OK')
})

test('a chain of 3: restore --from each point gives what a full backup at that point gives; deleted files stay deleted', async () => {
  const full = join(dir, 'full')
  mkdirSync(full)
  const points: { incremental: string; full: string }[] = []
  for (let round = 0; round < 3; round++) {
    if (round) churn(base, round)
    const inc = await backup()
    const whole = await backup({ output: `${full}/`, incremental: false })
    points.push({ incremental: inc.path!, full: whole.path! })
  }
  expect(readdirSync(out)).toHaveLength(3)
  const listing = await listBackups(out)
  expect(listing.map((l) => [l.kind, l.parent])).toEqual([
    ['incremental', listing[1]!.file],
    ['incremental', listing[2]!.file],
    ['full', null],
  ])
  for (const [i, point] of points.entries()) sameTrees(await restoreInto(point.incremental, `inc-${i}`), await restoreInto(point.full, `full-${i}`))
  // round 1 deleted text-11; round 2 text-12: neither comes back from the last incremental
  const last = readTree(join(dir, 'inc-2', 'alpha'))
  expect(last.has('Maildir/cur/text-11:2,S')).toBe(false)
  expect(last.has('Maildir/cur/text-12:2,S')).toBe(false)
  expect(last.has('Maildir/cur/text-13:2,S')).toBe(true)

  const verify = await cli('fleet', 'verify', points[2]!.incremental)
  expect(verify.code).toBe(0)
  expect(verify.stdout).toContain('its chain of 2 earlier archive(s) too')
  const shown = await cli('fleet', 'list-backups', '--backup-dir', out)
  expect(shown.stdout).toContain(`incr. of ${listing[1]!.file}`)
})

test('restore --select and --only from an incremental archive: what the same options give from a full archive of that state', async () => {
  await backup()
  churn(base, 1)
  const inc = await backup()
  const whole = await backup({ output: join(dir, 'whole.tar.gz'), incremental: false })
  for (const [name, extra] of [['select', ['--select', 'alpha']], ['only', ['--only', 'maildir,config']]] as const) {
    const trees: Map<string, ReturnType<typeof readTree>>[] = []
    for (const archive of [inc.path!, whole.path!]) {
      const target = join(dir, `${name}-${trees.length}`)
      mkdirSync(target)
      const r = await runCli(['-d', target, 'fleet', 'restore', '--from', archive, '--skip-users', '--skip-cron', '--yes', ...extra])
      expect(r.code).toBe(0)
      trees.push(new Map(readdirSync(target).filter((m) => m === 'alpha' || m === 'bravo').map((m) => [m, readTree(join(target, m))])))
    }
    expect([...trees[0]!.keys()].sort()).toEqual([...trees[1]!.keys()].sort())
    for (const molt of trees[0]!.keys()) expect([name, molt, treeDiff(trees[0]!.get(molt)!, trees[1]!.get(molt)!, { ignore: (rel) => rel === '.molt-info' || rel === '' })]).toEqual([name, molt, []])
  }
})

test('a broken chain is refused with one line: parent missing, parent replaced', async () => {
  const first = await backup()
  churn(base, 1)
  const second = await backup()
  const stash = join(dir, 'stash.tar.gz')
  renameSync(first.path!, stash)
  const parentName = first.path!.split('/').pop()!
  for (const command of [['fleet', 'restore', '--from', second.path!, '--skip-users', '--yes'], ['fleet', 'verify', second.path!]]) {
    const r = await cli(...command)
    expect(r.code).not.toBe(0)
    expect(r.stdout + r.stderr).toContain(`broken chain: ${second.path!.split('/').pop()} needs its parent ${parentName}, which is missing from ${out}`)
  }
  // another archive under the parent's name: not the one the incremental was made from
  const other = await backup({ output: join(dir, 'other.tar.gz'), incremental: false })
  copyFileSync(other.path!, first.path!)
  const r = await cli('fleet', 'restore', '--from', second.path!, '--skip-users', '--yes')
  expect(r.code).not.toBe(0)
  expect(r.stderr.trim().split('\n')).toHaveLength(1)
  expect(r.stderr).toContain(`its parent ${parentName} was changed or replaced since`)
  expect(readdirSync(dir).filter((n) => n.startsWith('.clmnt-restore'))).toEqual([])
})

test('a parent damaged inside (same size, same manifest) is found by verify, restore --dry-run and restore', async () => {
  const first = await backup()
  churn(base, 1)
  const second = await backup()
  const bytes = readFileSync(first.path!)
  bytes[Math.floor(bytes.length * 0.6)]! ^= 0x55
  writeFileSync(first.path!, bytes)
  const name = first.path!.split('/').pop()!
  const verify = await cli('fleet', 'verify', second.path!)
  expect(verify.code).toBe(1)
  expect(verify.stdout).toContain(`${name} (in its chain): `)
  const target = join(dir, 'restored')
  mkdirSync(target)
  const dry = await runCli(['-d', target, 'fleet', 'restore', '--from', second.path!, '--skip-users', '--dry-run'])
  expect(dry.code).not.toBe(0)
  expect(dry.stdout + dry.stderr).toContain(`${name} (in its chain): `)
  const real = await runCli(['-d', target, 'fleet', 'restore', '--from', second.path!, '--skip-users', '--skip-cron', '--yes'])
  expect(real.code).not.toBe(0)
  expect(readdirSync(target).filter((n) => n === 'alpha' || n === 'bravo')).toEqual([])
})

test('--keep never deletes an archive a kept incremental needs', async () => {
  const files: string[] = []
  for (let round = 0; round < 4; round++) {
    if (round) churn(base, round)
    files.push((await backup({ keep: 2 })).path!)
  }
  // the 2 newest are incrementals: their parents up to the full one stay
  expect(readdirSync(out).sort()).toEqual(files.map((f) => f.split('/').pop()!).sort())
  // a new full archive starts a new chain: with --keep 1, the old chain has no kept child any more
  const fresh = await backup({ keep: 1, incremental: false })
  expect(readdirSync(out)).toEqual([fresh.path!.split('/').pop()!])
})

test('no usable parent: a legacy archive, other options, a full one too old (--full-every): a full archive, and the output says why', async () => {
  // the bash toolkit's archive of this very fleet: it has no state to compare with
  const staging = join(dir, 'legacy')
  mkdirSync(join(staging, 'alpha'), { recursive: true })
  writeFileSync(join(staging, 'alpha', '.molt-info'), 'MOLT_NAME=alpha\n')
  writeFileSync(join(staging, 'manifest.json'), JSON.stringify({ version: '1.0', timestamp: '2026-02-02T09:00:00Z', hostname: hostname(), base_dir: base, molts: [{ name: 'alpha', port: '19001' }] }))
  run('tar', ['-czf', join(out, 'fleet-2026-02-02-090000.tar.gz'), '-C', staging, '.'])
  const r = await cli('fleet', 'backup', '--incremental', '--output', `${out}/`)
  expect(r.code).toBe(0)
  expect(r.stderr).toContain("--incremental: the last archive, fleet-2026-02-02-090000.tar.gz, is the bash toolkit's (no state of what it holds): taking a full backup")
  expect(r.stdout).toContain('kind: full')

  const withOptions = await backup({ excludeLogs: true })
  expect(withOptions.incremental!.full_reason).toContain('was made with other --select/--exclude options')
  const day = 24 * 3600_000
  const start = Date.UTC(2026, 2, 1)
  const weekly = join(dir, 'weekly')
  mkdirSync(weekly)
  const full = await backup({ now: new Date(start), fullEveryMs: 7 * day, output: `${weekly}/` })
  expect(full.manifest.kind).toBe('full')
  churn(base, 1)
  const inc = await backup({ now: new Date(start + 6 * day), fullEveryMs: 7 * day, output: `${weekly}/` })
  expect(inc.manifest.kind).toBe('incremental')
  const again = await backup({ now: new Date(start + 8 * day), fullEveryMs: 7 * day, output: `${weekly}/` })
  expect(again.manifest.kind).toBe('full')
  expect(again.incremental!.full_reason).toMatch(/^the chain's full archive, fleet-2026-03-01-\d{6}\.tar\.gz, is 8d old \(--full-every 7d\)$/)
})

/** regular files of an archive under a folder of a molt */
const held = (archive: string, under: string) => tarList(archive).filter((m) => m.startsWith(under) && !m.endsWith('/')).sort()

test('the checksum list confirms: touched, chmod-ed, replaced by an identical copy or rewritten with the same bytes: not stored again, and restored with its new time and mode; a same-size rewrite with other bytes is stored', async () => {
  const cur = join(base, 'alpha', 'Maildir', 'cur')
  const at = (n: number) => join(cur, `text-${n}:2,S`)
  await backup()
  utimesSync(at(1), 1_800_000_000, 1_800_000_000)
  spawnSync('chmod', ['0640', at(2)])
  copyFileSync(at(3), join(cur, 'tmp'))
  renameSync(join(cur, 'tmp'), at(3))
  writeFileSync(at(4), readFileSync(at(4)))
  // same size, other bytes, and the old mtime put back: only ctime (and the checksum) tell
  const before = statSync(at(5))
  const text = readFileSync(at(5), 'latin1')
  writeFileSync(at(5), `${text.slice(0, -1)}${text.endsWith('x') ? 'y' : 'x'}`, 'latin1')
  utimesSync(at(5), before.atime, before.mtime)
  const second = await backup()
  expect(held(second.path!, 'alpha/Maildir/cur/')).toEqual(['alpha/Maildir/cur/text-5:2,S'])
  expect(second.incremental).toMatchObject({ confirmed_files: 4 })
  const wholeSecond = await backup({ output: join(dir, 'whole-2.tar.gz'), incremental: false })
  // a second round on files the chain carries (their digest comes from the state, not a checksum list)
  utimesSync(at(1), 1_800_000_100, 1_800_000_100)
  spawnSync('chmod', ['0600', at(2)])
  const third = await backup()
  expect(held(third.path!, 'alpha/Maildir/cur/')).toEqual([])
  expect(third.incremental).toMatchObject({ confirmed_files: 2 })
  const wholeThird = await backup({ output: join(dir, 'whole-3.tar.gz'), incremental: false })

  const restored = await restoreInto(second.path!, 'second')
  sameTrees(restored, await restoreInto(wholeSecond.path!, 'whole-second'))
  expect(restored.get('alpha')!.get('Maildir/cur/text-1:2,S')!.mtimeNs).toBe(1_800_000_000_000_000_000n)
  expect(restored.get('alpha')!.get('Maildir/cur/text-2:2,S')!.mode).toBe(0o640)
  const last = await restoreInto(third.path!, 'third')
  sameTrees(last, await restoreInto(wholeThird.path!, 'whole-third'))
  expect(last.get('alpha')!.get('Maildir/cur/text-1:2,S')!.mtimeNs).toBe(1_800_000_100_000_000_000n)
  expect(last.get('alpha')!.get('Maildir/cur/text-2:2,S')!.mode).toBe(0o600)
  expect(readFileSync(join(dir, 'third', 'alpha', 'Maildir', 'cur', 'text-5:2,S'), 'latin1')).toBe(readFileSync(at(5), 'latin1'))
})

test('a parent whose checksum list cannot be reached (recompressed: no molt index) is no parent: which files it holds whole is not known; the full archive says why', async () => {
  const first = await backup()
  const recompressed = spawnSync('sh', ['-c', `gzip -dc '${first.path!}' | gzip -c > '${first.path!}.re' && mv '${first.path!}.re' '${first.path!}'`])
  expect(recompressed.status).toBe(0)
  utimesSync(join(base, 'alpha', 'Maildir', 'cur', 'text-1:2,S'), 1_800_000_000, 1_800_000_000)
  const second = await backup()
  expect(second.manifest.kind).toBe('full')
  expect(second.incremental!.full_reason).toBe(`the checksum list of the last archive, ${first.path!.split('/').pop()}, cannot be read (it has no molt index): which files it holds whole is not known`)
  expect(held(second.path!, 'alpha/Maildir/cur/')).toEqual(held(first.path!, 'alpha/Maildir/cur/'))
  // the chain goes on from the full one
  const third = await backup()
  expect(third.manifest.parent?.file).toBe(second.path!.split('/').pop())
  expect(held(third.path!, 'alpha/Maildir/cur/')).toEqual([])
})

test('restore --from an incremental archive confirms what the chain gives against the sha256 its state recorded', async () => {
  const first = await backup()
  churn(base, 1)
  const inc = await backup()
  // the state says another content for a file the chain carries; the archive stays consistent in itself
  const tar = Buffer.from(Bun.gunzipSync(readFileSync(inc.path!)))
  const text = tar.toString('latin1')
  const header = text.indexOf('state.jsonl\0')
  expect(header % 512).toBe(0)
  const size = Number.parseInt(text.slice(header + 124, header + 136).replace(/\0.*$/, '').trim(), 8)
  const stateAt = header + 512
  const sha = () => new Bun.CryptoHasher('sha256').update(tar.subarray(stateAt, stateAt + size)).digest('hex')
  const before = sha()
  const line = text.indexOf('["alpha","Maildir/cur/text-2:2,S","f",', stateAt)
  const digestAt = text.indexOf(',0,"', line) + 4
  expect(text.slice(digestAt, digestAt + 64)).toMatch(/^[0-9a-f]{64}$/)
  tar.write('0'.repeat(64), digestAt, 'latin1')
  const sumAt = text.lastIndexOf(`${before}  state.jsonl`)
  expect(sumAt).toBeGreaterThan(stateAt + size)
  tar.write(sha(), sumAt, 'latin1')
  const tampered = join(dir, 'tampered.tar.gz')
  writeFileSync(tampered, Bun.gzipSync(tar))
  // it sits beside its parent, as restore looks for it
  const beside = join(out, 'fleet-2026-02-02-100059.tar.gz')
  renameSync(tampered, beside)
  const target = join(dir, 'restored')
  mkdirSync(target)
  const r = await runCli(['-d', target, 'fleet', 'restore', '--from', beside, '--skip-users', '--skip-cron', '--yes'])
  expect(r.code).not.toBe(0)
  expect(r.stderr).toContain(`broken chain: "alpha/Maildir/cur/text-2:2,S" in ${first.path!.split('/').pop()} is not the content fleet-2026-02-02-100059.tar.gz left to its chain (sha256 `)
  expect(readdirSync(target).filter((n) => n === 'alpha' || n === 'bravo')).toEqual([])
})

test('a SQLite database always goes in: a commit can sit in its -wal while the database file stays untouched', async () => {
  const { Database } = await import('bun:sqlite')
  mkdirSync(join(base, 'alpha', '.openclaw', 'state'), { recursive: true })
  const path = join(base, 'alpha', '.openclaw', 'state', 'openclaw.sqlite')
  const db = new Database(path)
  try {
    db.run('PRAGMA journal_mode=WAL')
    db.run('PRAGMA wal_autocheckpoint=0')
    db.run('CREATE TABLE t (x TEXT)')
    db.run("INSERT INTO t VALUES ('before')")
    db.run('PRAGMA wal_checkpoint(TRUNCATE)')
    await backup()
    const before = statSync(path, { bigint: true })
    db.run("INSERT INTO t VALUES ('after')")
    // the commit is in the -wal: the database file is as the parent saw it
    expect(statSync(path, { bigint: true }).mtimeNs).toBe(before.mtimeNs)
    const inc = await backup()
    expect(tarList(inc.path!)).toContain('alpha/.openclaw/state/openclaw.sqlite')
    const x = join(dir, 'x')
    mkdirSync(x)
    run('tar', ['-xzf', inc.path!, '-C', x, 'alpha/.openclaw/state/openclaw.sqlite'])
    const copy = new Database(join(x, 'alpha', '.openclaw', 'state', 'openclaw.sqlite'), { readonly: true })
    expect(copy.query('SELECT x FROM t ORDER BY rowid').all()).toEqual([{ x: 'before' }, { x: 'after' }])
    copy.close()
  } finally {
    db.close()
  }
})

test('a schedule keeps --incremental and --full-every', () => {
  expect(scheduledBackupArgs({ incremental: true, 'full-every': '7d', keep: '14' }, '/srv/fleet')).toEqual(['fleet', 'backup', '--base-dir', '/srv/fleet', '--incremental', '--full-every', '7d', '--keep', '14', '-q'])
})
