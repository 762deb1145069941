import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { hostname } from 'node:os'
import { join } from 'node:path'
import { verifyArchive } from '../../src/archive/verify.ts'
import { parseExposition } from '../../src/metrics/parse.ts'
import { downloadArchive, resolveRemoteArchive } from '../../src/offsite/download.ts'
import { listRemoteBackups, pruneRemote, resolveLatestRemote, STALE_UPLOAD_MS } from '../../src/offsite/list.ts'
import { markerName } from '../../src/offsite/marker.ts'
import { Remote } from '../../src/offsite/remote.ts'
import { resolveS3Settings } from '../../src/offsite/settings.ts'
import { uploadArchive } from '../../src/offsite/upload.ts'
import { manifestSchema } from '../../src/archive/manifest.ts'
import { addBulk, writeRichFleet } from '../helpers/archive.ts'
import { CLI, runCli } from '../helpers/cli.ts'
import { removeDir, tempDir } from '../helpers/fleet.ts'
import { startCuttingProxy, startS3, type S3Sandbox } from '../helpers/s3.ts'

// `fleet backup --to s3://…`, `list-backups --from s3://…` and the download restore will use,
// against a real S3-compatible server (s3rver) on loopback.
let s3: S3Sandbox
let dir: string
let small: string
let big: string
let promDir: string

beforeAll(async () => {
  s3 = await startS3()
  dir = tempDir()
  small = join(dir, 'small')
  big = join(dir, 'big')
  promDir = join(dir, 'textfile')
  mkdirSync(promDir)
  writeRichFleet(small, [{ name: 'alpha', port: 19001 }, { name: 'bravo', port: 19021 }])
  writeRichFleet(big, [{ name: 'alpha', port: 19001 }])
  // random bytes do not compress: a ~24 MiB archive, several 5 MiB parts
  addBulk(join(big, 'alpha'), 24, 1 << 20)
}, 30_000)

afterAll(async () => {
  await s3.close()
  removeDir(dir)
})

const cli = (args: string[], env: Record<string, string> = s3.env()) => runCli(args, { env, timeoutMs: 60_000 })
const remoteAt = (prefix: string, endpoint = s3.endpoint) => new Remote(resolveS3Settings(undefined, s3.env(endpoint)), { bucket: s3.bucket, prefix })
const sha256 = (path: string) => new Bun.CryptoHasher('sha256').update(readFileSync(path)).digest('hex')
const remoteBytes = async (key: string) => new Uint8Array(await s3.client().file(key).arrayBuffer())

interface BackupJson {
  path: string
  offsite: { url: string; size_bytes: number; sha256: string; method: string; error: string | null; pruned: string[] } | null
}

