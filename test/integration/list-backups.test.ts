import { afterAll, beforeAll, expect, test } from 'bun:test'
import { closeSync, copyFileSync, mkdirSync, openSync, readFileSync, unlinkSync, utimesSync, writeFileSync, writeSync } from 'node:fs'
import { basename, join } from 'node:path'
import { constants, gunzipSync, inflateRawSync } from 'node:zlib'
import { backupFleet } from '../../src/archive/backup.ts'
import { COMPLETE_TAIL_LENGTH } from '../../src/archive/compress.ts'
import { gzipHeader } from '../../src/archive/seek-index.ts'
import { run, writeLegacyArchive } from '../helpers/archive.ts'
import { chainBackups, twoMoltFleet } from '../helpers/chain.ts'
import { runCli } from '../helpers/cli.ts'
import { removeDir } from '../helpers/fleet.ts'

let dir: string
let base: string
let out: string
let older: string
let newer: string

beforeAll(async () => {
  ;({ dir, base, out } = twoMoltFleet({ out: 'archives' }))
  const options = { baseDir: base, clmntVersion: '9.9.9', crontab: false }
  older = (await backupFleet({ ...options, output: join(out, 'fleet-2026-02-01-103000.tar.gz'), now: new Date('2026-02-01T10:30:00Z') })).path!
  newer = (await backupFleet({ ...options, output: join(out, 'fleet-2026-02-03-103000.tar.zst'), compression: 'zstd', now: new Date('2026-02-03T10:30:00Z'), select: ['bravo'] })).path!
  // what else a backup folder may hold
  copyFileSync(older, join(out, 'fleet-2026-02-04-103000.tar.gz.partial'))
  const whole = readFileSync(older)
  writeFileSync(join(out, 'cut.tar.gz'), whole.subarray(0, Math.floor(whole.length * 0.6)))
  writeFileSync(join(out, 'junk.tar.gz'), 'this is not an archive at all')
  mkdirSync(join(dir, 'foreign'))
  writeFileSync(join(dir, 'foreign', 'readme'), 'hello')
  run('tar', ['-czf', join(out, 'foreign.tar.gz'), '-C', join(dir, 'foreign'), '.'])
  writeLegacyArchive(dir, join(out, 'fleet-2026-02-02.tar.gz'), [{ name: 'assistant-1', port: 19001 }, { name: 'assistant-2', port: 19021 }])
  writeFileSync(join(out, 'notes.txt'), 'not an archive: not listed')
  // files without a manifest sort by mtime: make them the oldest
  for (const f of ['cut.tar.gz', 'junk.tar.gz', 'foreign.tar.gz']) utimesSync(join(out, f), 1_600_000_000, 1_600_000_000)
})
afterAll(() => removeDir(dir))

interface Listing {
  file: string
  status: string
  reason: string | null
  created: string | null
  molts: string[] | null
  hostname: string | null
  clmnt_version: string | null
}

test('newest first; partial files incomplete, unreadable and foreign ones corrupt, bash archives legacy', async () => {
  const result = await runCli(['fleet', 'list-backups', '--backup-dir', out, '--json'])
  expect(result.code).toBe(0)
  const listed = JSON.parse(result.stdout) as Listing[]
  expect(listed.map((l) => [l.file, l.status])).toEqual([
    ['fleet-2026-02-03-103000.tar.zst', 'ok'],
    ['fleet-2026-02-02.tar.gz', 'legacy'],
    // a copy of the 02-01 archive: same manifest time, newer file
    ['fleet-2026-02-04-103000.tar.gz.partial', 'incomplete'],
    ['fleet-2026-02-01-103000.tar.gz', 'ok'],
    // its manifest is readable, so it sorts by its time; its end is missing
    ['cut.tar.gz', 'corrupt'],
    ['junk.tar.gz', 'corrupt'],
    ['foreign.tar.gz', 'corrupt'],
  ])
  const by = Object.fromEntries(listed.map((l) => [l.file, l]))
  expect(by['fleet-2026-02-03-103000.tar.zst']).toMatchObject({ molts: ['bravo'], clmnt_version: '9.9.9', reason: null })
  expect(by['fleet-2026-02-02.tar.gz']).toMatchObject({ created: '2026-02-02T10:30:00Z', molts: ['assistant-1', 'assistant-2'], hostname: 'claw-mountain', clmnt_version: null })
  expect(by['junk.tar.gz']!.reason).toBe('not a gzip or zstd file')
  expect(by['foreign.tar.gz']!.reason).toContain('no manifest.json')
  expect(by['cut.tar.gz']!.reason).toContain('cut short')
})

