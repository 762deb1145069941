import { afterAll, beforeAll, expect, test } from 'bun:test'
import { lstatSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { lockFleet } from '../../src/archive/fleet-lock.ts'
import { runCli } from '../helpers/cli.ts'
import { removeDir, tempDir } from '../helpers/fleet.ts'
import { writeRichFleet } from '../helpers/archive.ts'
import { moltFiles, writeBombArchive, writeFleetArchive, type FleetArchiveSpec, type RawMember } from '../helpers/hostile.ts'

// Archives no honest backup writes, generated here byte by byte. Each must be refused with one
// line, leave nothing outside the staging folder, leave the live molts as they were, and leave
// no staging folder behind.
let root: string
let base: string
let outside: string
let archives: string

beforeAll(() => {
  root = tempDir('clmnt-hostile-')
  base = join(root, 'fleet')
  outside = join(root, 'outside')
  archives = join(root, 'archives')
  mkdirSync(outside)
  mkdirSync(archives)
  writeRichFleet(base, [{ name: 'bravo', port: 19021 }])
  lockFleet(base, 'test').release() // the lock file exists from the start: a restore rewrites it
})
afterAll(() => removeDir(root))

const spec = (extra: RawMember[] = [], edit: Partial<FleetArchiveSpec> = {}): FleetArchiveSpec => ({
  baseDir: base,
  molts: [
    { name: 'alpha', port: 19001, files: moltFiles('alpha', 19001, base) },
    { name: 'bravo', port: 19021, files: moltFiles('bravo', 19021, base) },
  ],
  extra,
  ...edit,
})

/**
 * Every path under the test root with type, mode, size, mtime and link target. Set aside: the lock
 * file (every run rewrites it) and the base dir's own mtime (the staging folder was made and removed in it).
 */
function snapshot(): string[] {
  const out: string[] = []
  const walk = (dir: string) => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name)
      if (path === join(base, '.clmnt-fleet.lock') || dir === archives) continue
      const st = lstatSync(path, { bigint: true })
      out.push(`${path} ${st.mode.toString(8)} ${st.size} ${path === base ? '-' : st.mtimeNs} ${st.isSymbolicLink() ? 'link' : ''}`)
      if (st.isDirectory()) walk(path)
    }
  }
  walk(root)
  return out
}

type Case = [label: string, make: (path: string) => void, code: number, message: RegExp]

const cases: Case[] = [
  ['../ traversal', (p) => writeFleetArchive(p, spec([{ name: 'alpha/../../outside/evil', content: 'x' }])), 1, /member "alpha\/\.\.\/\.\.\/outside\/evil": path with "\.\."/],
  ['absolute path', (p) => writeFleetArchive(p, spec([{ name: `${outside}/abs`, content: 'x' }])), 1, /: absolute path/],
  ['symlink out, then a file written through it', (p) => writeFleetArchive(p, spec([{ name: 'alpha/out', type: '2', linkname: '../../outside' }, { name: 'alpha/out/pwned', content: 'x' }])), 1, /member "alpha\/out\/pwned" lies inside "alpha\/out", which is a symlink/],
  ['hard link to /etc/passwd', (p) => writeFleetArchive(p, spec([{ name: 'alpha/passwd', type: '1', linkname: '/etc/passwd' }])), 1, /"alpha\/passwd" is a hard link to "\/etc\/passwd", which is not an earlier file of molt alpha/],
  ['char device', (p) => writeFleetArchive(p, spec([{ name: 'alpha/null', type: '3' }])), 1, /"alpha\/null" is a char device/],
  ['FIFO', (p) => writeFleetArchive(p, spec([{ name: 'alpha/.molt-state/fifo', type: '6' }])), 1, /"alpha\/\.molt-state\/fifo" is a fifo/],
  ['member of a molt not in the manifest', (p) => writeFleetArchive(p, spec([{ name: 'mallory/.molt-info', content: 'MOLT_NAME=mallory\n' }])), 1, /"mallory\/\.molt-info" belongs to no molt of the manifest/],
  ['member outside any molt', (p) => writeFleetArchive(p, spec([{ name: 'stray.txt', content: 'x' }])), 1, /"stray\.txt" belongs to no molt of the manifest/],
  ['manifest naming a molt ../x', (p) => writeFleetArchive(p, spec([], { editManifest: (m) => (m.molts[0].name = '../x') })), 2, /manifest\.json is not a fleet manifest: not a valid molt name \(at molts\.0\.name\)/],
  ['duplicate member', (p) => writeFleetArchive(p, spec([{ name: 'alpha/.msmtprc', content: 'account evil\n' }])), 1, /member "alpha\/\.msmtprc" appears twice/],
  ['symlink inside, then a file through it', (p) => writeFleetArchive(p, spec([{ name: 'alpha/inner', type: '2', linkname: 'Maildir' }, { name: 'alpha/inner/x', content: 'x' }])), 1, /member "alpha\/inner\/x" lies inside "alpha\/inner", which is a symlink/],
  ['truncated gzip', (p) => {
    writeFleetArchive(p, spec([{ name: 'alpha/Maildir/cur/big:2,S', content: 'y'.repeat(200_000) + crypto.randomUUID().repeat(4000) }]))
    const bytes = readFileSync(p)
    writeFileSync(p, bytes.subarray(0, Math.floor(bytes.length * 0.6)))
  }, 1, /(gzip stream ends early|cut short)/],
  ['a flipped byte in the compressed data', (p) => {
    writeFleetArchive(p, spec([{ name: 'alpha/Maildir/cur/big:2,S', content: Array.from({ length: 20_000 }, (_, i) => `line ${i} of a long mail\n`).join('') }]))
    const bytes = readFileSync(p)
    bytes[Math.floor(bytes.length / 2)]! ^= 0x55
    writeFileSync(p, bytes)
  }, 1, /the archive cannot be read to its end: (gzip data is corrupt|gzip: |invalid tar header)|sha256 mismatch/],
  ['gzip bomb in a member (1000:1, 2 GiB claimed)', (p) => writeBombArchive(p, spec(), { name: 'alpha/Maildir/cur/bomb:2,S', mib: 2048, where: 'member' }), 1, /"alpha\/Maildir\/cur\/bomb:2,S" \(2147483648 bytes\) takes the archive past the \d+ bytes its manifest can account for/],
  ['a checksum that does not match', (p) => writeFleetArchive(p, spec([], { editChecksums: (t) => t.replace(/^[0-9a-f]{64}(  alpha\/\.msmtprc)$/m, `${'0'.repeat(64)}$1`) })), 1, /"alpha\/\.msmtprc": sha256 mismatch/],
  ['a manifest that lies about the files', (p) => writeFleetArchive(p, spec([], { editManifest: (m) => (m.molts[0].files += 1) })), 1, /molt alpha: the manifest accounts for 7 files/],
]