describe('backup → list → download round trip', () => {
  test.each([
    ['small', 'staged-copy'],
    ['big', 'multipart'],
  ] as const)('%s archive (%s): the bucket holds the same bytes and a completion marker; listed ok; downloaded, it verifies', async (which, method) => {
    const base = which === 'small' ? small : big
    const prefix = `rt-${which}/`
    const result = await cli(['fleet', 'backup', '-d', base, '--to', `s3://${s3.bucket}/${prefix}`, '--json', '--exclude-logs'])
    expect(result.stderr).not.toContain('error')
    expect(result.code).toBe(0)
    const summary = JSON.parse(result.stdout) as BackupJson
    const archive = summary.path.split('/').at(-1)!
    expect(summary.offsite).toMatchObject({ url: `s3://${s3.bucket}/${prefix}${archive}`, method, error: null, sha256: sha256(summary.path) })
    expect(await s3.keys(prefix)).toEqual([`${prefix}${archive}`, `${prefix}${markerName(archive)}`])
    expect(s3.openUploads()).toEqual([])
    expect(Buffer.from(await remoteBytes(`${prefix}${archive}`)).equals(readFileSync(summary.path))).toBe(true)
    const marker = JSON.parse(await s3.client().file(`${prefix}${markerName(archive)}`).text())
    expect(marker).toMatchObject({ format: 'clmnt-offsite-marker', archive, size_bytes: readFileSync(summary.path).length, sha256: sha256(summary.path), manifest: { molts: which === 'small' ? ['alpha', 'bravo'] : ['alpha'], compression: 'gzip' } })

    const listed = await cli(['fleet', 'list-backups', '-d', base, '--from', `s3://${s3.bucket}/${prefix}`, '--json'])
    expect(listed.code).toBe(0)
    expect(JSON.parse(listed.stdout)).toEqual([expect.objectContaining({ file: archive, path: `s3://${s3.bucket}/${prefix}${archive}`, status: 'ok', reason: null, molts: marker.manifest.molts, size_bytes: marker.size_bytes })])
    const table = await cli(['fleet', 'list-backups', '-d', base, '--from', `s3://${s3.bucket}/${prefix}`])
    expect(table.stdout).toMatch(new RegExp(`${archive.replace(/\./g, '\\.')} .* ok\\n`))

    // what `fleet restore --from s3://…/latest` gets before its normal verified restore
    const restoreDir = join(dir, `restore-${which}`)
    mkdirSync(restoreDir)
    const download = await downloadArchive(`s3://${s3.bucket}/${prefix}latest`, restoreDir, { baseDir: base, env: s3.env() })
    expect(download).toMatchObject({ archive, url: `s3://${s3.bucket}/${prefix}${archive}`, sha256: sha256(summary.path) })
    expect(download.path.startsWith(join(restoreDir, '.clmnt-download-'))).toBe(true)
    expect(download.path.endsWith(`/${archive}`)).toBe(true)
    expect(sha256(download.path)).toBe(sha256(summary.path))
    expect((await verifyArchive(download.path)).problems).toEqual([])
    download.cleanup()
    expect(readdirSync(restoreDir)).toEqual([])
  }, 60_000)
})

test('--keep N applies to the bucket too: the oldest of our good archives go, marker first; foreign and unfinished ones stay', async () => {
  const prefix = 'keep/'
  const client = s3.client()
  await client.write(`${prefix}someone-elses.tar.gz`, 'not ours')
  await client.write(`${prefix}fleet-2020-01-01-000000.tar.gz`, 'an upload without its marker')
  const paths: string[] = []
  for (let i = 0; i < 3; i++) {
    const result = await cli(['fleet', 'backup', '-d', small, '--to', `s3://${s3.bucket}/${prefix}`, '--keep', '2', '--exclude-maildir', '--json'])
    expect(result.code).toBe(0)
    paths.push((JSON.parse(result.stdout) as BackupJson).path)
  }
  const names = paths.map((p) => p.split('/').at(-1)!)
  const keys = await s3.keys(prefix)
  expect(keys).toEqual([`${prefix}fleet-2020-01-01-000000.tar.gz`, ...names.slice(1).flatMap((n) => [`${prefix}${n}`, `${prefix}${markerName(n)}`]), `${prefix}someone-elses.tar.gz`].sort())
  // locally the same
  expect(existsSync(paths[0]!)).toBe(false)
  const listing = await listRemoteBackups(remoteAt(prefix))
  expect(listing.map((l) => [l.file, l.status])).toEqual([[names[2], 'ok'], [names[1], 'ok'], expect.anything(), expect.anything()])
  expect(listing.find((l) => l.file === 'fleet-2020-01-01-000000.tar.gz')).toMatchObject({ status: 'incomplete', reason: expect.stringContaining('no completion marker') })

  // a day later the unfinished upload of ours is cleared; the foreign file never is
  const pruned = await pruneRemote(remoteAt(prefix), { keep: 2, hostname: hostname(), baseDir: small, justWritten: names[2]! }, Date.now() + STALE_UPLOAD_MS + 60_000)
  expect(pruned.cleared).toEqual([`s3://${s3.bucket}/${prefix}fleet-2020-01-01-000000.tar.gz`])
  expect(pruned.deleted).toEqual([])
  expect(await s3.keys(prefix)).toContain(`${prefix}someone-elses.tar.gz`)
}, 60_000)

