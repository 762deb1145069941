import { spawnSync } from 'node:child_process'
import { chmodSync, linkSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

/**
 * Archives from the real world, made at test time by the real tools (GNU tar in every format,
 * bsdtar, Python's tarfile, busybox), in the bash toolkit's layout (`./manifest.json`, `./alpha/…`):
 * sparse files, a hard link, absolute and relative symlinks, set-ID files and folders, Latin-1 and
 * UTF-8 names that differ only in encoding, a pre-1970 and a far-future date.
 */
const b = (text: string) => Buffer.from(text, 'latin1')

export interface SourceOptions {
  /** a file dated 1960 (ustar and v7 cannot hold it) */
  oldDates: boolean
}

export function writeCorpusSource(src: string, options: SourceOptions): void {
  const home = join(src, 'alpha')
  for (const d of ['.openclaw/workspace', '.openclaw/skills/tool', 'Maildir/cur', 'Maildir/new', '.molt-state']) mkdirSync(join(home, d), { recursive: true })
  writeFileSync(join(src, 'manifest.json'), JSON.stringify({ version: '1.0', timestamp: '2026-02-02T10:30:00Z', hostname: 'old-host', molts: [{ name: 'alpha', port: '19001', created: '2026-01-15' }] }))
  writeFileSync(join(home, '.molt-info'), 'MOLT_NAME=alpha\nMOLT_PORT=19001\n')
  writeFileSync(join(home, '.openclaw', 'openclaw.json'), '{"gateway":{"port":19001}}\n')
  writeFileSync(join(home, '.openclaw', 'workspace', 'MEMORY.md'), '# memory\nlikes tea\n')
  linkSync(join(home, '.openclaw', 'workspace', 'MEMORY.md'), join(home, '.openclaw', 'workspace', 'hard.md'))
  symlinkSync('/opt/skills/x', join(home, '.openclaw', 'skills', 'x'))
  symlinkSync('../workspace/MEMORY.md', join(home, '.openclaw', 'skills', 'memory'))
  writeFileSync(join(home, '.openclaw', 'skills', 'tool', 'run'), '#!/bin/sh\necho hi\n')
  chmodSync(join(home, '.openclaw', 'skills', 'tool', 'run'), 0o4755)
  chmodSync(join(home, '.openclaw', 'skills', 'tool'), 0o2750)
  // the same word in Latin-1 and in UTF-8: two distinct names
  writeFileSync(Buffer.concat([b(join(home, 'Maildir', 'cur')), b('/caf\xe9:2,S')]), 'latin-1 name\n')
  writeFileSync(join(home, 'Maildir', 'cur', 'café:2,S'), 'utf-8 name\n')
  writeFileSync(join(home, 'Maildir', 'new', 'future'), 'from 2100\n')
  utimesSync(join(home, 'Maildir', 'new', 'future'), 4_102_444_800, 4_102_444_800)
  if (options.oldDates) {
    writeFileSync(join(home, 'Maildir', 'cur', 'old'), 'from 1960\n')
    // (touch: Bun's utimesSync takes a negative time as now)
    spawnSync('touch', ['-h', '-d', '@-315619200', join(home, 'Maildir', 'cur', 'old')])
  }
  // sparse: 1 MiB with 4 KiB of data in the middle and 3 bytes at the end
  const sparse = join(home, '.molt-state', 'sparse.img')
  spawnSync('truncate', ['-s', '1M', sparse])
  spawnSync('dd', ['of=' + sparse, 'bs=4096', 'seek=73', 'count=1', 'conv=notrunc', 'status=none'], { input: Buffer.alloc(4096, 0x61) })
  spawnSync('sh', ['-c', `printf xyz >> '${sparse}'`])
  utimesSync(sparse, 1_700_000_000, 1_700_000_000)
  utimesSync(join(home, '.openclaw', 'workspace', 'MEMORY.md'), 1_700_000_000.5, 1_700_000_000.5)
}

export interface CorpusArchive {
  label: string
  oldDates: boolean
  /** makes `out` (a .tar.gz) from the source folder */
  make(src: string, out: string, work: string): void
}

function sh(cmd: string, args: string[], cwd?: string): void {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', maxBuffer: 64 << 20 })
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr}`)
}

const MEMBERS = ['./manifest.json', './alpha']

function gnu(flags: string[]): CorpusArchive['make'] {
  return (src, out, work) => {
    const tar = join(work, 'a.tar')
    sh('tar', [...flags, '-cf', tar, '-C', src, ...MEMBERS])
    sh('sh', ['-c', `gzip -c '${tar}' > '${out}'`])
  }
}

function python(format: string): CorpusArchive['make'] {
  return (src, out) => {
    const code = `import tarfile,os,sys\nos.chdir(sys.argv[1])\nt=tarfile.open(sys.argv[2],'w:gz',format=tarfile.${format})\nfor m in ['./manifest.json','./alpha']: t.add(m)\nt.close()`
    sh('python3', ['-c', code, src, out])
  }
}

/** The posix tar stream of the source, edited, gzipped again. */
function edited(edit: (tar: Buffer) => Buffer, compress = 'gzip -c'): CorpusArchive['make'] {
  return (src, out, work) => {
    const tar = join(work, 'a.tar')
    sh('tar', ['--format=posix', '-cf', tar, '-C', src, ...MEMBERS])
    writeFileSync(tar, edit(readFileSync(tar)))
    sh('sh', ['-c', `${compress} '${tar}' > '${out}'`])
  }
}

/** The typeflags of a plain tar stream's headers, in order (for checking what a tool wrote). */
export function headerTypes(tar: Buffer): string[] {
  const types: string[] = []
  walkHeaders(tar, (h) => void types.push(String.fromCharCode(h[156]!)))
  return types
}

function walkHeaders(tar: Buffer, visit: (header: Buffer) => void): void {
  for (let at = 0; at + 512 <= tar.length; ) {
    const h = tar.subarray(at, at + 512)
    if (h.every((x) => x === 0)) break
    const size = h[124]! & 0x80 ? 0 : parseInt(h.subarray(124, 136).toString('latin1').replace(/\0.*$/, '').trim() || '0', 8)
    visit(h)
    at += 512 + (h[156] === 0x31 || h[156] === 0x35 ? 0 : Math.ceil(size / 512) * 512)
  }
}

/** Folder headers ('5') of a v7 archive turned into what pre-POSIX tars wrote: a NUL type and the trailing slash. */
function prePosixFolders(tar: Buffer): Buffer {
  walkHeaders(tar, (h) => {
    if (h[156] === 0x35) {
      h[156] = 0
      h.fill(0x20, 148, 156)
      let sum = 0
      for (const x of h) sum += x
      h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1')
    }
  })
  return tar
}

/** Where the tar stream ends: after its last member, before the end-of-archive blocks. */
function endOfMembers(tar: Buffer): number {
  let at = tar.length - 512
  while (at >= 512 && tar.subarray(at, at + 512).every((x) => x === 0)) at -= 512
  return at + 512
}

export const CORPUS: CorpusArchive[] = [
  { label: 'GNU tar --format=gnu', oldDates: true, make: gnu(['--format=gnu']) },
  { label: 'GNU tar --format=oldgnu', oldDates: true, make: gnu(['--format=oldgnu']) },
  { label: 'GNU tar --format=posix', oldDates: true, make: gnu(['--format=posix']) },
  { label: 'GNU tar --format=ustar', oldDates: false, make: gnu(['--format=ustar']) },
  { label: 'GNU tar --format=v7', oldDates: false, make: gnu(['--format=v7']) },
  { label: 'pre-POSIX folders (v7 headers: type NUL, name ending in /)', oldDates: false, make: (src, out, work) => {
    const tar = join(work, 'a.tar')
    sh('tar', ['--format=v7', '-cf', tar, '-C', src, ...MEMBERS])
    writeFileSync(tar, prePosixFolders(readFileSync(tar)))
    sh('sh', ['-c', `gzip -c '${tar}' > '${out}'`])
  } },
  { label: 'GNU tar --format=gnu --sparse (old GNU S headers)', oldDates: true, make: gnu(['--format=gnu', '--sparse']) },
  { label: 'GNU tar --format=oldgnu --sparse', oldDates: true, make: gnu(['--format=oldgnu', '--sparse']) },
  { label: 'GNU tar --format=posix --sparse (pax 1.0)', oldDates: true, make: gnu(['--format=posix', '--sparse']) },
  { label: 'GNU tar --sparse-version=0.0', oldDates: true, make: gnu(['--format=posix', '--sparse', '--sparse-version=0.0']) },
  { label: 'GNU tar --sparse-version=0.1', oldDates: true, make: gnu(['--format=posix', '--sparse', '--sparse-version=0.1']) },
  { label: 'GNU tar --listed-incremental (dumpdirs)', oldDates: true, make: (src, out, work) => gnu(['--format=gnu', `--listed-incremental=${join(work, 'snap')}`])(src, out, work) },
  { label: 'bsdtar (default: pax, sparse 1.0)', oldDates: true, make: (src, out) => sh('bsdtar', ['-czf', out, '-C', src, ...MEMBERS]) },
  { label: 'bsdtar --format=gnutar', oldDates: false, make: (src, out) => sh('bsdtar', ['--format=gnutar', '-czf', out, '-C', src, ...MEMBERS]) },
  { label: 'Python tarfile GNU_FORMAT', oldDates: true, make: python('GNU_FORMAT') },
  { label: 'Python tarfile PAX_FORMAT (hdrcharset=BINARY)', oldDates: true, make: python('PAX_FORMAT') },
  { label: 'Python tarfile USTAR_FORMAT', oldDates: false, make: python('USTAR_FORMAT') },
  { label: 'busybox tar', oldDates: false, make: (src, out) => sh('busybox', ['tar', '-czf', out, '-C', src, ...MEMBERS]) },
  { label: 'no end-of-archive blocks', oldDates: true, make: edited((t) => t.subarray(0, endOfMembers(t))) },
  { label: 'a few bytes of junk after the end blocks', oldDates: true, make: edited((t) => Buffer.concat([t, Buffer.from('junk\n')])) },
  { label: 'extra zero records after the end', oldDates: true, make: edited((t) => Buffer.concat([t, Buffer.alloc(64 << 10)])) },
  { label: 'recompressed with gzip -9', oldDates: true, make: edited((t) => t, 'gzip -9 -c') },
  { label: 'compressed with pigz', oldDates: true, make: edited((t) => t, 'pigz -c') },
]

export interface Node {
  kind: 'dir' | 'file' | 'symlink' | 'other'
  mode: number
  size: number
  mtimeMs: number
  ino: number
  blocks: number
  content?: string
  target?: string
}

/** A tree with names as bytes (latin1 keys): what GNU tar extracted, or what restore did. */
export function readByteTree(root: string): Map<string, Node> {
  const out = new Map<string, Node>()
  const walk = (path: Buffer, rel: string) => {
    const st = lstatSync(path)
    const kind = st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : st.isFile() ? 'file' : 'other'
    const node: Node = { kind, mode: st.mode & 0o7777, size: kind === 'file' ? st.size : 0, mtimeMs: st.mtimeMs, ino: st.ino, blocks: st.blocks }
    if (kind === 'file') node.content = new Bun.CryptoHasher('sha256').update(readFileSync(path)).digest('hex')
    if (kind === 'symlink') node.target = (readlinkSync(path, { encoding: 'buffer' }) as Buffer).toString('latin1')
    out.set(rel, node)
    if (kind === 'dir') for (const name of readdirSync(path, { encoding: 'buffer' })) walk(Buffer.concat([path, b('/'), name]), rel ? `${rel}/${name.toString('latin1')}` : name.toString('latin1'))
  }
  walk(Buffer.from(root), '')
  return out
}
