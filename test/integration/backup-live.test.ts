import { afterAll, beforeAll, expect, test } from 'bun:test'
import { Database } from 'bun:sqlite'
import { spawnSync } from 'node:child_process'
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, statSync, writeFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { CLI } from '../helpers/cli.ts'
import { run, tarList, writeRichFleet } from '../helpers/archive.ts'
import { removeDir, tempDir } from '../helpers/fleet.ts'

// A live host: databases written and mail moved by other processes while `fleet backup` runs.
let dir: string
let base: string
beforeAll(() => {
  dir = tempDir()
  base = join(dir, 'fleet')
  writeRichFleet(base, [{ name: 'alpha', port: 19001 }])
})
afterAll(() => removeDir(dir), 60_000)

const backupProcess = (out: string, extra: string[] = []) =>
  Bun.spawn([process.execPath, CLI, 'fleet', 'backup', '-d', base, '--output', out, '--json', ...extra], { stdout: 'pipe', stderr: 'pipe', env: { ...process.env, NO_COLOR: '1' } })

function extract(archive: string, name: string): string {
  const to = join(dir, name)
  mkdirSync(to)
  run('tar', ['-xf', archive, '-C', to])
  return to
}

const WRITER = `
import { Database } from 'bun:sqlite'
const db = new Database(process.argv[2])
db.exec('PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0; CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, body TEXT NOT NULL)')
const insert = db.prepare('INSERT INTO events (body) VALUES (?)')
const many = db.transaction((n) => { for (let i = 0; i < n; i++) insert.run('event ' + 'x'.repeat(200)) })
many(2000)
console.log('ready')
for (;;) { many(50); await Bun.sleep(1) }
`

test('SQLite databases in WAL mode under write load: one consistent snapshot each, committed WAL content in, no -wal/-shm', async () => {
  const home = join(base, 'alpha')
  const stateDb = join(home, '.openclaw', 'state', 'openclaw.sqlite')
  const agentDb = join(home, '.openclaw', 'agents', 'main', 'agent', 'openclaw-agent.sqlite')
  for (const path of [stateDb, agentDb]) mkdirSync(join(path, '..'), { recursive: true })
  const script = join(dir, 'writer.ts')
  writeFileSync(script, WRITER)
  const writers = [stateDb, agentDb].map((path) => Bun.spawn([process.execPath, script, path], { stdout: 'pipe', stderr: 'inherit' }))
  try {
    for (const w of writers) {
      const reader = w.stdout.getReader()
      const { value } = await reader.read()
      expect(new TextDecoder().decode(value)).toContain('ready')
      reader.releaseLock()
    }
    // what is committed before the backup starts, most of it still in the -wal (no checkpoint)
    const committed = [stateDb, agentDb].map((path) => {
      const db = new Database(path, { readonly: true })
      const n = (db.query('SELECT count(*) AS n FROM events').get() as { n: number }).n
      db.close()
      return n
    })
    expect(statSync(`${stateDb}-wal`).size).toBeGreaterThan(100_000)
    const out = join(dir, 'sqlite')
    mkdirSync(out)
    const child = backupProcess(out)
    const [code, stdout] = await Promise.all([child.exited, new Response(child.stdout).text()])
    expect(code).toBe(0)
    const archive = JSON.parse(stdout).path as string
    const members = tarList(archive)
    expect(members.filter((m) => /-(wal|shm|journal)$/.test(m))).toEqual([])
    expect(members).toContain('alpha/.openclaw/state/openclaw.sqlite')
    expect(members).toContain('alpha/.openclaw/agents/main/agent/openclaw-agent.sqlite')
    const x = extract(archive, 'x-sqlite')
    expect(spawnSync('sha256sum', ['-c', '--quiet', 'checksums.sha256'], { cwd: x }).status).toBe(0)
    for (const [i, rel] of ['.openclaw/state/openclaw.sqlite', '.openclaw/agents/main/agent/openclaw-agent.sqlite'].entries()) {
      const db = new Database(join(x, 'alpha', rel), { readonly: true })
      expect(db.query('PRAGMA integrity_check').get()).toEqual({ integrity_check: 'ok' })
      const { n, max } = db.query('SELECT count(*) AS n, max(id) AS max FROM events').get() as { n: number; max: number }
      db.close()
      // everything committed before the backup, and a whole snapshot: no gaps in the ids
      expect(n).toBeGreaterThanOrEqual(committed[i]!)
      expect(max).toBe(n)
    }
    const notes = readFileSync(join(x, 'checksums.sha256'), 'utf8').split('\n').filter((l) => l.startsWith('#clmnt-note') && l.includes('"kind":"sqlite"'))
    expect(notes).toHaveLength(2)
  } finally {
    for (const w of writers) w.kill()
    await Promise.all(writers.map((w) => w.exited))
  }
  // the live databases still work for their owner
  const db = new Database(stateDb)
  expect((db.query('SELECT count(*) AS n FROM events').get() as { n: number }).n).toBeGreaterThan(2000)
  db.close()
}, 120_000)

