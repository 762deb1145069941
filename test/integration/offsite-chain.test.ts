import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { basename, join } from 'node:path'
import type { BackupResult } from '../../src/archive/backup.ts'
import { processStartTicks } from '../../src/lib/proc.ts'
import { downloadArchive } from '../../src/offsite/download.ts'
import { Remote } from '../../src/offsite/remote.ts'
import { resolveS3Settings } from '../../src/offsite/settings.ts'
import { uploadArchive } from '../../src/offsite/upload.ts'
import { addBulk, rewriteArchive } from '../helpers/archive.ts'
import { chainBackups, churn, twoMoltFleet, type TwoMoltFleet } from '../helpers/chain.ts'
import { CLI, runCli } from '../helpers/cli.ts'
import { exitedPid, removeDir } from '../helpers/fleet.ts'
import { startCuttingProxy, startS3, type S3Sandbox } from '../helpers/s3.ts'
import { readTree, treeDiff } from '../helpers/tree.ts'

// restores and verifies through the real CLI against s3rver on loopback: seconds each on a loaded machine
setDefaultTimeout(60_000)

// A chain of archives in a bucket (full, incremental, incremental), uploaded as `fleet backup
// --to` uploads them: `restore --from s3://…<incremental>` downloads the chain it needs, checked
// link by link, and restores as a local chain restore does; `verify` and `list-backups` the same.
let s3: S3Sandbox
let fleet: TwoMoltFleet
let full: BackupResult
let inc1: BackupResult
let inc2: BackupResult
/** a full archive of the fleet as inc2 saw it: what a restore of inc2 must give */
let whole: BackupResult
/** a full archive of another moment, to put in the parent's place */
let other: BackupResult

const name = (r: BackupResult) => basename(r.path!)
const remoteAt = (prefix: string) => new Remote(resolveS3Settings(undefined, s3.env()), { bucket: s3.bucket, prefix })
const upload = (prefix: string, r: BackupResult) => uploadArchive(remoteAt(prefix), r.path!, { manifest: r.manifest, clmntVersion: '9.9.9' })
const url = (prefix: string, file: string) => `s3://${s3.bucket}/${prefix}${file}`
const cli = (args: string[], env: Record<string, string> = s3.env()) => runCli(args, { env, timeoutMs: 60_000 })
const downloads = (dir: string) => readdirSync(dir).filter((n) => n.startsWith('.clmnt-download-'))

beforeAll(async () => {
  s3 = await startS3()
  fleet = twoMoltFleet({ mail: true })
  // random bytes: the full archive is big enough to be caught mid-download
  addBulk(join(fleet.base, 'alpha'), 2, 512 << 10)
  const backup = chainBackups(fleet)
  full = await backup()
  churn(fleet.base, 1)
  inc1 = await backup()
  churn(fleet.base, 2)
  inc2 = await backup()
  whole = await backup({ output: join(fleet.dir, 'whole.tar.gz'), incremental: false })
  mkdirSync(join(fleet.dir, 'other'))
  other = await backup({ output: join(fleet.dir, 'other', name(full)), incremental: false, excludeMaildir: true })
  expect([full, inc1, inc2].map((r) => r.manifest.kind)).toEqual(['full', 'incremental', 'incremental'])
  for (const r of [full, inc1, inc2]) await upload('chain/', r)
}, 60_000)

afterAll(async () => {
  await s3?.close()
  if (fleet) removeDir(fleet.dir)
})

/** A new empty base dir. */
function target(label: string): string {
  const dir = join(fleet.dir, label)
  mkdirSync(dir)
  return dir
}

function sameMolts(a: string, b: string): void {
  for (const molt of ['alpha', 'bravo']) expect([molt, treeDiff(readTree(join(a, molt)), readTree(join(b, molt)), { ignore: (rel) => rel === '.molt-info' || rel === '' })]).toEqual([molt, []])
}