test.each(cases)('%s: refused with one line; nothing outside staging, live molts untouched, no staging left', async (label, make, code, message) => {
  const archive = join(archives, `${label.replace(/[^a-z0-9]+/gi, '-')}.tar.gz`)
  make(archive)
  const before = snapshot()
  const bravoInfo = readFileSync(join(base, 'bravo', '.molt-info'), 'utf8')
  const result = await runCli(['fleet', 'restore', '-d', base, '--from', archive, '--force', '--yes', '--skip-users'])
  const errors = result.stderr.split('\n').filter((l) => l && !l.startsWith('warn '))
  expect({ label, code: result.code, errors }).toEqual({ label, code, errors: [expect.stringMatching(message)] })
  expect(errors[0]).toStartWith('error ')
  expect(snapshot()).toEqual(before)
  expect(readdirSync(base).filter((n) => n.startsWith('.clmnt-restore'))).toEqual([])
  expect(readFileSync(join(base, 'bravo', '.molt-info'), 'utf8')).toBe(bravoInfo)
  expect(readdirSync(outside)).toEqual([])
}, 30_000)

type Accepted = [label: string, make: (path: string) => void, warning: RegExp, check: (home: string) => void]

const accepted: Accepted[] = [
  ['a symlink to /etc: restored as a link, never followed', (p) => writeFleetArchive(p, spec([{ name: 'alpha/etc', type: '2', linkname: '/etc' }])), /alpha: 1 symlink\(s\) point outside the molt, restored as links and never followed: "alpha\/etc" → "\/etc"/, (home) => {
    expect(lstatSync(join(home, 'etc')).isSymbolicLink()).toBe(true)
  }],
  ['a setuid file: restored without the bit, and said', (p) => writeFleetArchive(p, spec([{ name: 'alpha/.openclaw/skills/hello/run', content: '#!/bin/sh\n', mode: 0o4755 }])), /alpha: set-user-ID, set-group-ID or sticky bits dropped from 1 member\(s\): "alpha\/\.openclaw\/skills\/hello\/run" \(4755\)/, (home) => {
    expect(lstatSync(join(home, '.openclaw/skills/hello/run')).mode & 0o7777).toBe(0o755)
  }],
  ['300 MiB of zeros after the end blocks: not read (GNU tar stops there too)', (p) => writeBombArchive(p, spec(), { name: '', mib: 300, where: 'trailing' }), /more than 1 MiB follow the end-of-archive blocks: not read/, (home) => {
    expect(readFileSync(join(home, 'Maildir', 'cur', '1:2,S'), 'utf8')).toBe('Subject: hi\n\nhello\n')
  }],
]

test.each(accepted)('accepted: %s', async (label, make, warning, check) => {
  const archive = join(archives, `${label.replace(/[^a-z0-9]+/gi, '-')}.tar.gz`)
  make(archive)
  const target = join(root, `target-${label.replace(/[^a-z0-9]+/gi, '-')}`)
  mkdirSync(target)
  const verify = await runCli(['fleet', 'verify', archive])
  expect(verify.code).toBe(0)
  expect(verify.stderr).toMatch(warning)
  const result = await runCli(['fleet', 'restore', '-d', target, '--from', archive, '--yes', '--skip-users'])
  expect(result.stderr).toMatch(warning)
  expect(result.code).toBe(0)
  check(join(target, 'alpha'))
  expect(readdirSync(outside)).toEqual([])
}, 30_000)

test('the builder makes a sound archive when nothing hostile is added: the same restore succeeds', async () => {
  const archive = join(archives, 'clean.tar.gz')
  writeFleetArchive(archive, spec())
  const other = join(root, 'clean-target')
  mkdirSync(other)
  const result = await runCli(['fleet', 'restore', '-d', other, '--from', archive, '--yes', '--skip-users'])
  expect(result.stderr).not.toContain('error')
  expect(result.code).toBe(0)
  expect(readFileSync(join(other, 'alpha', 'Maildir', 'cur', '1:2,S'), 'utf8')).toBe('Subject: hi\n\nhello\n')
})