describe('what a listing trusts', () => {
  let prefix: string
  let good: string
  beforeAll(async () => {
    prefix = 'trust/'
    const result = await cli(['fleet', 'backup', '-d', small, '--to', `s3://${s3.bucket}/${prefix}`, '--exclude-maildir', '--json'])
    expect(result.code).toBe(0)
    good = (JSON.parse(result.stdout) as BackupJson).path.split('/').at(-1)!
    const client = s3.client()
    const marker = JSON.parse(await client.file(`${prefix}${markerName(good)}`).text())
    const bytes = await remoteBytes(`${prefix}${good}`)
    // newer names than the good one, so `latest` has to skip them
    await client.write(`${prefix}fleet-2099-01-01-000000.tar.gz`, bytes)
    await client.write(`${prefix}fleet-2099-01-02-000000.tar.gz`, bytes)
    await client.write(`${prefix}${markerName('fleet-2099-01-02-000000.tar.gz')}`, JSON.stringify({ ...marker, archive: 'fleet-2099-01-02-000000.tar.gz', size_bytes: bytes.length + 1, manifest: { ...marker.manifest, timestamp: '2099-01-02T00:00:00Z' } }))
    await client.write(`${prefix}${markerName('fleet-2099-01-03-000000.tar.gz')}`, JSON.stringify({ ...marker, archive: 'fleet-2099-01-03-000000.tar.gz' }))
    await client.write(`${prefix}fleet-2099-01-04-000000.tar.gz.partial`, bytes.subarray(0, 100))
    await client.write(`${prefix}fleet-2099-01-05-000000.tar.gz`, bytes)
    await client.write(`${prefix}${markerName('fleet-2099-01-05-000000.tar.gz')}`, '{"format": "clmnt-offsite-marker", "vers')
  })

  test('ok only with a valid marker of the right size', async () => {
    const listing = await listRemoteBackups(remoteAt(prefix))
    const byFile = Object.fromEntries(listing.map((l) => [l.file, [l.status, l.reason]]))
    expect(byFile).toEqual({
      [good]: ['ok', null],
      'fleet-2099-01-01-000000.tar.gz': ['incomplete', 'no completion marker: the upload did not finish (or is still running)'],
      'fleet-2099-01-02-000000.tar.gz': ['corrupt', expect.stringContaining('its completion marker says')],
      'fleet-2099-01-03-000000.tar.gz': ['corrupt', 'the archive is missing: only its completion marker is there'],
      'fleet-2099-01-04-000000.tar.gz.partial': ['incomplete', 'a staged upload that did not finish'],
      'fleet-2099-01-05-000000.tar.gz': ['corrupt', 'its completion marker is not valid JSON'],
    })
    expect((await resolveLatestRemote(remoteAt(prefix)))?.file).toBe(good)
    expect((await resolveRemoteArchive(`s3://${s3.bucket}/${prefix}latest`, { baseDir: small, env: s3.env() })).archive).toBe(good)
  })

  test('the CLI lists them the same way and says why', async () => {
    const result = await cli(['fleet', 'list-backups', '-d', small, '--from', `s3://${s3.bucket}/${prefix.slice(0, -1)}`])
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(/fleet-2099-01-01-000000\.tar\.gz .* incomplete\n/)
    expect(result.stderr).toContain('fleet-2099-01-02-000000.tar.gz: holds')
  })

  test('restore refuses an archive without a valid marker, and one whose bytes differ from it', async () => {
    const restoreDir = join(dir, 'restore-trust')
    mkdirSync(restoreDir)
    const opts = { baseDir: small, env: s3.env() }
    await expect(downloadArchive(`s3://${s3.bucket}/${prefix}fleet-2099-01-01-000000.tar.gz`, restoreDir, opts)).rejects.toThrow('has no completion marker: its upload did not finish')
    await expect(downloadArchive(`s3://${s3.bucket}/${prefix}fleet-2099-01-02-000000.tar.gz`, restoreDir, opts)).rejects.toThrow('its completion marker says')
    await expect(downloadArchive(`s3://${s3.bucket}/${prefix}fleet-2099-01-03-000000.tar.gz`, restoreDir, opts)).rejects.toThrow('only its completion marker does')
    await expect(downloadArchive(`s3://${s3.bucket}/${prefix}fleet-1999-01-01-000000.tar.gz`, restoreDir, opts)).rejects.toThrow('does not exist')
    await expect(downloadArchive(`s3://${s3.bucket}/empty/latest`, restoreDir, opts)).rejects.toThrow(`no complete archive under s3://${s3.bucket}/empty/`)
    // same size, other bytes: the SHA-256 in the marker catches it, and nothing is left behind
    const bytes = await remoteBytes(`${prefix}${good}`)
    const tampered = new Uint8Array(bytes)
    tampered[tampered.length - 100]! ^= 0xff
    await s3.client().write(`${prefix}${good}`, tampered)
    await expect(downloadArchive(`s3://${s3.bucket}/${prefix}${good}`, restoreDir, opts)).rejects.toThrow('does not match its completion marker (SHA-256 differs)')
    expect(readdirSync(restoreDir)).toEqual([])
    await s3.client().write(`${prefix}${good}`, bytes)
  })
})