test('restore --from s3://…/<incremental>: the chain is downloaded, checked and restored; the result is the full backup of that moment; nothing downloaded is left', async () => {
  const fromS3 = target('from-s3')
  const dry = await cli(['-d', fromS3, 'fleet', 'restore', '--from', url('chain/', name(inc2)), '--skip-users', '--skip-cron', '--dry-run'])
  expect(dry.stderr).not.toContain('error')
  expect(dry.code).toBe(0)
  expect(dry.stdout).toContain(`from its chain of 2 earlier archive(s) starting with ${name(full)}`)
  expect(readdirSync(fromS3)).toEqual([])

  const r = await cli(['-d', fromS3, 'fleet', 'restore', '--from', url('chain/', name(inc2)), '--skip-users', '--skip-cron', '--yes'])
  expect(r.stderr).not.toContain('error')
  expect(r.code).toBe(0)
  expect(r.stdout).toContain(`restore from ${url('chain/', name(inc2))}`)
  expect(downloads(fromS3)).toEqual([])

  const local = target('from-whole')
  const w = await runCli(['-d', local, 'fleet', 'restore', '--from', whole.path!, '--skip-users', '--skip-cron', '--yes'])
  expect(w.code).toBe(0)
  sameMolts(fromS3, local)
  // round 1 deleted text-11, round 2 text-12: neither comes back
  expect(existsSync(join(fromS3, 'alpha', 'Maildir', 'cur', 'text-12:2,S'))).toBe(false)
  expect(existsSync(join(fromS3, 'alpha', 'Maildir', 'cur', 'text-13:2,S'))).toBe(true)
})

test('latest under the prefix is the newest incremental: its chain comes with it (in-process: each archive checked against its marker)', async () => {
  const dest = target('download-latest')
  const d = await downloadArchive(url('chain/', 'latest'), dest, { baseDir: fleet.base, env: s3.env() })
  try {
    expect(d.archive).toBe(name(inc2))
    expect(d.chain.map((p) => basename(p))).toEqual([name(full), name(inc1)])
    expect(readdirSync(join(d.path, '..')).sort()).toEqual([name(full), name(inc1), name(inc2)].sort())
  } finally {
    d.cleanup()
  }
  expect(readdirSync(dest)).toEqual([])
})

test('a download folder left by a killed run (its process gone) is removed by the next download; one of a live run stays', async () => {
  const dest = target('stale-downloads')
  const dead = join(dest, `.clmnt-download-${exitedPid()}-12345-AbCdEf`)
  const live = join(dest, `.clmnt-download-${process.pid}-${processStartTicks(process.pid)}-GhIjKl`)
  for (const folder of [dead, live]) {
    mkdirSync(folder, { mode: 0o700 })
    writeFileSync(join(folder, name(full)), 'part of an archive')
  }
  const warnings: string[] = []
  const d = await downloadArchive(url('chain/', name(inc1)), dest, { baseDir: fleet.base, env: s3.env(), warn: (w) => warnings.push(w) })
  d.cleanup()
  expect(warnings).toEqual([`removed ${basename(dead)}, left in ${dest} by a download that was killed`])
  expect(readdirSync(dest)).toEqual([basename(live)])
})

test('verify s3://…/<incremental> checks the whole chain; list-backups --from shows it', async () => {
  const v = await cli(['-d', fleet.base, 'fleet', 'verify', url('chain/', name(inc2))])
  expect(v.stderr).not.toContain('error')
  expect(v.code).toBe(0)
  expect(v.stdout).toStartWith(`${url('chain/', name(inc2))}: OK (2 molts`)
  expect(v.stdout).toContain(`its chain of 2 earlier archive(s) too, from ${name(full)}`)
  expect(downloads(fleet.base)).toEqual([])

  const json = await cli(['-d', fleet.base, 'fleet', 'list-backups', '--from', url('chain/', ''), '--json'])
  expect(JSON.parse(json.stdout).map((l: { file: string; kind: string; parent: string | null; status: string }) => [l.file, l.kind, l.parent, l.status])).toEqual([
    [name(inc2), 'incremental', name(inc1), 'ok'],
    [name(inc1), 'incremental', name(full), 'ok'],
    [name(full), 'full', null, 'ok'],
  ])
  const table = await cli(['-d', fleet.base, 'fleet', 'list-backups', '--from', url('chain/', '')])
  expect(table.stdout).toContain(`incr. of ${name(inc1)}`)
})