const MUTATOR = `
import { readdirSync, readlinkSync, renameSync } from 'node:fs'
const [backupPid, maildir] = process.argv.slice(2)
// wait until the backup reads new/ (so cur/ is behind it), then file every new message as seen
let seen = false
for (let i = 0; i < 20000 && !seen; i++) {
  let fds = []
  try { fds = readdirSync('/proc/' + backupPid + '/fd') } catch { break }
  for (const fd of fds) {
    try { if (readlinkSync('/proc/' + backupPid + '/fd/' + fd).startsWith(maildir + '/new/')) seen = true } catch {}
  }
  if (!seen) await Bun.sleep(1)
}
let moved = 0
for (const name of readdirSync(maildir + '/new')) {
  try { renameSync(maildir + '/new/' + name, maildir + '/cur/' + name + ':2,S'); moved++ } catch {}
}
console.log(JSON.stringify({ seen, moved }))
`

test('mail moved new/ → cur/ during a real backup is in the archive under its old or new name', async () => {
  const maildir = join(base, 'alpha', 'Maildir')
  const body = `Received: from mx.example.org\nSubject: hello\n\n${'Lorem ipsum dolor sit amet, consectetur adipiscing elit. '.repeat(60)}\n`
  const keys: string[] = []
  for (let i = 0; i < 3000; i++) {
    const key = `17000${String(i).padStart(5, '0')}.M${i}P1.host`
    keys.push(key)
    writeFileSync(join(maildir, 'new', key), body)
  }
  const script = join(dir, 'mutator.ts')
  writeFileSync(script, MUTATOR)
  const out = join(dir, 'mail')
  mkdirSync(out)
  const child = backupProcess(out)
  const mutator = Bun.spawn([process.execPath, script, String(child.pid), maildir], { stdout: 'pipe' })
  const [code, stdout, report] = await Promise.all([child.exited, new Response(child.stdout).text(), new Response(mutator.stdout).text()])
  expect(code).toBe(0)
  const { seen, moved } = JSON.parse(report) as { seen: boolean; moved: number }
  expect(seen).toBe(true)
  expect(moved).toBeGreaterThan(0)
  const archive = JSON.parse(stdout).path as string
  const archivedKeys = new Set(tarList(archive).filter((m) => /^alpha\/Maildir\/(cur|new)\/17000/.test(m)).map((m) => m.split('/').pop()!.split(':')[0]!))
  expect(keys.filter((k) => !archivedKeys.has(k))).toEqual([])
  const x = extract(archive, 'x-mail')
  expect(spawnSync('sha256sum', ['-c', '--quiet', 'checksums.sha256'], { cwd: x }).status).toBe(0)
  const verify = spawnSync(process.execPath, [CLI, 'fleet', 'verify', archive], { encoding: 'utf8' })
  expect(verify.stderr).toBe('')
  expect(verify.status).toBe(0)
}, 120_000)