describe('a failed or interrupted upload never leaves an object under the final key', () => {
  const noArchive = async (prefix: string) => {
    const keys = await s3.keys(prefix)
    expect(keys.filter((k) => /\.tar\.gz$/.test(k) || k.endsWith('.complete.json'))).toEqual([])
    expect((await listRemoteBackups(remoteAt(prefix))).filter((l) => l.status === 'ok')).toEqual([])
    return keys
  }

  test('kill -9 in the middle of a multipart upload', async () => {
    const prefix = 'killed/'
    const before = s3.openUploads().length
    const child = spawn(process.execPath, [CLI, 'fleet', 'backup', '-d', big, '--to', `s3://${s3.bucket}/${prefix}`, '-q', '--compress-level', '1'], { env: { ...process.env, ...s3.env() }, stdio: 'ignore' })
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
    // wait until the upload has begun (s3rver holds its parts), then kill
    const deadline = Date.now() + 30_000
    while (s3.openUploads().length === before && child.exitCode === null && Date.now() < deadline) await Bun.sleep(2)
    expect(child.exitCode).toBeNull()
    child.kill('SIGKILL')
    await exited
    expect(s3.openUploads().length).toBe(before + 1)
    await noArchive(prefix)
    // the next run is not disturbed by what the dead one left
    const after = await cli(['fleet', 'backup', '-d', big, '--to', `s3://${s3.bucket}/${prefix}`, '--json', '--compress-level', '1'])
    expect(after.code).toBe(0)
    expect((await listRemoteBackups(remoteAt(prefix))).map((l) => l.status)).toEqual(['ok'])
  }, 60_000)

  test.each([
    ['small', 'staged-copy'],
    ['big', 'multipart'],
  ] as const)('the connection is cut halfway through every upload (%s archive, %s): exit 1, nothing under the final key, the local archive kept', async (which) => {
    const base = join(dir, `cut-${which}`)
    writeRichFleet(base, [{ name: 'alpha', port: 19001 }])
    // small: ~1 MiB, one PUT; big: several parts
    addBulk(join(base, 'alpha'), which === 'small' ? 1 : 12, 1 << 20)
    const proxy = await startCuttingProxy(s3.port, 256 << 10)
    try {
      const prefix = `cut-${which}/`
      const result = await cli(['fleet', 'backup', '-d', base, '--to', `s3://${s3.bucket}/${prefix}`, '--json', '--compress-level', '1'], s3.env(proxy.endpoint))
      expect(result.code).toBe(1)
      expect(proxy.cuts).toBeGreaterThan(0)
      const summary = JSON.parse(result.stdout) as BackupJson
      expect(summary.offsite?.url).toBeNull()
      expect(summary.offsite?.error).toContain('the local archive')
      expect(result.stderr).toContain(`uploading to s3://${s3.bucket}/${prefix}`)
      expect(result.stderr).toContain('no completion marker was written')
      expect(existsSync(summary.path)).toBe(true)
      expect(await noArchive(prefix)).toEqual([])
    } finally {
      await proxy.close()
    }
  }, 60_000)

  test('why small archives are staged: s3rver keeps a single PUT that was cut short', async () => {
    const proxy = await startCuttingProxy(s3.port, 256 << 10)
    try {
      const file = join(dir, 'one-mib.bin')
      writeFileSync(file, crypto.getRandomValues(new Uint8Array(1 << 20)))
      const naive = new Bun.S3Client({ ...s3.env(), endpoint: proxy.endpoint, bucket: s3.bucket, accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER', retry: 0 })
      await expect(naive.write('naive/one-mib.bin', Bun.file(file))).rejects.toThrow()
      // the client gives up as soon as the connection is cut; s3rver stores what it got a moment later
      let left: { size: number } | null = null
      for (const deadline = Date.now() + 5000; !left && Date.now() < deadline; await Bun.sleep(50)) {
        left = await s3.client().stat('naive/one-mib.bin').catch(() => null)
      }
      expect(left?.size).toBeLessThan(1 << 20)
    } finally {
      await proxy.close()
    }
  })

  test.each([
    ['small', 1],
    ['big', 48],
  ] as const)('interrupted from inside (SIGINT, stall): the client aborts, nothing is committed (%s archive)', async (which, mib) => {
    const file = join(dir, `interrupt-${which}.tar.gz`)
    writeFileSync(file, crypto.getRandomValues(new Uint8Array(mib << 20)))
    const prefix = `interrupt-${which}/`
    const controller = new AbortController()
    const manifest = manifestSchema().parse({ version: '2', timestamp: '2026-02-02T10:30:00Z', molts: [], total_files: 0, total_size_bytes: 0, layout: { global: 'global' } })
    const before = s3.openUploads()
    // big: stop once the server holds the multipart upload (reading runs ahead of sending)
    let begun = false
    const onProgress = (sent: number) => {
      if (controller.signal.aborted) return
      begun = s3.openUploads().length > before.length
      if (which === 'big' ? begun : sent > 256 << 10) controller.abort()
    }
    await expect(uploadArchive(remoteAt(prefix), file, { manifest, clmntVersion: 'test', signal: controller.signal, onProgress })).rejects.toThrow('interrupted')
    // big: the multipart upload had begun on the server, and was never completed (Bun then sends
    // AbortMultipartUpload, which s3rver ignores: its parts stay in its uploads folder)
    expect(begun).toBe(which === 'big')
    expect(await s3.keys(prefix)).toEqual([])
  }, 30_000)
})

describe('settings and access are checked before the backup', () => {
  test('no credentials: exit 2, nothing written', async () => {
    const base = join(dir, 'nocreds')
    writeRichFleet(base, [{ name: 'alpha', port: 19001 }])
    const result = await cli(['fleet', 'backup', '-d', base, '--to', `s3://${s3.bucket}/x`], { AWS_ENDPOINT_URL: s3.endpoint, AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '' })
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY')
    expect(existsSync(join(base, 'backups'))).toBe(false)
  })

  test('credentials from clmnt.json work too; a bucket that does not exist fails in a second, before any archive', async () => {
    const base = join(dir, 'fromfile')
    writeRichFleet(base, [{ name: 'alpha', port: 19001 }])
    writeFileSync(join(base, 'clmnt.json'), JSON.stringify({ s3: { endpoint: s3.endpoint, access_key_id: 'S3RVER', secret_access_key: 'S3RVER' } }), { mode: 0o600 })
    const env = { AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', AWS_ENDPOINT_URL: '', S3_ENDPOINT: '' }
    const missing = await cli(['fleet', 'backup', '-d', base, '--to', 's3://no-such-bucket/x'], env)
    expect(missing.code).toBe(1)
    expect(missing.stderr).toContain('listing s3://no-such-bucket/x/ failed: no such bucket')
    expect(missing.stderr).toContain('nothing was backed up')
    expect(existsSync(join(base, 'backups'))).toBe(false)
    const ok = await cli(['fleet', 'backup', '-d', base, '--to', `s3://${s3.bucket}/fromfile`, '--exclude-maildir'], env)
    expect(ok.code).toBe(0)
    expect(ok.stdout).toContain(`uploaded: s3://${s3.bucket}/fromfile/fleet-`)
    const dry = await cli(['fleet', 'backup', '-d', base, '--to', `s3://${s3.bucket}/fromfile`, '--dry-run'], env)
    expect(dry.code).toBe(0)
    expect(dry.stdout).toContain(`would upload to s3://${s3.bucket}/fromfile/`)
  }, 30_000)

  test('--to and --from with a bad URL are usage errors', async () => {
    const to = await cli(['fleet', 'backup', '-d', small, '--to', 'https://bucket/x'])
    expect(to.code).toBe(2)
    expect(to.stderr).toContain('invalid value "https://bucket/x" for --to: expected s3://bucket/prefix')
    const both = await cli(['fleet', 'list-backups', '-d', small, '--from', 's3://bucket/x', '--backup-dir', dir])
    expect(both.code).toBe(2)
  })
})

test('--prom-file: backup metrics per destination; a failed upload leaves the bucket its previous success', async () => {
  const base = join(dir, 'metrics')
  writeRichFleet(base, [{ name: 'alpha', port: 19001 }])
  const prom = join(promDir, 'clmnt.prom')
  const ok = await cli(['fleet', 'backup', '-d', base, '--to', `s3://${s3.bucket}/metrics`, '--prom-file', prom, '--json', '--exclude-maildir'])
  expect(ok.code).toBe(0)
  const first = parseExposition(readFileSync(prom, 'utf8'))
  const at = (families: typeof first, name: string) => Object.fromEntries(families.find((f) => f.name === name)!.samples.map((s) => [s.labels.destination, s.value]))
  const local = join(base, 'backups')
  const size = readFileSync((JSON.parse(ok.stdout) as BackupJson).path).length
  expect(at(first, 'clmnt_backup_size_bytes')).toEqual({ [local]: size, [`s3://${s3.bucket}/metrics/`]: size })
  const firstSuccess = at(first, 'clmnt_backup_last_success_timestamp_seconds')
  expect(Math.abs(firstSuccess[local]! - Date.now() / 1000)).toBeLessThan(60)
  expect(Object.keys(at(first, 'clmnt_backup_duration_seconds')).length).toBe(2)

  await Bun.sleep(1100)
  const proxy = await startCuttingProxy(s3.port, 1)
  try {
    // every request cut: the preflight fails, nothing is backed up, the metrics stay as they were
    const failed = await cli(['fleet', 'backup', '-d', base, '--to', `s3://${s3.bucket}/metrics`, '--prom-file', prom, '--exclude-maildir'], s3.env(proxy.endpoint))
    expect(failed.code).toBe(1)
  } finally {
    await proxy.close()
  }
  const second = parseExposition(readFileSync(prom, 'utf8'))
  expect(at(second, 'clmnt_backup_last_success_timestamp_seconds')).toEqual(firstSuccess)
}, 30_000)

test('fleet restore --from s3://…/latest: downloaded next to the base dir, checked, restored, the copy removed', async () => {
  const prefix = 'restore-e2e/'
  const backup = await cli(['fleet', 'backup', '-d', small, '--to', `s3://${s3.bucket}/${prefix}`, '--json', '--exclude-logs'])
  expect(backup.code).toBe(0)
  const target = join(dir, 'restore-e2e')
  mkdirSync(target)
  const dry = await cli(['fleet', 'restore', '-d', target, '--from', `s3://${s3.bucket}/${prefix}latest`, '--skip-users', '--dry-run'])
  expect(dry.code).toBe(0)
  expect(readdirSync(target)).toEqual([])
  const restore = await cli(['fleet', 'restore', '-d', target, '--from', `s3://${s3.bucket}/${prefix}latest`, '--skip-users', '--yes'])
  expect(restore.stderr).not.toContain('error')
  expect(restore.code).toBe(0)
  // the fleet lock's file stays by design (flock); nothing else of the restore's own
  const entries = readdirSync(target).filter((n) => n !== '.clmnt-fleet.lock' && n !== 'clmnt.json' && n !== '.clmnt-alerts')
  expect(entries.sort()).toEqual(['alpha', 'bravo', 'molts.json'])
  expect(readFileSync(join(target, 'alpha', '.molt-info'), 'utf8')).toContain('RESTORED=')
  expect(readdirSync(target).some((n) => n.startsWith('.clmnt-download-'))).toBe(false)

  const missing = await cli(['fleet', 'restore', '-d', target, '--from', `s3://${s3.bucket}/nothing-here/latest`, '--skip-users', '--yes'])
  expect(missing.code).toBe(2)
  expect(missing.stderr.split('\n').filter((l) => l.startsWith('error'))).toHaveLength(1)
}, 60_000)
