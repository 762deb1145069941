import { afterEach, beforeEach, expect, setDefaultTimeout, test } from 'bun:test'
import { spawnSync } from 'node:child_process'
import { chmodSync, chownSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { tarList } from '../helpers/archive.ts'
import { chainBackups, twoMoltFleet, type ChainBackup } from '../helpers/chain.ts'
import { runCli } from '../helpers/cli.ts'
import { removeDir } from '../helpers/fleet.ts'

// whole backups and restores through the real CLI: seconds each on a loaded machine
setDefaultTimeout(60_000)

/**
 * state.jsonl is written before the molts are streamed: it lists a file as held even when the
 * backup then could not archive it whole (unreadable, vanished, a read that failed part-way).
 * Such a file, unchanged on the host at the next --incremental, must be stored by it: an archive
 * that says it is good never relies on a file no archive of its chain holds whole.
 */
let dir: string
let base: string
let out: string
let backup: ChainBackup
beforeEach(() => {
  const fleet = twoMoltFleet()
  ;({ dir, base, out } = fleet)
  backup = chainBackups(fleet)
})
afterEach(() => removeDir(dir))

/** the molt files an archive holds (no folders, no lists) */
const stored = (archive: string) => tarList(archive).filter((m) => !m.endsWith('/') && (m.startsWith('alpha/') || m.startsWith('bravo/')))

/** `restore --from` into a new base dir, as root; the new base dir. */
async function restoreInto(archive: string, name: string): Promise<string> {
  const target = join(dir, name)
  mkdirSync(target)
  const r = await runCli(['-d', target, 'fleet', 'restore', '--from', archive, '--skip-users', '--skip-cron', '--yes'])
  expect(r.stderr).not.toContain('broken chain')
  expect(r.code).toBe(0)
  return target
}

/** verify of an archive and its chain, through the CLI */
async function verified(archive: string): Promise<void> {
  const r = await runCli(['-d', base, 'fleet', 'verify', archive])
  expect(r.stdout + r.stderr).not.toContain('broken chain')
  expect(r.code).toBe(0)
}

/**
 * The second incremental after a backup that missed `rel`: it is stored, restore --from gives its
 * content, and the third (nothing touched) leaves it to the chain again and restores it too.
 */
async function healsAfter(first: { path: string | null }, rel: string, content: string): Promise<void> {
  const second = await backup()
  expect(second.manifest.kind).toBe('incremental')
  expect(second.manifest.parent?.file).toBe(first.path!.split('/').pop())
  expect(stored(second.path!)).toContain(`alpha/${rel}`)
  await verified(second.path!)
  expect(readFileSync(join(await restoreInto(second.path!, 'second'), 'alpha', rel), 'utf8')).toBe(content)

  // the unchanged happy path: stored whole once, it is left to the chain from then on
  await leftToChainAfter(second, rel, content)
}

/** The next incremental, nothing touched since `previous` stored `rel` whole: it leaves it to the chain, and restores it. */
async function leftToChainAfter(previous: { path: string | null }, rel: string, content: string): Promise<void> {
  const next = await backup()
  expect(next.manifest.parent?.file).toBe(previous.path!.split('/').pop())
  expect(stored(next.path!)).not.toContain(`alpha/${rel}`)
  expect(next.incremental!.carried_files).toBeGreaterThan(0)
  await verified(next.path!)
  expect(readFileSync(join(await restoreInto(next.path!, 'third'), 'alpha', rel), 'utf8')).toBe(content)
}

// No device here can fail a read part-way for real (no device-mapper, no FUSE): the read fault is injected.
test('after a read that failed part-way (damaged, --allow-partial), the next --incremental is a full archive that holds the file: no chain relies on the damaged one', async () => {
  const rel = '.openclaw/workspace/MEMORY.md'
  const content = 'what the agent remembers\n'.repeat(2000)
  writeFileSync(join(base, 'alpha', rel), content)
  const first = await backup({ allowPartial: true }, { readFault: (member) => (member === `alpha/${rel}` ? 'EIO' : null) })
  expect(first.partial).toBe(true)
  expect(first.notes).toContainEqual(expect.objectContaining({ kind: 'unreadable', path: `alpha/${rel}`, damaged: true }))
  // the zero-filled member is in the archive, without a checksum: verify and restore refuse alpha of it
  expect(stored(first.path!)).toContain(`alpha/${rel}`)
  const refused = await runCli(['-d', base, 'fleet', 'verify', first.path!])
  expect(refused.code).toBe(1)
  expect(refused.stdout + refused.stderr).toContain(`"alpha/${rel}": not in checksums.sha256`)

  const second = await backup()
  expect(second.manifest.kind).toBe('full')
  expect(second.incremental!.full_reason).toBe(`the last archive, ${first.path!.split('/').pop()}, holds 1 file(s) damaged by a read error ("alpha/${rel}"): verify and restore refuse its molt`)
  expect(stored(second.path!)).toContain(`alpha/${rel}`)
  await verified(second.path!)
  expect(readFileSync(join(await restoreInto(second.path!, 'second'), 'alpha', rel), 'utf8')).toBe(content)
  // the new chain: nothing touched, nothing stored again
  await leftToChainAfter(second, rel, content)
})

test('a file that vanished between planning and reading, and is back unchanged (same inode, same ctime), is stored by the next incremental', async () => {
  const folder = join(base, 'alpha', '.openclaw', 'workspace', 'notes')
  mkdirSync(folder)
  const rel = '.openclaw/workspace/notes/today.md'
  const content = '# today\n\nreplied to the landlord\n'
  writeFileSync(join(base, 'alpha', rel), content)
  const before = statSync(join(base, 'alpha', rel), { bigint: true })
  // its folder moves away as the backup comes to it, and comes back after: the file itself is untouched
  const away = join(dir, 'notes-away')
  const first = await backup({}, { onFile: (member) => member === `alpha/${rel}` && renameSync(folder, away) })
  renameSync(away, folder)
  const after = statSync(join(base, 'alpha', rel), { bigint: true })
  expect([after.ino, after.ctimeNs, after.mtimeNs, after.size]).toEqual([before.ino, before.ctimeNs, before.mtimeNs, before.size])
  expect(first.partial).toBe(false)
  expect(first.notes).toContainEqual(expect.objectContaining({ kind: 'vanished', path: `alpha/${rel}` }))
  expect(stored(first.path!)).not.toContain(`alpha/${rel}`)
  await healsAfter(first, rel, content)
})

/**
 * Root reads every file whatever its mode: "permission denied" is made real by making the first
 * backup as `nobody` (runuser), in-process in a small script so its folder can be closed (0000)
 * as the backup comes to the file — readable when planned, EACCES when opened. The folder opens
 * again after; the file itself is untouched. The next backups are root's.
 */
const canSwitch = process.getuid?.() === 0 && spawnSync('runuser', ['-u', 'nobody', '--', 'true']).status === 0

test.skipIf(!canSwitch)('a file that could not be opened (EACCES, --allow-partial) and is readable again, unchanged, is stored by the next incremental', async () => {
  const nobody = Number(spawnSync('id', ['-u', 'nobody'], { encoding: 'utf8' }).stdout.trim())
  const folder = join(base, 'alpha', '.openclaw', 'workspace', 'private')
  mkdirSync(folder)
  const rel = '.openclaw/workspace/private/plan.md'
  const content = '# the plan\n\nmove the mail server on friday\n'
  writeFileSync(join(base, 'alpha', rel), content)
  chmodSync(join(base, 'alpha', rel), 0o644)
  // nobody must get to the fleet, take its lock and write the archive
  chmodSync(dir, 0o755)
  for (const m of ['alpha', 'bravo']) chmodSync(join(base, m), 0o755)
  for (const d of [base, out, folder]) chownSync(d, nobody, nobody)
  const before = statSync(join(base, 'alpha', rel), { bigint: true })
  const script = join(dir, 'partial-as-nobody.ts')
  writeFileSync(
    script,
    `import { chmodSync } from 'node:fs'
import { backupFleet } from ${JSON.stringify(resolve(import.meta.dir, '../../src/archive/backup.ts'))}
const [base, out, member, folder] = process.argv.slice(2)
const r = await backupFleet({ baseDir: base, output: out + '/', clmntVersion: '9.9.9', crontab: false, incremental: true, allowPartial: true, now: new Date(Date.UTC(2026, 1, 2, 10, 0, 0)) }, { onFile: (m) => { if (m === member) chmodSync(folder, 0) } })
chmodSync(folder, 0o755)
console.log(JSON.stringify({ path: r.path, unreadable: r.unreadable }))
`,
  )
  chmodSync(script, 0o644)
  const env = { PATH: process.env.PATH, HOME: '/tmp', NO_COLOR: '1', BUN_RUNTIME_TRANSPILER_CACHE_PATH: '0' }
  const run = spawnSync('runuser', ['-u', 'nobody', '--', process.execPath, script, base, out, `alpha/${rel}`, folder], { encoding: 'utf8', env, timeout: 30_000 })
  expect(run.stderr).toBe('')
  expect(run.status).toBe(0)
  const first = JSON.parse(run.stdout) as { path: string; unreadable: { path: string; reason: string }[] }
  expect(first.unreadable).toContainEqual({ path: `alpha/${rel}`, reason: 'EACCES' })
  const after = statSync(join(base, 'alpha', rel), { bigint: true })
  expect([after.ino, after.ctimeNs, after.mtimeNs, after.mode]).toEqual([before.ino, before.ctimeNs, before.mtimeNs, before.mode])
  expect(stored(first.path)).not.toContain(`alpha/${rel}`)
  await healsAfter(first, rel, content)
})
