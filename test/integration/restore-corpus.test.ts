import { afterAll, beforeAll, expect, test } from 'bun:test'
import { spawnSync } from 'node:child_process'
import { mkdirSync, readdirSync, readFileSync } from 'node:fs'
import { gunzipSync } from 'node:zlib'
import { join } from 'node:path'
import { listBackups } from '../../src/archive/list.ts'
import { runCli } from '../helpers/cli.ts'
import { CORPUS, headerTypes, readByteTree, writeCorpusSource, type Node } from '../helpers/corpus.ts'
import { removeDir, tempDir } from '../helpers/fleet.ts'

// Archives made by the real tools, run through list-backups, verify, restore --dry-run and
// restore, and compared with GNU tar's own extraction of the same file: the same names (as
// bytes), types, sizes, contents, link targets and mtimes; modes too, less the set-ID bits restore
// drops (and says it drops); hard links stay linked, sparse files stay sparse.
let root: string
const sources = new Map<boolean, string>()

beforeAll(() => {
  root = tempDir('clmnt-corpus-')
  for (const oldDates of [true, false]) {
    const src = join(root, oldDates ? 'src-old' : 'src-new')
    writeCorpusSource(src, { oldDates })
    sources.set(oldDates, src)
  }
})
afterAll(() => removeDir(root))

const slug = (label: string) => label.replace(/[^a-z0-9]+/gi, '-').toLowerCase()

test.each(CORPUS.map((c) => [c.label, c] as const))('%s: listed, verified, planned and restored as GNU tar extracts it', async (label, corpus) => {
  const dir = join(root, slug(label))
  const backups = join(dir, 'backups')
  mkdirSync(backups, { recursive: true })
  const archive = join(backups, 'fleet-legacy.tar.gz')
  corpus.make(sources.get(corpus.oldDates)!, archive, dir)

  const gnu = join(dir, 'gnu')
  mkdirSync(gnu)
  // GNU tar's extraction is the reference (it exits 2 for junk after the gzip stream, having extracted everything)
  spawnSync('tar', ['-xzf', archive, '-C', gnu])

  const [listing] = await listBackups(backups)
  expect({ label, status: listing!.status, reason: listing!.reason }).toEqual({ label, status: 'legacy', reason: null })

  const verify = await runCli(['fleet', 'verify', archive])
  expect({ label, code: verify.code, stdout: verify.stdout }).toEqual({ label, code: 0, stdout: expect.stringContaining('OK (1 molts') })
  expect(verify.stderr).toMatch(/alpha: set-user-ID, set-group-ID or sticky bits dropped from 2 member\(s\)/)
  expect(verify.stderr).toMatch(/alpha: 1 symlink\(s\) point outside the molt, restored as links and never followed: "(\.\/)?alpha\/\.openclaw\/skills\/x" → "\/opt\/skills\/x"/)

  const base = join(dir, 'fleet')
  mkdirSync(base)
  const dry = await runCli(['fleet', 'restore', '-d', base, '--from', archive, '--dry-run', '--skip-users'])
  expect({ label, code: dry.code }).toEqual({ label, code: 0 })
  expect(dry.stderr).toContain('set-user-ID, set-group-ID or sticky bits dropped')

  const restore = await runCli(['fleet', 'restore', '-d', base, '--from', archive, '--yes', '--skip-users'])
  expect({ label, code: restore.code, errors: restore.stderr.split('\n').filter((l) => l.startsWith('error')) }).toEqual({ label, code: 0, errors: [] })
  expect(restore.stderr).toContain('set-user-ID, set-group-ID or sticky bits dropped')

  const want = readByteTree(join(gnu, 'alpha'))
  const got = readByteTree(join(base, 'alpha'))
  expect({ label, names: [...got.keys()].sort() }).toEqual({ label, names: [...want.keys()].sort() })
  // folders' mtimes against the source: GNU tar leaves some of bsdtar's as the time of extraction
  const source = readByteTree(join(sources.get(corpus.oldDates)!, 'alpha'))
  const diffs: string[] = []
  for (const [rel, w] of want) {
    if (rel === '') continue // the home itself: 0700 and owned by the molt
    const g = got.get(rel)!
    const expected: Partial<Node> = { kind: w.kind, size: w.size, content: w.content, target: w.target, mode: w.kind === 'symlink' ? g.mode : w.mode & 0o777 }
    if (rel === '.molt-info') Object.assign(expected, { size: g.size, content: g.content })
    for (const [key, value] of Object.entries(expected)) if (g[key as keyof Node] !== value) diffs.push(`${rel}: ${key} ${String(value)} → ${String(g[key as keyof Node])}`)
    if (w.kind === 'dir' && Math.abs(g.mtimeMs - source.get(rel)!.mtimeMs) >= 1000) diffs.push(`${rel}: mtime ${source.get(rel)!.mtimeMs} → ${g.mtimeMs}`)
    else if (w.kind !== 'dir' && rel !== '.molt-info' && Math.abs(g.mtimeMs - w.mtimeMs) >= 1) diffs.push(`${rel}: mtime ${w.mtimeMs} → ${g.mtimeMs}`)
  }
  expect({ label, diffs }).toEqual({ label, diffs: [] })
  // a hard link stays a hard link (when GNU tar made one), a sparse file stays sparse
  const hard = want.get('.openclaw/workspace/hard.md')!.ino === want.get('.openclaw/workspace/MEMORY.md')!.ino
  expect(got.get('.openclaw/workspace/hard.md')!.ino === got.get('.openclaw/workspace/MEMORY.md')!.ino).toBe(hard)
  expect(got.get('.molt-state/sparse.img')!.blocks * 512).toBeLessThan(128 << 10)
  expect(got.get('Maildir/cur/caf\xe9:2,S')!.size).toBe('latin-1 name\n'.length)
  if (corpus.oldDates) expect(got.get('Maildir/cur/old')!.mtimeMs).toBe(-315_619_200_000)
  expect(got.get('Maildir/new/future')!.mtimeMs).toBe(4_102_444_800_000)
}, 60_000)

