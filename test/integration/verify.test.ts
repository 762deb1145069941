import { afterAll, beforeAll, expect, test } from 'bun:test'
import { linkSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { spawnSync } from 'node:child_process'
import { backupFleet } from '../../src/archive/backup.ts'
import { TarParser } from '../../src/archive/tar-parse.ts'
import { verifyArchive } from '../../src/archive/verify.ts'
import { gunzipAll, rewriteArchive, run, writeLegacyArchive, writeRichFleet } from '../helpers/archive.ts'
import { runCli } from '../helpers/cli.ts'
import { removeDir, tempDir } from '../helpers/fleet.ts'

let dir: string
let base: string
let good: string

beforeAll(async () => {
  dir = tempDir()
  base = join(dir, 'fleet')
  writeRichFleet(base, [
    { name: 'alpha', port: 19001 },
    { name: 'bravo', port: 19021 },
  ])
  good = (await backupFleet({ baseDir: base, output: join(dir, 'good.tar.gz'), clmntVersion: '9.9.9', crontab: false })).path!
}, 60_000)
afterAll(() => removeDir(dir))

const sha256 = (data: string | Uint8Array) => new Bun.CryptoHasher('sha256').update(data).digest('hex')

test.each(['gzip', 'zstd'] as const)('%s: a sound archive verifies: exit 0 and what was checked', async (compression) => {
  const path = compression === 'gzip' ? good : (await backupFleet({ baseDir: base, output: join(dir, 'good.tar.zst'), compression, clmntVersion: '9.9.9', crontab: false })).path!
  const result = await runCli(['fleet', 'verify', path])
  expect(result.stderr).toBe('')
  expect(result.code).toBe(0)
  expect(result.stdout).toMatch(new RegExp(`^${path}: OK \\(2 molts, \\d+ files, [\\d.]+ KiB, \\d+ sha256 verified\\)\\n$`))
})

test('a flipped byte in the compressed data: the gzip check fails', async () => {
  const bytes = readFileSync(good)
  bytes[Math.floor(bytes.length / 2)]! ^= 0x20
  const path = join(dir, 'flipped-gzip.tar.gz')
  writeFileSync(path, bytes)
  const result = await runCli(['fleet', 'verify', path])
  expect(result.code).toBe(1)
  // found by the whole read (the head read stops after the manifest's first KiB), or before it
  expect(result.stdout).toMatch(new RegExp(`^${path}: (the archive cannot be read to its end: )?(gzip data is corrupt|gzip: unexpected bytes|invalid tar header)`))
  expect(result.stderr).toContain('problem(s); do not rely on this archive')
})

test('a flipped byte inside a member (compression intact): the sha256 names the member', async () => {
  const path = join(dir, 'flipped-member.tar.gz')
  rewriteArchive(good, path, (tarPath) => {
    const tar = readFileSync(tarPath)
    const at = tar.indexOf('hunter2')
    tar[at]! ^= 0x01
    writeFileSync(tarPath, tar)
  })
  const result = await runCli(['fleet', 'verify', path])
  expect(result.code).toBe(1)
  expect(result.stdout).toBe(`${path}: "alpha/.msmtprc": sha256 mismatch (its content is not what was backed up)\n`)
})

test('a truncated archive: cut in the middle, or cut cleanly at a tar block', async () => {
  const bytes = readFileSync(good)
  const cut = join(dir, 'cut.tar.gz')
  writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length * 0.7)))
  const report = await verifyArchive(cut)
  expect(report.ok).toBe(false)
  expect(report.problems[0]).toMatch(/gzip stream ends early \(truncated archive\)|tar stream ends/)
  const clean = join(dir, 'cut-clean.tar.gz')
  const tar = gunzipAll(good)
  // the first member that starts past the middle: the cut falls between two members
  const offsets: number[] = []
  const parser = new TarParser({ entry: (e) => void offsets.push(e.offset) })
  parser.push(tar)
  const boundary = offsets.find((o) => o >= tar.length / 2)!
  writeFileSync(clean, Bun.gzipSync(tar.slice(0, boundary)))
  // cut at a member boundary the tar stream itself looks whole (GNU tar reads it): the missing
  // checksum list and the manifest's counts tell
  const second = await verifyArchive(clean)
  expect(second.ok).toBe(false)
  expect(second.problems).toContain('checksums.sha256 is missing: the contents cannot be checked')
})

test('a member removed: listed in the checksums, missing from the archive', async () => {
  const path = join(dir, 'removed.tar.gz')
  rewriteArchive(good, path, (tarPath) => run('tar', ['--delete', '-f', tarPath, 'alpha/.molt-info']))
  const report = await verifyArchive(path)
  expect(report.problems).toHaveLength(4)
  expect(report.problems[0]).toBe('"alpha/.molt-info": listed in checksums.sha256 but missing from the archive')
  expect(report.problems[1]).toMatch(/^checksums\.sha256 says \d+ files \/ \d+ bytes; the archive holds \d+ \/ \d+$/)
  expect(report.problems[2]).toMatch(/^molt alpha: the manifest accounts for \d+ files \/ \d+ bytes, the archive holds \d+ \/ \d+$/)
  expect(report.problems[3]).toBe('"alpha/.molt-info": in index.jsonl but not in the archive')
})

