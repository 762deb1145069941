import { afterEach, beforeEach, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { basename, join } from 'node:path'
import type { BackupResult } from '../../src/archive/backup.ts'
import { readFront } from '../../src/archive/chain.ts'
import { Remote } from '../../src/offsite/remote.ts'
import { resolveS3Settings } from '../../src/offsite/settings.ts'
import { uploadArchive } from '../../src/offsite/upload.ts'
import { gunzipAll } from '../helpers/archive.ts'
import { chainBackups, churn, twoMoltFleet, type ChainBackup } from '../helpers/chain.ts'
import { runCli } from '../helpers/cli.ts'
import { removeDir } from '../helpers/fleet.ts'
import { startS3 } from '../helpers/s3.ts'

// whole backups, verifies and restores through the real CLI: seconds each on a loaded machine
setDefaultTimeout(90_000)

// `fleet verify <incremental>` answers for `restore --from <incremental>`: what the chain gives for
// every file the archive left to it (state.jsonl, held 0) must be the content the archive recorded.
// A parent with its name, size and manifest intact can still hold other content; verify reads
// the parents' checksum lists against the recorded digests, as restore compares what it takes.
let dir: string
let base: string
let out: string
let backup: ChainBackup
beforeEach(() => {
  const fleet = twoMoltFleet({ mail: true })
  dir = fleet.dir
  base = fleet.base
  // in the base dir, where doctor looks for archives
  out = join(base, 'backups')
  mkdirSync(out, { mode: 0o700 })
  backup = chainBackups({ ...fleet, out })
})
afterEach(() => removeDir(dir))

const CARRIED = 'alpha/Maildir/cur/text-2:2,S'
const sha256 = (bytes: Uint8Array) => new Bun.CryptoHasher('sha256').update(bytes).digest('hex')
const name = (r: BackupResult) => basename(r.path!)

/** A full archive, then an incremental one after churn: text-2 of alpha is left to the chain. */
async function chain(): Promise<{ first: BackupResult; second: BackupResult }> {
  const first = await backup()
  churn(base, 1)
  const second = await backup()
  expect(second.manifest.kind).toBe('incremental')
  return { first, second }
}

/** Where a member's content starts in a plain tar, and its size (its ustar header names it in full). */
function memberData(tar: Buffer, member: string): { at: number; size: number } {
  for (let header = tar.indexOf(`${member}\0`, 0, 'latin1'); header >= 0; header = tar.indexOf(`${member}\0`, header + 1, 'latin1')) {
    if (header % 512 !== 0) continue
    const size = Number.parseInt(tar.toString('latin1', header + 124, header + 136).replace(/\0.*$/, '').trim(), 8)
    return { at: header + 512, size }
  }
  throw new Error(`${member}: no such member`)
}

/** Replace a member's checksum line's digest (same length) in checksums.sha256. */
function relist(tar: Buffer, member: string, before: string, after: string): void {
  const list = memberData(tar, 'checksums.sha256')
  const at = tar.indexOf(`${before}  ${member}\n`, list.at, 'latin1')
  expect(at).toBeGreaterThan(list.at)
  expect(at).toBeLessThan(list.at + list.size)
  tar.write(after, at, 'latin1')
}

/**
 * Gzip `tar` into exactly `size` bytes: the gzip header's comment field (FCOMMENT, skipped by every
 * gunzip) takes what the tighter compression saved.
 */
function gzipTo(tar: Buffer, size: number): Buffer {
  const gz = Buffer.from(Bun.gzipSync(new Uint8Array(tar), { level: 9 }))
  const pad = size - gz.length - 1
  expect(pad).toBeGreaterThanOrEqual(0)
  const head = Buffer.from(gz.subarray(0, 10))
  head[3] = head[3]! | 0x10
  return Buffer.concat([head, Buffer.alloc(pad, 'p'), Buffer.from([0]), gz.subarray(10)])
}

/**
 * The parent rewritten by hand: the same manifest.json bytes, the same file size, every checksum
 * line true of what it holds, and one byte of `member` changed. Verified alone it is a sound archive.
 */
async function rewriteParent(path: string, member: string): Promise<{ before: string; after: string }> {
  return (await rewriteMembers(path, [member]))[0]!
}

async function rewriteMembers(path: string, members: string[]): Promise<{ before: string; after: string }[]> {
  const front = await readFront(path)
  const size = statSync(path).size
  const tar = Buffer.from(gunzipAll(path))
  const digests = members.map((member) => {
    const data = memberData(tar, member)
    const before = sha256(tar.subarray(data.at, data.at + data.size))
    tar[data.at] = tar[data.at] === 0x78 ? 0x79 : 0x78
    const after = sha256(tar.subarray(data.at, data.at + data.size))
    relist(tar, member, before, after)
    return { before, after }
  })
  writeFileSync(path, gzipTo(tar, size))
  expect(statSync(path).size).toBe(size)
  expect((await readFront(path)).manifestSha256).toBe(front.manifestSha256)
  return digests
}

/** Change bytes of the archive's state.jsonl (same length), its checksum line updated to match. */
function editState(path: string, edit: (state: string) => string): void {
  const tar = Buffer.from(gunzipAll(path))
  const data = memberData(tar, 'state.jsonl')
  const text = tar.toString('latin1', data.at, data.at + data.size)
  const edited = edit(text)
  expect(edited).not.toBe(text)
  expect(edited.length).toBe(text.length)
  const before = sha256(tar.subarray(data.at, data.at + data.size))
  tar.write(edited, data.at, 'latin1')
  relist(tar, 'state.jsonl', before, sha256(tar.subarray(data.at, data.at + data.size)))
  writeFileSync(path, Bun.gzipSync(new Uint8Array(tar)))
}

const verify = async (archive: string, ...args: string[]) => runCli(['-d', base, 'fleet', 'verify', archive, ...args])
const verifyJson = async (archive: string) => {
  const r = await verify(archive, '--json')
  return { code: r.code, json: JSON.parse(r.stdout) as { ok: boolean; problems: string[]; molts: { name: string; ok: boolean; problems: string[] }[] } }
}

/** A restore into a new base dir: it must refuse, change nothing, and say `line`. */
async function restoreRefuses(archive: string, line: string): Promise<void> {
  const target = join(dir, `restored-${Math.random().toString(36).slice(2)}`)
  mkdirSync(target)
  const r = await runCli(['-d', target, 'fleet', 'restore', '--from', archive, '--skip-users', '--skip-cron', '--yes'])
  expect(r.code).not.toBe(0)
  expect(r.stderr).toContain(line)
  expect(readdirSync(target).filter((n) => n === 'alpha' || n === 'bravo')).toEqual([])
}

/** verify (text and --json) fails with `line` as its one problem, and restore refuses with it too. */
async function bothRefuse(archive: string, line: string): Promise<void> {
  const r = await verify(archive)
  expect(r.code).toBe(1)
  expect(r.stdout).toContain(`${archive}: ${line}\n`)
  const { json } = await verifyJson(archive)
  expect(json.problems).toEqual([line])
  await restoreRefuses(archive, line)
}

test('an untouched chain verifies, in text and --json', async () => {
  const { first, second } = await chain()
  const r = await verify(second.path!)
  expect(r.stderr).not.toContain('broken chain')
  expect(r.stdout).toContain(`: OK (2 molts, `)
  expect(r.stdout).toContain(`its chain of 1 earlier archive(s) too, from ${name(first)})`)
  expect(r.code).toBe(0)
  const { code, json } = await verifyJson(second.path!)
  expect(code).toBe(0)
  expect(json).toMatchObject({ ok: true, problems: [] })
  expect(json.molts.map((m) => [m.name, m.ok])).toEqual([
    ['alpha', true],
    ['bravo', true],
  ])
})

test('a parent with its name, size and manifest but other content for a file the chain carries: verify, restore --dry-run, restore and doctor --verify-latest refuse it, naming the file', async () => {
  const { first, second } = await chain()
  const { before, after } = await rewriteParent(first.path!, CARRIED)
  // sound on its own: only what the incremental recorded tells
  expect((await verify(first.path!)).code).toBe(0)
  const line = `broken chain: "${CARRIED}" in ${name(first)} is not the content ${name(second)} left to its chain (sha256 ${after.slice(0, 12)}…, recorded ${before.slice(0, 12)}…)`

  const r = await verify(second.path!)
  expect(r.code).toBe(1)
  expect(r.stdout.trim().split('\n')).toEqual([`${second.path!}: ${line}`])
  expect(r.stderr).toContain('restore would refuse alpha; --select bravo restores the rest')
  const { code, json } = await verifyJson(second.path!)
  expect(code).toBe(1)
  expect(json.ok).toBe(false)
  expect(json.problems).toEqual([line])
  expect(json.molts).toEqual([expect.objectContaining({ name: 'alpha', ok: false, problems: [line] }), expect.objectContaining({ name: 'bravo', ok: true, problems: [] })])

  const target = join(dir, 'dry')
  mkdirSync(target)
  const dry = await runCli(['-d', target, 'fleet', 'restore', '--from', second.path!, '--skip-users', '--dry-run'])
  expect(dry.code).not.toBe(0)
  expect(dry.stdout + dry.stderr).toContain(line)
  await restoreRefuses(second.path!, line)

  const doctor = await runCli(['doctor', '--json', '--verify-latest', '-d', base])
  const check = (JSON.parse(doctor.stdout) as { checks: { id: string; level: string; detail: string }[] }).checks.find((c) => c.id === 'backups.verify')
  expect(check).toMatchObject({ level: 'fail', detail: `${name(second)}: 1 problem(s), first: ${line}` })
  expect(doctor.code).toBe(1)
})

test('a digest state.jsonl recorded changed (the archive consistent in itself): verify fails as restore does', async () => {
  const { first, second } = await chain()
  let was = ''
  editState(second.path!, (state) =>
    state.replace(new RegExp(`(\\["alpha","Maildir/cur/text-2:2,S","f",[^\\n]*,0,")([0-9a-f]{64})"`), (_, head: string, digest: string) => {
      was = digest
      return `${head}${'0'.repeat(64)}"`
    }),
  )
  expect(was).toMatch(/^[0-9a-f]{64}$/)
  const line = `broken chain: "${CARRIED}" in ${name(first)} is not the content ${name(second)} left to its chain (sha256 ${was.slice(0, 12)}…, recorded 000000000000…)`
  await bothRefuse(second.path!, line)
})

test('a file state.jsonl leaves to the chain that no archive of it holds: verify fails as restore does', async () => {
  const { second } = await chain()
  editState(second.path!, (state) => state.replace('["alpha","Maildir/cur/text-2:2,S","f",', '["alpha","Maildir/cur/text-2:2,X","f",'))
  const line = 'broken chain: "alpha/Maildir/cur/text-2:2,X" unchanged since an earlier archive, but no archive of the chain holds it'
  await bothRefuse(second.path!, line)
})

test('the newest archive of the chain that holds a file is the one that must hold its content; past ten lines about a molt, a count', async () => {
  const { first, second } = await chain()
  churn(base, 2)
  const third = await backup()
  // text-1 changed before the second archive, which holds it: what the first holds is not what restore takes
  await rewriteParent(first.path!, 'alpha/Maildir/cur/text-1:2,S')
  const ok = await verify(third.path!)
  expect(ok.stdout).toContain(': OK (2 molts, ')
  expect(ok.code).toBe(0)
  const target = join(dir, 'restored')
  mkdirSync(target)
  const restored = await runCli(['-d', target, 'fleet', 'restore', '--from', third.path!, '--skip-users', '--skip-cron', '--yes'])
  expect(restored.stderr).not.toContain('broken chain')
  expect(restored.code).toBe(0)

  const { before, after } = await rewriteParent(second.path!, 'alpha/Maildir/cur/text-1:2,S')
  const many = await rewriteMembers(first.path!, Array.from({ length: 12 }, (_, i) => `alpha/Maildir/cur/text-${30 + i}:2,S`))
  const { code, json } = await verifyJson(third.path!)
  expect(code).toBe(1)
  const line = (n: number, from: BackupResult, d: { before: string; after: string }) => `broken chain: "alpha/Maildir/cur/text-${n}:2,S" in ${name(from)} is not the content ${name(third)} left to its chain (sha256 ${d.after.slice(0, 12)}…, recorded ${d.before.slice(0, 12)}…)`
  expect(json.problems).toEqual([
    line(1, second, { before, after }),
    ...many.slice(0, 9).map((d, i) => line(30 + i, first, d)),
    `broken chain: 3 more file(s) of alpha in its chain are not the content ${name(third)} left to it`,
  ])
  await restoreRefuses(third.path!, line(1, second, { before, after }))
})

test('verify s3://…/<incremental>: a parent in the bucket rewritten with other content for a carried file is caught the same way', async () => {
  const s3 = await startS3()
  try {
    const { first, second } = await chain()
    const { before, after } = await rewriteParent(first.path!, CARRIED)
    const remote = new Remote(resolveS3Settings(undefined, s3.env()), { bucket: s3.bucket, prefix: 'chain/' })
    for (const r of [first, second]) await uploadArchive(remote, r.path!, { manifest: r.manifest, clmntVersion: '9.9.9' })
    const url = `s3://${s3.bucket}/chain/${name(second)}`
    const r = await runCli(['-d', base, 'fleet', 'verify', url], { env: s3.env(), timeoutMs: 60_000 })
    expect(r.code).toBe(1)
    expect(r.stdout.trim().split('\n')).toEqual([`${url}: broken chain: "${CARRIED}" in ${name(first)} is not the content ${name(second)} left to its chain (sha256 ${after.slice(0, 12)}…, recorded ${before.slice(0, 12)}…)`])
  } finally {
    await s3.close()
  }
})