describe('a broken chain in the bucket: one line, nothing restored, nothing left behind', () => {
  /** found from the markers alone: refused before anything is downloaded, in one line */
  const refuses = async (prefix: string, expected: string, before: 'before' | 'after' = 'before') => {
    const dest = target(`broken-${prefix.slice(0, -1)}`)
    const r = await cli(['-d', dest, 'fleet', 'restore', '--from', url(prefix, name(inc2)), '--skip-users', '--skip-cron', '--yes'])
    expect(r.code).not.toBe(0)
    const lines = r.stderr.trim().split('\n')
    expect(lines.filter((l) => l.startsWith('error'))).toEqual([expect.stringContaining(expected)])
    if (before === 'before') expect(lines).toHaveLength(1)
    expect(readdirSync(dest)).toEqual([])
    const v = await cli(['-d', dest, 'fleet', 'verify', url(prefix, name(inc2))])
    expect(v.code).toBe(1)
    expect(v.stdout).toContain(expected)
    expect(readdirSync(dest)).toEqual([])
  }

  test('a parent missing from the bucket', async () => {
    for (const r of [inc1, inc2]) await upload('missing/', r)
    await refuses('missing/', `broken chain: ${name(inc1)} needs its parent ${name(full)}, which is missing from s3://${s3.bucket}/missing/`)
    const listed = await cli(['-d', fleet.base, 'fleet', 'list-backups', '--from', url('missing/', '')])
    expect(listed.code).toBe(0)
    expect(listed.stderr).toContain(`warn ${name(inc1)}: broken chain: its parent ${name(full)} is missing from s3://${s3.bucket}/missing/`)
  })

  test('a parent whose upload never finished (no completion marker)', async () => {
    for (const r of [inc1, inc2]) await upload('unfinished/', r)
    await s3.client().write(`unfinished/${name(full)}`, Bun.file(full.path!))
    await refuses('unfinished/', `broken chain: ${name(inc1)} needs its parent ${name(full)}, whose upload to s3://${s3.bucket}/unfinished/ did not finish (no completion marker)`)
  })

  test('another archive under the parent name', async () => {
    for (const r of [other, inc1, inc2]) await upload('replaced/', r)
    await refuses('replaced/', `broken chain: ${name(inc1)}: its parent ${name(full)} was changed or replaced since`, 'after')
  })

  test('a manifest naming as its parent something that is no archive: never fetched', async () => {
    // the same length, so the tar stays whole: fleet-….tar.gz becomes fleet-….tar.gx in "parent"
    const crafted = join(fleet.dir, 'crafted', name(inc2))
    mkdirSync(join(fleet.dir, 'crafted'))
    rewriteArchive(inc2.path!, crafted, (tarPath) => {
      const text = readFileSync(tarPath).toString('latin1')
      const field = new RegExp(`("file":\\s*")${name(inc1).replace(/\./g, '\\.')}"`)
      expect(field.test(text)).toBe(true)
      writeFileSync(tarPath, Buffer.from(text.replace(field, `$1${name(inc1).slice(0, -1)}x"`), 'latin1'))
    })
    // the rest of the chain is there, and the marker (made from the true manifest) names the true parent
    for (const r of [full, inc1]) await upload('crafted/', r)
    await uploadArchive(remoteAt('crafted/'), crafted, { manifest: inc2.manifest, clmntVersion: '9.9.9' })
    await refuses('crafted/', `${name(inc2)}: its parent "${name(inc1).slice(0, -1)}x" is not the name of a finished archive`)
  })

  test('a parent whose bytes differ from its marker', async () => {
    for (const r of [full, inc1, inc2]) await upload('damaged/', r)
    const bytes = new Uint8Array(await Bun.file(full.path!).arrayBuffer())
    bytes[Math.floor(bytes.length / 2)]! ^= 0xff
    await s3.client().write(`damaged/${name(full)}`, bytes)
    await refuses('damaged/', `${url('damaged/', name(full))} (in the chain of ${name(inc2)}) does not match its completion marker (SHA-256 differs)`, 'after')
  })
})