test('format 3: a header changed where the checksums cannot see it (mode, mtime, link target) is caught against index.jsonl', async () => {
  const tar = Buffer.from(gunzipAll(good))
  const edits: [member: string, offset: number, value: string, problem: RegExp][] = [
    ['alpha/.msmtprc', 100, '0000666\0', /^"alpha\/\.msmtprc": its header is not what index.jsonl says \(mode 0600 → 0666\)$/],
    ['alpha/.openclaw/workspace/current', 157, 'MEMORY-hardlink.md\0', /^"alpha\/\.openclaw\/workspace\/current": its header is not what index.jsonl says \(link target "MEMORY\.md" → "MEMORY-hardlink\.md"\)$/],
    ['alpha/Maildir/cur/msg with spaces:2,S', 136, '00000000001\0', /^"alpha\/Maildir\/cur\/msg with spaces:2,S": its header is not what index\.jsonl says \(mtime 1600000000 → 1\)$/],
  ]
  for (const [member, offset, value, problem] of edits) {
    const copy = Buffer.from(tar)
    const at = copy.indexOf(Buffer.from(`${member}\0`))
    expect(at % 512).toBe(0)
    copy.write(value, at + offset, 'latin1')
    copy.fill(0x20, at + 148, at + 156)
    let sum = 0
    for (let i = at; i < at + 512; i++) sum += copy[i]!
    copy.write(`${sum.toString(8).padStart(6, '0')}\0 `, at + 148, 'latin1')
    const path = join(dir, `header-${offset}.tar.gz`)
    writeFileSync(path, Bun.gzipSync(copy))
    const report = await verifyArchive(path)
    expect(report.problems).toEqual([expect.stringMatching(problem)])
    expect(report.molts.find((m) => m.name === 'alpha')!.ok).toBe(false)
  }
})

test('a manifest that lies (its checksum line updated to match): the content check catches it', async () => {
  const x = join(dir, 'lying')
  mkdirSync(x)
  run('tar', ['-xzf', good, '-C', x])
  const manifest = JSON.parse(readFileSync(join(x, 'manifest.json'), 'utf8'))
  manifest.molts[0].files += 1
  manifest.molts[0].backup_size_bytes += 100
  manifest.molts.push({ ...manifest.molts[1], name: 'ghost' })
  const text = `${JSON.stringify(manifest, null, 2)}\n`
  writeFileSync(join(x, 'manifest.json'), text)
  const sums = readFileSync(join(x, 'checksums.sha256'), 'utf8').replace(/^[0-9a-f]{64}  manifest\.json$/m, `${sha256(text)}  manifest.json`)
  writeFileSync(join(x, 'checksums.sha256'), sums)
  const path = join(dir, 'lying.tar.gz')
  run('tar', ['-czf', path, '-C', x, 'manifest.json', 'global', 'alpha', 'bravo', 'checksums.sha256'])
  const result = await runCli(['fleet', 'verify', path])
  expect(result.code).toBe(1)
  const lines = result.stdout.trim().split('\n').map((l) => l.slice(path.length + 2))
  expect(lines).toContain('molt ghost: in the manifest but not in the archive')
  expect(lines.some((l) => /^molt alpha: the manifest accounts for \d+ files \/ \d+ bytes, the archive holds \d+ \/ \d+$/.test(l))).toBe(true)
  expect(lines.some((l) => l.startsWith("the manifest's totals"))).toBe(true)
})