test('the table names every archive with its state, and warns about the broken ones', async () => {
  const result = await runCli(['fleet', 'list-backups', '--backup-dir', out])
  expect(result.code).toBe(0)
  const lines = result.stdout.trim().split('\n')
  expect(lines[0]).toMatch(/^FILE\s+CREATED\s+SIZE\s+MOLTS\s+HOST\s+VERSION\s+KIND\s+STATUS$/)
  expect(lines[1]).toMatch(/^fleet-2026-02-03-103000\.tar\.zst\s+2026-02-03T\S+\s+[\d.]+ KiB\s+1\s+\S+\s+9\.9\.9\s+full\s+ok$/)
  expect(lines[2]).toMatch(/^fleet-2026-02-02\.tar\.gz\s+2026-02-02T10:30:00Z\s+.*\s+2\s+claw-mountain\s+v1\.0\s+-\s+legacy \(no checksums\)$/)
  expect(lines[3]).toMatch(/^fleet-2026-02-04-103000\.tar\.gz\.partial\s+.*incomplete$/)
  expect(result.stdout).not.toContain('notes.txt')
  expect(result.stderr).toContain('warn junk.tar.gz: not a gzip or zstd file')
})

test('only the first chunk and the last bytes are read: a 2 GiB hole in the middle is never touched', async () => {
  // the manifest's chunk (up to the first sync flush), a few stored deflate blocks of zeros (what a reader
  // may inflate ahead), then a sparse hole that is not deflate at all, and the archive's last bytes
  const whole = readFileSync(older)
  // the gzip header carries the molt index's locator as its comment (seek-index.ts)
  const headerEnd = gzipHeader().length
  const firstChunkEnd = whole.indexOf(Buffer.from([0x00, 0x00, 0xff, 0xff]), headerEnd) + 4
  expect(inflateRawSync(whole.subarray(headerEnd, firstChunkEnd), { finishFlush: constants.Z_SYNC_FLUSH }).subarray(0, 13).toString()).toBe('manifest.json')
  const holey = join(dir, 'holey')
  mkdirSync(holey)
  const path = join(holey, 'fleet-2026-02-05-103000.tar.gz')
  const fd = openSync(path, 'w')
  writeSync(fd, whole.subarray(0, firstChunkEnd), 0, firstChunkEnd, 0)
  const storedHeader = Buffer.from([0x00, 0xff, 0xff, 0x00, 0x00])
  for (let k = 0; k < 8; k++) writeSync(fd, storedHeader, 0, 5, firstChunkEnd + k * (65535 + 5))
  const tail = whole.subarray(whole.length - COMPLETE_TAIL_LENGTH)
  writeSync(fd, tail, 0, tail.length, 2 ** 31)
  closeSync(fd)
  // listed from the head and the tail alone: reading the hole would find no deflate and call it damaged
  const result = await runCli(['fleet', 'list-backups', '--backup-dir', holey, '--json'])
  const listed = JSON.parse(result.stdout) as Listing[]
  expect(listed).toMatchObject([{ file: 'fleet-2026-02-05-103000.tar.gz', status: 'ok', molts: ['alpha', 'bravo'] }])
  // verify does read it all, and says what is wrong
  const verify = await runCli(['fleet', 'verify', path])
  expect(verify.code).toBe(1)
})

test('the default folder is <base-dir>/backups; an empty or missing folder lists nothing', async () => {
  const empty = await runCli(['fleet', 'list-backups', '-d', base])
  expect(empty.code).toBe(0)
  expect(empty.stderr).toContain(`no archives in ${join(base, 'backups')}`)
  expect((await runCli(['fleet', 'list-backups', '-d', base, '--json'])).stdout).toBe('[]\n')
  await backupFleet({ baseDir: base, clmntVersion: '9.9.9', crontab: false })
  const one = JSON.parse((await runCli(['fleet', 'list-backups', '-d', base, '--json'])).stdout) as Listing[]
  expect(one.map((l) => l.status)).toEqual(['ok'])
})

test('an incremental archive whose chain is not whole in the folder: listed, with a warning naming the missing parent', async () => {
  const chained = join(dir, 'chained')
  mkdirSync(chained)
  const backup = chainBackups({ dir, base, out: chained })
  const full = await backup()
  writeFileSync(join(base, 'alpha', 'notes.txt'), 'after the full backup\n')
  const inc1 = await backup()
  writeFileSync(join(base, 'alpha', 'notes.txt'), 'after the first incremental backup\n')
  const inc2 = await backup()
  const names = [full, inc1, inc2].map((r) => basename(r.path!))
  let result = await runCli(['fleet', 'list-backups', '--backup-dir', chained])
  expect(result.stderr).toBe('')
  unlinkSync(full.path!)
  result = await runCli(['fleet', 'list-backups', '--backup-dir', chained])
  expect(result.code).toBe(0)
  expect(result.stdout).toContain(`incr. of ${names[0]}`)
  expect(result.stderr.trim().split('\n')).toEqual([
    `warn ${names[2]}: broken chain: its chain needs ${names[0]}, which is missing from ${chained}`,
    `warn ${names[1]}: broken chain: its parent ${names[0]} is missing from ${chained}`,
  ])
})
