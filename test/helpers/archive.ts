import { spawnSync } from 'node:child_process'
import { chmodSync, linkSync, mkdirSync, readFileSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import { writeRegistry } from '../../src/fleet/registry.ts'
import { writeMoltHome } from './fleet.ts'

/** Fleets and archives for the backup, list-backups and verify tests: real files, real GNU tar. */

export interface RichMolt {
  name: string
  port: number
}

/**
 * A molt home with every component and every trap: Maildir names with spaces and unicode, logs,
 * a hard link, symlinks inside and outside, gateway.pid, a sandbox workspace, a FIFO, set modes and mtimes.
 */
export function writeRichMolt(baseDir: string, molt: RichMolt): string {
  const home = join(baseDir, molt.name)
  mkdirSync(home, { recursive: true, mode: 0o700 })
  writeMoltHome(home, { name: molt.name, port: molt.port, pid: 4242 })
  const files: Record<string, string> = {
    '.openclaw/workspace/MEMORY.md': `# memory of ${molt.name}\nlikes tea\n`,
    '.openclaw/agents/main/sessions/s1.jsonl': '{"role":"user","text":"hi"}\n',
    '.openclaw/gateway.log': 'gateway started\n',
    '.openclaw/gateway.log.1': 'older\n',
    '.openclaw/extra.json': '{"x":1}\n',
    '.openclaw/sandboxes/box1/notes.md': 'what a sandboxed tool wrote\n',
    '.openclaw/cache/blob': 'not a component',
    '.msmtprc': 'account default\npassword hunter2\n',
    '.mbsyncrc': 'IMAPAccount x\n',
    '.mail-state/last-sync': '2026-02-02T10:30:00Z\n',
    '.molt-state/health-status.json': '{"status":"healthy"}\n',
    '.molt-state/health.log': 'watch ok\n',
    'Maildir/cur/1700000000.M1P1.host:2,S': 'Subject: plain\n\nhello\n',
    'Maildir/cur/msg with spaces:2,S': 'Subject: spaces\n\nhi\n',
    'Maildir/new/ünïcødé ✉ message': 'Subject: unicode\n\nçà\n',
    'Maildir/tmp/.keep': '',
    '.bashrc': 'not a component\n',
  }
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(join(home, rel, '..'), { recursive: true })
    writeFileSync(join(home, rel), content)
  }
  chmodSync(join(home, '.msmtprc'), 0o600)
  chmodSync(join(home, '.openclaw', 'workspace', 'MEMORY.md'), 0o640)
  linkSync(join(home, '.openclaw', 'workspace', 'MEMORY.md'), join(home, '.openclaw', 'workspace', 'MEMORY-hardlink.md'))
  symlinkSync('MEMORY.md', join(home, '.openclaw', 'workspace', 'current'))
  symlinkSync('../../Maildir', join(home, '.openclaw', 'skills', 'mail'))
  symlinkSync('/etc/passwd', join(home, '.openclaw', 'skills', 'escape'))
  spawnSync('mkfifo', [join(home, '.molt-state', 'fifo')])
  // fixed, distinct mtimes (with sub-second parts) to check they survive
  utimesSync(join(home, '.openclaw', 'workspace', 'MEMORY.md'), 1_700_000_000.25, 1_700_000_000.25)
  utimesSync(join(home, 'Maildir', 'cur', 'msg with spaces:2,S'), 1_600_000_000, 1_600_000_000)
  return home
}

/** A base dir with rich molts, molts.json and clmnt.json. */
export function writeRichFleet(baseDir: string, molts: RichMolt[]): void {
  mkdirSync(baseDir, { recursive: true })
  for (const molt of molts) writeRichMolt(baseDir, molt)
  writeRegistry(baseDir, { version: '1', molts: Object.fromEntries(molts.map((m) => [m.name, { name: m.name, port: m.port, home: join(baseDir, m.name), created: '2026-01-15' }])) })
  writeFileSync(join(baseDir, 'clmnt.json'), '{"alerts":{"email":"ops@example.com"}}\n')
}