test('Ctrl-C while a parent downloads: the restore stops, the download folder is gone, nothing restored', async () => {
  const prefix = 'held/'
  for (const r of [full, inc1, inc2]) await upload(prefix, r)
  // the incremental archives and the markers pass; the full one stalls part way
  const proxy = await startCuttingProxy(s3.port, Infinity, { holdAfter: 256 << 10 })
  const dest = target('interrupted')
  try {
    const child = spawn(process.execPath, [CLI, '-d', dest, 'fleet', 'restore', '--from', url(prefix, name(inc2)), '--skip-users', '--skip-cron', '--yes'], { env: { ...process.env, ...s3.env(proxy.endpoint) }, stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()))
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
    const deadline = Date.now() + 30_000
    // the full archive, the last of the chain to come, is on its way and stalled
    const fetching = `downloading ${url(prefix, name(full))}`
    while (!(proxy.held > 0 && stderr.includes(fetching)) && child.exitCode === null && Date.now() < deadline) await Bun.sleep(5)
    expect(proxy.held).toBeGreaterThan(0)
    expect(stderr).toContain(fetching)
    expect(downloads(dest)).toHaveLength(1)
    child.kill('SIGINT')
    const code = await exited
    expect(code).toBe(1)
    expect(stderr).toContain('interrupted')
    expect(readdirSync(dest)).toEqual([])
  } finally {
    await proxy.close()
  }
})

describe('backup --incremental --to: the bucket gets the chain it needs', () => {
  interface BackupJson {
    path: string
    kind: string
    offsite: { url: string | null; error: string | null; parents_uploaded: string[] } | null
  }
  const backupTo = async (prefix: string) => {
    const r = await cli(['-d', fleet.base, 'fleet', 'backup', '--incremental', '--output', `${fleet.out}/`, '--to', url(prefix, ''), '--json'])
    return { code: r.code, stderr: r.stderr, summary: JSON.parse(r.stdout) as BackupJson }
  }

  test('parents missing from the bucket go up first, oldest first; then only what is new; a restore from the bucket alone works', async () => {
    const prefix = 'uploads/'
    const first = await backupTo(prefix)
    expect(first.stderr).not.toContain('error')
    expect(first.code).toBe(0)
    const made = basename(first.summary.path)
    expect(first.summary.offsite).toMatchObject({ url: url(prefix, made), error: null, parents_uploaded: [full, inc1, inc2].map((r) => url(prefix, name(r))) })
    expect((await s3.keys(prefix)).filter((k) => !k.endsWith('.complete.json'))).toEqual([full, inc1, inc2].map((r) => `${prefix}${name(r)}`).concat(`${prefix}${made}`).sort())

    churn(fleet.base, 3)
    const second = await backupTo(prefix)
    expect(second.code).toBe(0)
    expect(second.summary.offsite).toMatchObject({ url: url(prefix, basename(second.summary.path)), parents_uploaded: [] })

    const dest = target('from-uploads')
    const r = await cli(['-d', dest, 'fleet', 'restore', '--from', url(prefix, 'latest'), '--skip-users', '--skip-cron', '--yes'])
    expect(r.stderr).not.toContain('error')
    expect(r.code).toBe(0)
    expect(existsSync(join(dest, 'bravo', 'Maildir', 'new', 'delivered-3'))).toBe(true)
  })

  test('another archive under a parent name in the bucket: nothing of the chain is uploaded, the local archive is kept, exit 1', async () => {
    const prefix = 'clash/'
    await upload(prefix, other)
    const r = await backupTo(prefix)
    expect(r.code).toBe(1)
    expect(r.summary.offsite?.url).toBeNull()
    expect(r.summary.offsite?.error).toContain(`${url(prefix, name(full))} is another archive than the one ${name(inc1)} was made from`)
    expect(existsSync(r.summary.path)).toBe(true)
    expect(await s3.keys(prefix)).toEqual([`${prefix}${name(full)}`, `${prefix}${name(full)}.complete.json`])
  })
})