test('the corpus is what it claims: each tool wrote the member kinds under test', () => {
  const kinds = (label: string) => new Set(headerTypes(gunzipSync(readFileSync(join(root, slug(label), 'backups', 'fleet-legacy.tar.gz')))))
  expect(kinds('GNU tar --format=gnu --sparse (old GNU S headers)')).toContain('S')
  expect(kinds('GNU tar --listed-incremental (dumpdirs)')).toContain('D')
  expect(kinds('pre-POSIX folders (v7 headers: type NUL, name ending in /)')).not.toContain('5')
  expect(kinds('pre-POSIX folders (v7 headers: type NUL, name ending in /)')).toContain('\0')
  expect(kinds('GNU tar --format=posix')).toContain('1')
  expect(kinds('GNU tar --format=posix')).toContain('2')
  expect(kinds('Python tarfile PAX_FORMAT (hdrcharset=BINARY)')).toContain('x')
})

test('junk after the gzip stream: refused in one line, as GNU tar refuses it (exit 2); nothing restored', async () => {
  const dir = join(root, 'gzip-junk')
  mkdirSync(dir)
  const archive = join(dir, 'junk.tar.gz')
  spawnSync('sh', ['-c', `tar --format=posix -czf '${archive}' -C '${sources.get(true)}' ./manifest.json ./alpha && printf 'trailing junk' >> '${archive}'`])
  expect(spawnSync('tar', ['-tzf', archive]).status).toBe(2)
  const verify = await runCli(['fleet', 'verify', archive])
  expect(verify.code).toBe(1)
  expect(verify.stdout).toBe(`${archive}: the archive cannot be read to its end: gzip: unexpected bytes where a gzip member should start (incorrect header check)\n`)
  const base = join(dir, 'fleet')
  mkdirSync(base)
  const restore = await runCli(['fleet', 'restore', '-d', base, '--from', archive, '--yes', '--skip-users'])
  expect(restore.code).toBe(1)
  expect(restore.stderr).toContain('error restore refused: the archive cannot be read to its end: gzip: unexpected bytes')
  expect(readdirSync(base).filter((n) => !n.startsWith('.clmnt-fleet'))).toEqual([])
})
