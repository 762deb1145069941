import { afterEach, beforeEach, expect, setDefaultTimeout, test } from 'bun:test'
import { appendFileSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import * as tar from 'tar'
import { backupFleet, UnreadableFilesError, type BackupHooks, type BackupResult } from '../../src/archive/backup.ts'
import { readArchiveHead } from '../../src/archive/read.ts'
import { verifyArchive } from '../../src/archive/verify.ts'
import { writeRichFleet } from '../helpers/archive.ts'
import { removeDir, tempDir } from '../helpers/fleet.ts'

// whole backups, some through the CLI: seconds each on a loaded machine
setDefaultTimeout(30_000)

// In-process backups of a real fleet: what goes in, and files changing under the backup's feet.
let dir: string
let base: string
beforeEach(() => {
  dir = tempDir()
  base = join(dir, 'fleet')
  writeRichFleet(base, [
    { name: 'alpha', port: 19001 },
    { name: 'bravo', port: 19021 },
  ])
})
afterEach(() => removeDir(dir))

const backup = (hooks: BackupHooks = {}, options: Partial<Parameters<typeof backupFleet>[0]> = {}): Promise<BackupResult> =>
  backupFleet({ baseDir: base, output: join(dir, 'out.tar.gz'), clmntVersion: '9.9.9', crontab: false, ...options }, hooks)

async function members(path: string): Promise<Map<string, string>> {
  const seen = new Map<string, string>()
  // node-tar as an independent reader (restore may use it): it must read our multi-member gzip
  await tar.t({ file: path, onReadEntry: (e) => void seen.set(e.path, e.type) })
  return seen
}

test('components go in, the rest stays out; hard links become files, escaping symlinks are skipped with a note', async () => {
  const result = await backup()
  expect(result.path).toBe(join(dir, 'out.tar.gz'))
  const seen = await members(result.path!)
  const names = [...seen.keys()]
  expect(names[0]).toBe('manifest.json')
  expect(names.at(-1)).toBe('checksums.sha256')
  for (const name of ['global/molts.json', 'global/clmnt.json', 'alpha/.molt-info', 'alpha/.openclaw/openclaw.json', 'alpha/.openclaw/.env', 'alpha/.openclaw/extra.json', 'alpha/.openclaw/skills/hello/SKILL.md', 'alpha/.openclaw/workspace/MEMORY.md', 'alpha/.openclaw/agents/main/sessions/s1.jsonl', 'alpha/.msmtprc', 'alpha/.mbsyncrc', 'alpha/.mail-state/last-sync', 'alpha/Maildir/cur/msg with spaces:2,S', 'alpha/Maildir/new/ünïcødé ✉ message', 'alpha/Maildir/tmp/.keep', 'alpha/.molt-state/health-status.json', 'alpha/.openclaw/gateway.log', 'alpha/.openclaw/gateway.log.1']) {
    expect(seen.get(name)).toBe('File')
  }
  expect(seen.get('alpha/.openclaw/workspace/MEMORY-hardlink.md')).toBe('File')
  expect(seen.get('alpha/.openclaw/workspace/current')).toBe('SymbolicLink')
  expect(seen.get('alpha/.openclaw/skills/mail')).toBe('SymbolicLink')
  expect(seen.get('alpha/.openclaw/sandboxes/box1/notes.md')).toBe('File')
  for (const name of ['alpha/.openclaw/gateway.pid', 'alpha/.openclaw/cache/blob', 'alpha/.bashrc', 'alpha/.molt-state/fifo', 'alpha/.openclaw/skills/escape']) {
    expect(seen.has(name)).toBe(false)
  }
  expect(result.notes.map((n) => [n.kind, n.path])).toEqual([
    ['skipped', 'alpha/.openclaw/skills/escape'],
    ['skipped', 'bravo/.openclaw/skills/escape'],
  ])
  const alpha = result.manifest.molts[0]!
  expect(alpha).toMatchObject({ name: 'alpha', port: 19001, created: '2026-01-15', home: join(base, 'alpha'), user: 'root', crontab: null })
  expect(alpha.components).toEqual(['config', 'skills', 'agents', 'openclaw-state', 'mail-config', 'maildir', 'state', 'logs'])
  expect(alpha.component_stats.logs).toEqual({ files: 3, bytes: expect.any(Number) })
  expect(result.manifest.total_files).toBe(result.files)
  expect(statSync(result.path!).mode & 0o777).toBe(0o600)
  expect((await verifyArchive(result.path!)).problems).toEqual([])
})

test('--exclude-maildir and --exclude-logs leave those out and say so in the manifest', async () => {
  const result = await backup({}, { excludeMaildir: true, excludeLogs: true, select: ['bravo'] })
  const names = [...(await members(result.path!)).keys()]
  expect(names.some((n) => n.includes('Maildir'))).toBe(false)
  expect(names.some((n) => /\.log(\.\d+)?$/.test(n))).toBe(false)
  expect(names.some((n) => n.startsWith('alpha/'))).toBe(false)
  expect(result.manifest.options).toMatchObject({ select: ['bravo'], exclude_maildir: true, exclude_logs: true })
  expect(result.manifest.molts.map((m) => m.name)).toEqual(['bravo'])
  expect((await verifyArchive(result.path!)).ok).toBe(true)
})

test.each([
  ['grows', (path: string) => appendFileSync(path, 'more'), 'changed', 'size changed since planning'],
  ['shrinks', (path: string) => truncateSync(path, 2), 'changed', 'size changed since planning'],
  ['vanishes', (path: string) => unlinkSync(path), 'vanished', 'vanished before it could be read'],
  ['becomes a symlink', (path: string) => (unlinkSync(path), symlinkSync('/etc/hostname', path)), 'replaced', 'became a symlink'],
  ['is rewritten atomically', (path: string) => (writeFileSync(`${path}.new`, 'fresh content, longer than before'), renameSync(`${path}.new`, path)), 'changed', 'size changed since planning'],
] as const)('a file that %s after planning is a note, and the archive still verifies', async (_, change, kind, detail) => {
  const target = 'alpha/.molt-state/health-status.json'
  const result = await backup({ onFile: (member, path) => member === target && change(path) })
  expect(result.notes).toContainEqual(expect.objectContaining({ kind, path: target, detail: expect.stringContaining(detail) }))
  const report = await verifyArchive(result.path!)
  expect(report.problems).toEqual([])
  expect(report.notes).toContainEqual(expect.objectContaining({ kind, path: target }))
})

test('a folder swapped for a symlink to elsewhere between planning and reading is not followed', async () => {
  const outside = join(dir, 'outside')
  mkdirSync(outside)
  writeFileSync(join(outside, 'health-status.json'), 'SECRET FROM OUTSIDE')
  const result = await backup({
    onFile: (member) => {
      if (member !== 'alpha/.molt-state/health-status.json') return
      renameSync(join(base, 'alpha', '.molt-state'), join(base, 'alpha', '.molt-state-old'))
      symlinkSync(outside, join(base, 'alpha', '.molt-state'))
    },
  })
  expect(result.notes).toContainEqual(expect.objectContaining({ kind: 'replaced', path: 'alpha/.molt-state/health-status.json' }))
  expect(gunzipSync(readFileSync(result.path!)).includes('SECRET FROM OUTSIDE')).toBe(false)
  expect((await verifyArchive(result.path!)).problems).toEqual([])
})

test('an empty fleet gives a valid archive with no molts, and a warning', async () => {
  const empty = join(dir, 'empty')
  mkdirSync(empty)
  const result = await backupFleet({ baseDir: empty, clmntVersion: '9.9.9' })
  expect(result.warnings).toEqual([`no molts in ${empty}: the archive holds no molt`])
  expect(result.manifest.molts).toEqual([])
  expect((await readArchiveHead(result.path!)).manifest.molts).toEqual([])
  expect((await verifyArchive(result.path!)).ok).toBe(true)
})

test('--dry-run writes nothing, not even the backups folder or the lock', async () => {
  rmSync(join(dir, 'out.tar.gz'), { force: true })
  const result = await backupFleet({ baseDir: base, dryRun: true, clmntVersion: '9.9.9', crontab: false })
  expect(result.path).toBeNull()
  expect(result.manifest.molts.map((m) => m.name)).toEqual(['alpha', 'bravo'])
  expect(() => statSync(join(base, 'backups'))).toThrow()
  expect(() => statSync(join(base, '.clmnt-fleet.lock'))).toThrow()
})

// Root reads anything: to make one open() fail with EACCES mid-backup, the reading thread drops to
// nobody's effective uid just for that file (seteuid; the real uid stays root, so it can come back).
const canDrop = process.getuid?.() === 0 && typeof process.seteuid === 'function'
const becomeNobodyFor = (target: string): BackupHooks['onFile'] => (member) => {
  if (member === target) process.seteuid!(65534)
  else if (process.geteuid?.() !== 0) process.seteuid!(0)
}

test.skipIf(!canDrop)('a file that cannot be read while streaming fails the backup, and no archive or .partial is left', async () => {
  try {
    const error = await backup({ onFile: becomeNobodyFor('alpha/.msmtprc') }).catch((e) => e)
    expect(error).toBeInstanceOf(UnreadableFilesError)
    expect((error as UnreadableFilesError).unreadable).toEqual([{ path: 'alpha/.msmtprc', reason: 'EACCES' }])
  } finally {
    process.seteuid!(0)
  }
  expect(readdirSync(dir).filter((n) => n.startsWith('out'))).toEqual([])
})

test.skipIf(!canDrop)('with allowPartial the miss is a note the manifest reconciles with', async () => {
  let result: BackupResult
  try {
    result = await backup({ onFile: becomeNobodyFor('alpha/.msmtprc') }, { allowPartial: true })
  } finally {
    process.seteuid!(0)
  }
  expect(result.partial).toBe(true)
  expect(result.notes).toContainEqual(expect.objectContaining({ kind: 'unreadable', path: 'alpha/.msmtprc', planned_size: expect.any(Number) }))
  const report = await verifyArchive(result.path!)
  expect(report.problems).toEqual([])
  // one file fewer than planned (verify counts index.jsonl too)
  expect(report.files).toBe(result.manifest.total_files! - 1 + 2) // + index.jsonl, state.jsonl
})

test('a molt called "global" does not collide with the global folder: the manifest names another one', async () => {
  writeRichFleet(base, [{ name: 'global', port: 19041 }])
  const result = await backup()
  expect(result.manifest.layout.global).toBe('.global')
  const names = [...(await members(result.path!)).keys()]
  expect(names).toContain('.global/molts.json')
  expect(names).toContain('global/.molt-info')
  expect((await verifyArchive(result.path!)).problems).toEqual([])
})

test('a registry entry whose home is gone is skipped with a note; the other molts are archived', async () => {
  rmSync(join(base, 'bravo'), { recursive: true })
  const result = await backup()
  expect(result.manifest.molts.map((m) => m.name)).toEqual(['alpha'])
  expect(result.notes).toContainEqual({ kind: 'skipped', path: 'bravo/', detail: `home ${join(base, 'bravo')} does not exist: molt not archived` })
  expect((await verifyArchive(result.path!)).ok).toBe(true)
})

// No device here can fail a read part-way for real (no device-mapper, no FUSE): the read fault is injected.
test('a read that fails part-way (EIO) with allowPartial: the zero-filled member is marked damaged and left out of the checksums', async () => {
  const target = 'alpha/.openclaw/workspace/MEMORY.md'
  writeFileSync(join(base, 'alpha', '.openclaw', 'workspace', 'MEMORY.md'), 'x'.repeat(20_000))
  const failed = await backup({ readFault: (member) => (member === target ? 'EIO' : null) }).catch((e) => e)
  expect(failed).toBeInstanceOf(UnreadableFilesError)
  const result = await backup({ readFault: (member) => (member === target ? 'EIO' : null) }, { allowPartial: true, output: join(dir, 'partial.tar.gz') })
  expect(result.partial).toBe(true)
  expect(result.unreadable).toEqual([{ path: target, reason: 'EIO' }])
  expect(result.notes).toContainEqual(expect.objectContaining({ kind: 'unreadable', path: target, damaged: true, archived_size: 20_000 }))
  const x = join(dir, 'x')
  mkdirSync(x)
  await tar.x({ file: result.path!, cwd: x })
  const sums = readFileSync(join(x, 'checksums.sha256'), 'utf8')
  expect(sums).not.toMatch(new RegExp(`^[0-9a-f]{64}  ${target}$`, 'm'))
  expect(sums).toContain('"damaged":true')
  // what was read is there; no checksum vouches for the zeros after it
  expect(readFileSync(join(x, target), 'utf8').startsWith('x'.repeat(4096))).toBe(true)
  expect(readFileSync(join(x, target)).subarray(4096).every((b) => b === 0)).toBe(true)
})

// The read-fault hook runs once the file is open and its size taken: appending there is a file growing while it is read.
test('files that grow while they are read: their first size bytes go in, checksummed, with a "grew" note (small, and over several chunks)', async () => {
  const small = 'alpha/.openclaw/workspace/MEMORY.md'
  const large = 'alpha/.openclaw/gateway.log'
  const sizes = { [small]: 20_000, [large]: (5 << 20) / 2 + 123 }
  for (const [member, size] of Object.entries(sizes)) writeFileSync(join(base, member), Buffer.alloc(size, member === small ? 's' : 'l'))
  const grow = (member: string) => {
    if (member in sizes) appendFileSync(join(base, member), 'MORE'.repeat(1000))
    return null
  }
  const result = await backup({ readFault: grow })
  const x = join(dir, 'x')
  mkdirSync(x)
  await tar.x({ file: result.path!, cwd: x })
  const sums = readFileSync(join(x, 'checksums.sha256'), 'utf8')
  for (const [member, size] of Object.entries(sizes)) {
    expect(result.notes).toContainEqual({ kind: 'grew', path: member, detail: `grew while being read; archived its first ${size} bytes`, planned_size: size, archived_size: size })
    const archived = readFileSync(join(x, member))
    expect(archived.length).toBe(size)
    expect(archived.every((b) => b === (member === small ? 0x73 : 0x6c))).toBe(true)
    expect(sums).toContain(`${new Bun.CryptoHasher('sha256').update(archived).digest('hex')}  ${member}\n`)
  }
  // files that did not grow get no note
  expect(result.notes.filter((n) => n.kind === 'grew').length).toBe(2)
  expect((await verifyArchive(result.path!)).problems).toEqual([])
})

test('a symlinked Maildir owned by the molt user is followed and archived as a folder; one that is not fails the backup loudly', async () => {
  const elsewhere = join(dir, 'mail-volume')
  renameSync(join(base, 'alpha', 'Maildir'), elsewhere)
  symlinkSync(elsewhere, join(base, 'alpha', 'Maildir'))
  const result = await backup()
  expect(result.notes).toContainEqual(expect.objectContaining({ kind: 'followed', path: 'alpha/Maildir' }))
  const seen = await members(result.path!)
  expect(seen.get('alpha/Maildir/')).toBe('Directory')
  expect(seen.get('alpha/Maildir/cur/msg with spaces:2,S')).toBe('File')
  expect((await verifyArchive(result.path!)).problems).toEqual([])
  // the folder it leads to belongs to someone else: no archive, and the reason
  if (process.getuid?.() === 0) {
    const { chownSync } = await import('node:fs')
    chownSync(elsewhere, 65534, 65534)
    const error = await backup({}, { output: join(dir, 'other.tar.gz') }).catch((e) => e)
    expect(error).toBeInstanceOf(UnreadableFilesError)
    expect((error as UnreadableFilesError).unreadable).toEqual([{ path: 'alpha/Maildir', reason: expect.stringContaining("the folder it leads to is not the molt user's") }])
  }
})

test('the whole ~/.openclaw but what OpenClaw calls regenerable: state, credentials, identity in; tmp, plugin-skills, node_modules out', async () => {
  const oc = join(base, 'alpha', '.openclaw')
  const files = ['state/openclaw.sqlite-journal-free.txt', 'credentials/whatsapp/default/creds.json', 'identity/device.json', 'cron/jobs.json', 'tmp/openclaw-0/gateway.lock', 'plugin-skills/x/SKILL.md', 'extensions/p/node_modules/dep/index.js', 'extensions/p/index.js', 'agents/main/agent/tmp/scratch', 'npm-runtime/x', 'logs/stability/b.json']
  for (const rel of files) {
    mkdirSync(join(oc, rel, '..'), { recursive: true })
    writeFileSync(join(oc, rel), rel)
  }
  const result = await backup()
  const seen = await members(result.path!)
  for (const rel of ['state/openclaw.sqlite-journal-free.txt', 'credentials/whatsapp/default/creds.json', 'identity/device.json', 'cron/jobs.json', 'extensions/p/index.js', 'logs/stability/b.json']) expect([rel, seen.has(`alpha/.openclaw/${rel}`)]).toEqual([rel, true])
  for (const rel of ['tmp/openclaw-0/gateway.lock', 'plugin-skills/x/SKILL.md', 'extensions/p/node_modules/dep/index.js', 'agents/main/agent/tmp/scratch', 'npm-runtime/x']) expect([rel, seen.has(`alpha/.openclaw/${rel}`)]).toEqual([rel, false])
  expect(result.manifest.molts[0]!.components).toContain('openclaw-state')
})