/** Add `count` files of `size` random bytes to a molt's Maildir: a fleet big enough to take a while. */
export function addBulk(home: string, count: number, size: number): void {
  mkdirSync(join(home, 'Maildir', 'cur'), { recursive: true })
  for (let i = 0; i < count; i++) writeFileSync(join(home, 'Maildir', 'cur', `bulk-${i}:2,S`), crypto.getRandomValues(new Uint8Array(size)))
}

const WORDS = 'the of and to in is you that it was for on are as with they at be this have from or one had by word but not what all were we when your can said there use each which she do how their if will up other about out many then them these so some her would make like him into time has look two more write go see number no way could people my than first water been call who oil its now find long down day did get come made may part'.split(' ')

/** `count` mail-like text files of about `size` bytes: slow to deflate, as real mail is. */
export function addText(home: string, count: number, size: number): void {
  mkdirSync(join(home, 'Maildir', 'cur'), { recursive: true })
  for (let i = 0; i < count; i++) {
    const picks = crypto.getRandomValues(new Uint8Array(Math.ceil(size / 4)))
    let text = ''
    for (const p of picks) text += `${WORDS[p % WORDS.length]} `
    writeFileSync(join(home, 'Maildir', 'cur', `text-${i}:2,S`), text.slice(0, size))
  }
}

/** Run a program (argument array, no shell); throws with its stderr when it fails. */
export function run(cmd: string, args: string[], options: { cwd?: string; input?: string | Uint8Array } = {}): string {
  const result = spawnSync(cmd, args, { cwd: options.cwd, input: options.input, encoding: 'utf8', maxBuffer: 64 << 20 })
  if (result.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${result.status}): ${result.stderr}`)
  return result.stdout
}

export function tarList(archive: string): string[] {
  return run('tar', ['-tf', archive]).split('\n').filter(Boolean)
}

/**
 * An archive of the earlier bash toolkit: members `./manifest.json`, `./<molt>/…`, manifest
 * "1.0" with string numbers, no checksums — made by GNU tar from a staging folder, as it did.
 */
export function writeLegacyArchive(dir: string, archive: string, molts: RichMolt[]): void {
  const staging = join(dir, 'legacy-staging')
  for (const molt of molts) {
    mkdirSync(join(staging, molt.name, 'skills', 'hello'), { recursive: true })
    writeFileSync(join(staging, molt.name, 'openclaw.json'), JSON.stringify({ gateway: { port: molt.port } }))
    writeFileSync(join(staging, molt.name, '.molt-info'), `MOLT_NAME=${molt.name}\nMOLT_PORT=${molt.port}\n`)
    writeFileSync(join(staging, molt.name, 'skills', 'hello', 'SKILL.md'), '# hello\n')
  }
  mkdirSync(join(staging, 'global'), { recursive: true })
  writeFileSync(join(staging, 'global', 'molts.json'), '{"version":"1","molts":{}}')
  const manifest = {
    version: '1.0',
    timestamp: '2026-02-02T10:30:00Z',
    hostname: 'claw-mountain',
    molts: molts.map((m) => ({ name: m.name, port: String(m.port), created: '2026-01-15', backup_size_bytes: '1234' })),
    total_size_bytes: String(1234 * molts.length),
  }
  writeFileSync(join(staging, 'manifest.json'), JSON.stringify(manifest, null, 2))
  run('tar', ['-czf', archive, '-C', staging, '.'])
}

/** Decompress, let `edit` change the plain tar file (GNU tar --delete, byte edits …), compress again. */
export function rewriteArchive(archive: string, out: string, edit: (tarPath: string) => void): void {
  const tarPath = `${out}.tmp.tar`
  writeFileSync(tarPath, gunzipAll(archive))
  edit(tarPath)
  writeFileSync(out, Bun.gzipSync(readFileSync(tarPath)))
  run('rm', ['-f', tarPath])
}

/** Every member of a multi-member gzip file (Bun.gunzipSync stops after the first). */
export function gunzipAll(archive: string): Uint8Array {
  return new Uint8Array(gunzipSync(readFileSync(archive)))
}

/** Offset of `needle` in the decompressed tar of `archive`. */
export function indexInTar(tar: Uint8Array, needle: string): number {
  return Buffer.from(tar).indexOf(Buffer.from(needle))
}