test('names that are not UTF-8 and sparse files: stored byte for byte and sparse, read back by GNU tar', async () => {
  const home = join(base, 'alpha')
  const latin1Folder = Buffer.concat([Buffer.from(join(home, 'Maildir', '.Caf')), Buffer.from([0xe9])]) // ".Café" in Latin-1
  mkdirSync(latin1Folder)
  for (const sub of ['cur', 'new', 'tmp']) mkdirSync(Buffer.concat([latin1Folder, Buffer.from(`/${sub}`)]))
  const message = Buffer.concat([latin1Folder, Buffer.from('/cur/r'), Buffer.from([0xe9, 0xff]), Buffer.from(':2,S')])
  writeFileSync(message, 'Subject: caf\xe9\n\nbonjour\n')
  // a 1 GiB disk image with three small data regions, the last one at the very end
  const image = join(home, '.openclaw', 'workspace', 'disk.img')
  const fd = openSync(image, 'w')
  for (const at of [0, 300 << 20, (1 << 30) - 4096]) writeSync(fd, Buffer.alloc(4096, 0x41 + (at % 7)), 0, 4096, at)
  closeSync(fd)
  expect(statSync(image).blocks * 512).toBeLessThan(1 << 20)

  const out = join(dir, 'bytes')
  mkdirSync(out)
  const child = backupProcess(out)
  const [code, stdout] = await Promise.all([child.exited, new Response(child.stdout).text()])
  expect(code).toBe(0)
  const archive = JSON.parse(stdout).path as string
  expect(statSync(archive).size).toBeLessThan(2 << 20)
  const x = extract(archive, 'x-bytes')
  // the name came back byte for byte; sha256sum -c (raw bytes in its lines) passes
  const restoredFolder = Buffer.concat([Buffer.from(join(x, 'alpha', 'Maildir', '.Caf')), Buffer.from([0xe9])])
  const names = readdirSync(Buffer.concat([restoredFolder, Buffer.from('/cur')]), { encoding: 'buffer' }) as Buffer[]
  expect(names.map((n) => n.toString('hex'))).toEqual([Buffer.concat([Buffer.from('r'), Buffer.from([0xe9, 0xff]), Buffer.from(':2,S')]).toString('hex')])
  const check = spawnSync('sha256sum', ['-c', '--quiet', 'checksums.sha256'], { cwd: x, encoding: 'utf8' })
  expect(check.stdout + check.stderr).toBe('')
  expect(check.status).toBe(0)
  // GNU tar made the image sparse again, with the same content
  const back = join(x, 'alpha', '.openclaw', 'workspace', 'disk.img')
  expect(statSync(back).size).toBe(1 << 30)
  expect(statSync(back).blocks * 512).toBeLessThan(1 << 20)
  const hash = (path: string) => spawnSync('sha256sum', [path], { encoding: 'utf8' }).stdout.split(' ')[0]
  expect(hash(back)).toBe(hash(image))
  // index.jsonl says it: base64 for the odd name, sparse for the image
  const index = readFileSync(join(x, 'index.jsonl'), 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l))
  expect(index.find((l) => l.path === 'alpha/.openclaw/workspace/disk.img')).toMatchObject({ type: 'file', size: 1 << 30, sparse: true })
  expect(index.some((l) => l.path_b64 && Buffer.from(l.path_b64, 'base64').includes(Buffer.from([0xe9, 0xff])))).toBe(true)
  const verify = spawnSync(process.execPath, [CLI, 'fleet', 'verify', archive], { encoding: 'utf8' })
  expect(verify.stderr).toBe('')
  expect(verify.status).toBe(0)
}, 120_000)

test.skipIf(!Bun.which('strace'))('the archive is put in place without link(2): file systems without hard links (vfat, exFAT) work', async () => {
  const out = join(dir, 'nolink')
  mkdirSync(out)
  const trace = join(dir, 'strace.txt')
  const result = spawnSync('strace', ['-f', '-qq', '-e', 'trace=link,linkat,rename,renameat,renameat2', '-o', trace, process.execPath, CLI, 'fleet', 'backup', '-d', base, '--output', out, '-q', '--exclude-maildir'], { encoding: 'utf8' })
  expect(result.status).toBe(0)
  const calls = readFileSync(trace, 'utf8')
  expect(calls).not.toMatch(/\blink(at)?\(/)
  expect(calls).toMatch(/renameat2\(.*\.partial".*RENAME_NOREPLACE/)
  expect(readdirSync(out).filter((n) => n.endsWith('.tar.gz'))).toHaveLength(1)
  expect(existsSync(join(out, `${readdirSync(out)[0]}.partial`))).toBe(false)
}, 60_000)