test('unsafe members: absolute, "..", device, FIFO, foreign molt, under a symlink — one line each; hard links and outward symlinks kept as links', async () => {
  const stage = join(dir, 'hostile')
  mkdirSync(join(stage, 'alpha', 'sub'), { recursive: true })
  const manifest = { version: '2', clmnt_version: 'x', timestamp: '2026-02-02T10:30:00+00:00', hostname: 'h', base_dir: '/b', molts: [{ name: 'alpha', files: 0, backup_size_bytes: 0 }], total_files: 0, total_size_bytes: 0 }
  writeFileSync(join(stage, 'manifest.json'), JSON.stringify(manifest))
  writeFileSync(join(stage, 'alpha', 'a'), 'a')
  linkSync(join(stage, 'alpha', 'a'), join(stage, 'alpha', 'hard'))
  symlinkSync('/etc/passwd', join(stage, 'alpha', 'passwd'))
  symlinkSync('../../../x', join(stage, 'alpha', 'sub', 'up'))
  symlinkSync('.', join(stage, 'alpha', 'loop'))
  spawnSync('mkfifo', [join(stage, 'alpha', 'fifo')])
  mkdirSync(join(stage, 'zed'))
  writeFileSync(join(stage, 'zed', 'x'), 'x')
  writeFileSync(join(stage, 'abs'), 'abs')
  const tarPath = join(dir, 'hostile.tar')
  run('tar', ['-cf', tarPath, '-C', stage, 'manifest.json', 'alpha', 'zed'])
  run('tar', ['-rf', tarPath, '-P', '--transform', `s,^${stage}/abs,/tmp/clmnt-abs,`, join(stage, 'abs')])
  run('tar', ['-rf', tarPath, '-P', '--transform', `s,^${stage}/abs,alpha/../../evil,`, join(stage, 'abs')])
  run('tar', ['-rf', tarPath, '-P', '--transform', 's,^/dev/null,alpha/null,', '/dev/null'])
  run('tar', ['-rf', tarPath, '-P', '--transform', `s,^${stage}/abs,alpha/loop/x,`, join(stage, 'abs')])
  const path = join(dir, 'hostile.tar.gz')
  writeFileSync(path, Bun.gzipSync(readFileSync(tarPath)))
  const result = await runCli(['fleet', 'verify', path])
  expect(result.code).toBe(1)
  const lines = result.stdout.trim().split('\n').map((l) => l.slice(path.length + 2))
  // the hard link (GNU tar stores the second name of a file as one) is restored as a link; links
  // out of the molt are restored as links, and said
  expect(lines).toEqual([
    'member "alpha/fifo" is a fifo: only files, folders and links are restored',
    'member "zed/" belongs to no molt of the manifest',
    'member "zed/x" belongs to no molt of the manifest',
    'member "/tmp/clmnt-abs": absolute path',
    'member "alpha/../../evil": path with ".."',
    'member "alpha/null" is a char device: only files, folders and links are restored',
    'member "alpha/loop/x" lies inside "alpha/loop", which is a symlink',
    'checksums.sha256 is missing: the contents cannot be checked',
  ])
  expect(result.stderr).toMatch(/warn alpha: 2 symlink\(s\) point outside the molt, restored as links and never followed: .*"alpha\/passwd" → "\/etc\/passwd"/)
})

test('a legacy bash archive gets the structural checks and says it has no checksums', async () => {
  const path = join(dir, 'legacy.tar.gz')
  writeLegacyArchive(dir, path, [{ name: 'assistant-1', port: 19001 }])
  const result = await runCli(['fleet', 'verify', path])
  expect(result.code).toBe(0)
  expect(result.stderr).toContain('legacy archive (bash toolkit, manifest version 1.0): it has no checksums, so file contents cannot be verified')
  expect(result.stdout).toMatch(/OK \(1 molts, \d+ files, .*, structure only\)/)
  const json = JSON.parse((await runCli(['fleet', 'verify', path, '--json'])).stdout)
  expect(json).toMatchObject({ ok: true, legacy: true, verified: 0 })
  // structure still counts: a legacy archive with a member outside its molts fails
  const bad = join(dir, 'legacy-bad.tar.gz')
  rewriteArchive(path, bad, (tarPath) => {
    writeFileSync(join(dir, 'stray'), 'x')
    run('tar', ['-rf', tarPath, '-C', dir, 'stray'])
  })
  const report = await verifyArchive(bad)
  expect(report.problems).toEqual(['member "stray" belongs to no molt of the manifest'])
})

test("'latest' is the newest finished archive of <base-dir>/backups; not an archive at all is one clear line", async () => {
  const none = await runCli(['fleet', 'verify', 'latest', '-d', base])
  expect(none.code).toBe(1)
  expect(none.stderr).toContain(`no finished archive in ${join(base, 'backups')}`)
  const made = await backupFleet({ baseDir: base, clmntVersion: '9.9.9', crontab: false })
  const latest = await runCli(['fleet', 'verify', 'latest', '-d', base])
  expect(latest.code).toBe(0)
  expect(latest.stdout).toStartWith(`${made.path}: OK`)
  const junk = join(dir, 'junk.tar.gz')
  writeFileSync(junk, 'hello')
  const result = await runCli(['fleet', 'verify', junk])
  expect(result.code).toBe(1)
  expect(result.stdout).toBe(`${junk}: not a gzip or zstd file\n`)
}, 30_000)

test('a folder or a FIFO given as the archive: one line, a non-zero exit, never a wait on the FIFO (verify, restore, restore --dry-run)', async () => {
  const folder = join(dir, 'not-an-archive.tar.gz')
  mkdirSync(folder)
  const fifo = join(dir, 'fifo.tar.gz')
  run('mkfifo', [fifo])
  const into = join(dir, 'restore-into')
  mkdirSync(into)
  for (const [path, what] of [[folder, 'is a folder, not an archive'], [fifo, 'is not a regular file, not an archive']] as const) {
    const verify = await runCli(['fleet', 'verify', path])
    expect(verify.code).toBe(1)
    expect(verify.stdout).toBe(`${path}: ${path} ${what}\n`)
    for (const extra of [[], ['--dry-run']]) {
      const restore = await runCli(['fleet', 'restore', '-d', into, '--from', path, '--yes', ...extra])
      expect(restore.code).toBe(2)
      expect(restore.stderr.trim().split('\n')).toEqual([`error ${path}: ${path} ${what}`])
    }
  }
}, 60_000)
