import { afterAll, beforeAll, expect, test } from 'bun:test'
import { spawnSync } from 'node:child_process'
import { copyFileSync, mkdirSync, readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import { noteLine } from '../../src/archive/checksums.ts'
import { listBackups } from '../../src/archive/list.ts'
import { gunzipAll, writeRichFleet } from '../helpers/archive.ts'
import { runCli } from '../helpers/cli.ts'
import { removeDir, tempDir } from '../helpers/fleet.ts'
import { moltFiles, writeFleetArchive } from '../helpers/hostile.ts'

// clmnt's own archives after the things operators do to files: recompressed, re-tarred by GNU tar,
// padded, followed by junk; `latest` with a damaged newest archive; one damaged molt and --select.
let root: string
let fleet: string
let original: string

beforeAll(async () => {
  root = tempDir('clmnt-intact-')
  fleet = join(root, 'fleet')
  writeRichFleet(fleet, [{ name: 'alpha', port: 19001 }, { name: 'bravo', port: 19021 }])
  const out = join(root, 'own')
  mkdirSync(out)
  const backup = await runCli(['fleet', 'backup', '-d', fleet, '--output', out, '-q'])
  if (backup.code !== 0) throw new Error(backup.stderr)
  original = join(out, readdirSync(out)[0]!)
}, 60_000)
afterAll(() => removeDir(root))

function sh(script: string): void {
  const r = spawnSync('sh', ['-c', script], { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`${script}: ${r.stderr}`)
}

type Variant = [label: string, make: (out: string, work: string) => void, note: RegExp | null]

const variants: Variant[] = [
  ['recompressed with gzip -9', (out) => sh(`gzip -dc '${original}' | gzip -9 > '${out}'`), null],
  ['recompressed with pigz', (out) => sh(`gzip -dc '${original}' | pigz > '${out}'`), null],
  ['re-tarred by GNU tar (posix), manifest first and checksums last', (out, work) => {
    const x = join(work, 'x')
    mkdirSync(x)
    sh(`tar -xzf '${original}' -C '${x}' && cd '${x}' && tar --format=posix -czf '${out}' manifest.json global alpha bravo $(ls | grep -v -e manifest.json -e global -e alpha -e bravo -e checksums.sha256) checksums.sha256`)
  }, null],
  ['re-tarred by GNU tar --format=gnu (whole seconds only)', (out, work) => {
    const x = join(work, 'x')
    mkdirSync(x)
    sh(`tar -xzf '${original}' -C '${x}' && cd '${x}' && tar --format=gnu -czf '${out}' manifest.json global alpha bravo $(ls | grep -v -e manifest.json -e global -e alpha -e bravo -e checksums.sha256) checksums.sha256`)
  }, null],
  ['zeros after the gzip stream', (out) => writeFileSync(out, Buffer.concat([readFileSync(original), Buffer.alloc(4096)])), null],
  ['junk after the end-of-archive blocks', (out) => writeFileSync(out, Bun.gzipSync(Buffer.concat([gunzipAll(original), Buffer.from('junk\n')]))), /non-zero bytes follow the end-of-archive blocks: ignored, as GNU tar does/],
  ['no end-of-archive blocks', (out) => {
    const tar = Buffer.from(gunzipAll(original))
    let end = tar.length - 512
    while (tar.subarray(end, end + 512).every((x) => x === 0)) end -= 512
    writeFileSync(out, Bun.gzipSync(tar.subarray(0, end + 512)))
  }, /the archive ends without its end-of-archive blocks/],
]

test.each(variants)('%s: listed as ok, verified, restored', async (label, make, note) => {
  const work = join(root, label.replace(/[^a-z0-9]+/gi, '-'))
  const backups = join(work, 'backups')
  mkdirSync(backups, { recursive: true })
  const archive = join(backups, 'fleet-2026-02-02-103000.tar.gz')
  make(archive, work)
  const [listing] = await listBackups(backups)
  expect({ label, status: listing!.status, reason: listing!.reason }).toEqual({ label, status: 'ok', reason: null })
  const verify = await runCli(['fleet', 'verify', 'latest', '-d', work])
  expect({ label, code: verify.code, stdout: verify.stdout }).toEqual({ label, code: 0, stdout: expect.stringMatching(/: OK \(2 molts, \d+ files, .*sha256 verified\)\n$/) })
  if (note) expect(verify.stderr).toMatch(note)
  const restore = await runCli(['fleet', 'restore', '-d', work, '--from', 'latest', '--yes', '--skip-users', '--skip-cron'])
  expect({ label, code: restore.code, stderr: restore.stderr }).toEqual({ label, code: 0, stderr: expect.not.stringContaining('error') })
  expect(readFileSync(join(work, 'alpha', '.openclaw', 'workspace', 'MEMORY.md'), 'utf8')).toBe('# memory of alpha\nlikes tea\n')
  if (note) expect(restore.stderr).toMatch(note)
}, 60_000)

test("'latest' is the newest finished archive for verify and restore alike; a damaged newest is reported, never passed over", async () => {
  const work = join(root, 'latest')
  const backups = join(work, 'backups')
  mkdirSync(backups, { recursive: true })
  const older = join(backups, 'fleet-2026-02-01-103000.tar.gz')
  copyFileSync(original, older)
  const newest = join(backups, 'fleet-2026-02-02-103000.tar.gz')
  const bytes = readFileSync(original)
  writeFileSync(newest, bytes.subarray(0, Math.floor(bytes.length * 0.6)))
  // the newest by the manifest's time and by mtime alike
  utimesSync(older, 1_700_000_000, 1_700_000_000)
  const verify = await runCli(['fleet', 'verify', 'latest', '-d', work])
  expect(verify.code).toBe(1)
  expect(verify.stdout).toStartWith(`${newest}: `)
  const restore = await runCli(['fleet', 'restore', '-d', work, '--from', 'latest', '--yes', '--skip-users'])
  expect(restore.code).toBe(2)
  expect(restore.stderr).toContain(`the newest archive, ${newest}, is corrupt`)
  expect(restore.stderr).toContain('to restore an older one, name it with --from')
  expect(readdirSync(work).sort()).toEqual(['backups'])
  // naming the older one works
  const named = await runCli(['fleet', 'restore', '-d', work, '--from', older, '--yes', '--skip-users', '--skip-cron'])
  expect(named.code).toBe(0)
}, 60_000)

test('one damaged molt: verify names it and says the other restores; --select of the other restores, a full restore refuses', async () => {
  const work = join(root, 'one-bad')
  mkdirSync(work)
  const archive = join(work, 'bad-bravo.tar.gz')
  const tar = Buffer.from(gunzipSync(readFileSync(original)))
  const at = tar.indexOf('Subject: spaces')
  const bravoAt = tar.lastIndexOf('Subject: spaces')
  expect(bravoAt).toBeGreaterThan(at)
  tar[bravoAt] = 's'.charCodeAt(0)
  writeFileSync(archive, Bun.gzipSync(tar))
  const verify = await runCli(['fleet', 'verify', archive, '--json'])
  expect(verify.code).toBe(1)
  const report = JSON.parse(verify.stdout)
  expect(report.molts).toEqual([
    { name: 'alpha', ok: true, problems: [], notes: expect.any(Array) },
    { name: 'bravo', ok: false, problems: ['"bravo/Maildir/cur/msg with spaces:2,S": sha256 mismatch (its content is not what was backed up)'], notes: expect.any(Array) },
  ])
  const text = await runCli(['fleet', 'verify', archive])
  expect(text.stderr).toContain('warn restore would refuse bravo; --select alpha restores the rest')
  const all = await runCli(['fleet', 'restore', '-d', work, '--from', archive, '--yes', '--skip-users', '--skip-cron'])
  expect(all.code).toBe(1)
  expect(all.stderr).toContain('restore refused: "bravo/Maildir/cur/msg with spaces:2,S": sha256 mismatch')
  const dry = await runCli(['fleet', 'restore', '-d', work, '--from', archive, '--select', 'alpha', '--dry-run', '--skip-users'])
  expect(dry.code).toBe(0)
  const one = await runCli(['fleet', 'restore', '-d', work, '--from', archive, '--select', 'alpha', '--yes', '--skip-users', '--skip-cron'])
  expect(one.code).toBe(0)
  expect(readdirSync(work).filter((n) => !n.startsWith('.')).sort()).toEqual(['alpha', 'bad-bravo.tar.gz', 'clmnt.json', 'molts.json'])
}, 60_000)

test('a log that grew 40 MiB during the backup (the notes account for it): verifies, restores, and --select of another molt too', async () => {
  const work = join(root, 'grew')
  mkdirSync(work)
  const archive = join(work, 'grew.tar.gz')
  const planned = 1000
  const grown = 40 << 20
  const files = (name: string, port: number) => ({ ...moltFiles(name, port, work), '.openclaw/gateway.log': name === 'alpha' ? 'x'.repeat(grown) : 'log\n' })
  writeFleetArchive(archive, {
    baseDir: work,
    molts: [{ name: 'alpha', port: 19001, files: files('alpha', 19001) }, { name: 'bravo', port: 19021, files: files('bravo', 19021) }],
    // the manifest was planned with the log at 1000 bytes; the checksum list's note says it grew
    editManifest: (m) => {
      m.molts[0].backup_size_bytes -= grown - planned
      m.molts[0].component_stats.logs.bytes -= grown - planned
      m.total_size_bytes -= grown - planned
    },
    editChecksums: (text) => text.replace(/^#clmnt-end /m, `${noteLine({ kind: 'grew', path: 'alpha/.openclaw/gateway.log', detail: `grew while being read; archived its first ${grown} bytes`, planned_size: planned, archived_size: grown })}#clmnt-end `),
  })
  const verify = await runCli(['fleet', 'verify', archive])
  expect({ code: verify.code, stdout: verify.stdout }).toEqual({ code: 0, stdout: expect.stringContaining(': OK (2 molts') })
  const one = await runCli(['fleet', 'restore', '-d', work, '--from', archive, '--select', 'bravo', '--yes', '--skip-users', '--skip-cron'])
  expect(one.code).toBe(0)
  const alpha = await runCli(['fleet', 'restore', '-d', work, '--from', archive, '--select', 'alpha', '--yes', '--skip-users', '--skip-cron'])
  expect(alpha.code).toBe(0)
  expect(statSync(join(work, 'alpha', '.openclaw', 'gateway.log')).size).toBe(grown)
}, 60_000)
