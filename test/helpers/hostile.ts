import { writeFileSync } from 'node:fs'
import { join, posix } from 'node:path'
import { checksumLine, endLine } from '../../src/archive/checksums.ts'
import { COMPONENTS, componentOf } from '../../src/archive/layout.ts'

/**
 * Fleet archives built byte by byte, for restore's hostile-archive tests: a clean v2 archive
 * (manifest first, checksums last, every count right) plus whatever member a case adds — hard
 * links, devices, FIFOs, absolute names — that no honest backup writes.
 */
export interface RawMember {
  name: string
  /** tar typeflag: '0' file, '1' hard link, '2' symlink, '3' char device, '5' folder, '6' FIFO */
  type?: '0' | '1' | '2' | '3' | '5' | '6'
  content?: string | Uint8Array
  mode?: number
  linkname?: string
  mtime?: number
  /** size field when it must lie about the data (bombs) */
  size?: number
}

const enc = new TextEncoder()

function put(h: Uint8Array, at: number, length: number, text: string): void {
  const bytes = enc.encode(text)
  if (bytes.length > length) throw new Error(`tar field too long: ${text}`)
  h.set(bytes, at)
}
const octal = (n: number, length: number) => n.toString(8).padStart(length - 1, '0')

export function tarHeader(m: RawMember): Uint8Array<ArrayBuffer> {
  const h = new Uint8Array(512)
  const type = m.type ?? '0'
  const size = m.size ?? (type === '0' ? bytesOf(m.content).length : 0)
  put(h, 0, 100, m.name)
  put(h, 100, 8, octal(m.mode ?? (type === '5' ? 0o755 : type === '2' ? 0o777 : 0o644), 8))
  put(h, 108, 8, octal(0, 8))
  put(h, 116, 8, octal(0, 8))
  put(h, 124, 12, octal(size, 12))
  put(h, 136, 12, octal(m.mtime ?? 1_700_000_000, 12))
  put(h, 148, 8, '        ')
  put(h, 156, 1, type)
  put(h, 157, 100, m.linkname ?? '')
  put(h, 257, 6, 'ustar')
  h[262] = 0
  put(h, 263, 2, '00')
  put(h, 265, 32, 'root')
  put(h, 297, 32, 'root')
  if (type === '3') {
    put(h, 329, 8, octal(1, 8))
    put(h, 337, 8, octal(3, 8))
  }
  let sum = 0
  for (const b of h) sum += b
  put(h, 148, 8, `${sum.toString(8).padStart(6, '0')}\0 `)
  return h
}

const bytesOf = (content: string | Uint8Array | undefined) => (typeof content === 'string' ? enc.encode(content) : (content ?? new Uint8Array()))

export function tarMember(m: RawMember): Uint8Array<ArrayBuffer> {
  const data = (m.type ?? '0') === '0' ? bytesOf(m.content) : new Uint8Array()
  const out = new Uint8Array(512 + Math.ceil(data.length / 512) * 512)
  out.set(tarHeader(m))
  out.set(data, 512)
  return out
}

export const END_BLOCKS = new Uint8Array(1024)

export function concat(parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

export interface ArchiveMolt {
  name: string
  port: number
  /** rel → content; folders on the way are added */
  files: Record<string, string>
}

export interface FleetArchiveSpec {
  baseDir: string
  molts: ArchiveMolt[]
  /** members added after the molts' (counted in the manifest and checksums when they belong to a molt) */
  extra?: RawMember[]
  /** change the manifest object before it is written */
  editManifest?(manifest: Record<string, any>): void
  /** change the checksum list text before it is written */
  editChecksums?(text: string): string
}

/** The tar stream in parts: everything before the checksums, the checksums, the end blocks. */
export function fleetTar(spec: FleetArchiveSpec): { body: Uint8Array<ArrayBuffer>[]; tail: Uint8Array<ArrayBuffer>[]; manifest: Record<string, any> } {
  const members: RawMember[] = []
  const stats = new Map<string, { files: number; bytes: number; dirs: number; symlinks: number; components: Record<string, { files: number; bytes: number }> }>()
  for (const molt of spec.molts) {
    stats.set(molt.name, { files: 0, bytes: 0, dirs: 0, symlinks: 0, components: {} })
    members.push({ name: `${molt.name}/`, type: '5', mode: 0o700 })
    const dirs = new Set<string>()
    for (const rel of Object.keys(molt.files).sort()) {
      const parts = rel.split('/')
      for (let i = 1; i < parts.length; i++) {
        const dir = parts.slice(0, i).join('/')
        if (!dirs.has(dir)) {
          dirs.add(dir)
          members.push({ name: `${molt.name}/${dir}/`, type: '5' })
        }
      }
      members.push({ name: `${molt.name}/${rel}`, content: molt.files[rel] })
    }
  }
  members.push(...(spec.extra ?? []))
  const sums: string[] = []
  let files = 0
  let bytes = 0
  for (const m of members) {
    const type = m.type ?? '0'
    const clean = m.name.replace(/\/$/, '')
    const top = clean.split('/')[0]!
    const rel = clean.slice(top.length + 1)
    const s = stats.get(top)
    if (type === '0') {
      const data = bytesOf(m.content)
      sums.push(checksumLine(new Bun.CryptoHasher('sha256').update(data).digest('hex'), clean))
      files++
      bytes += m.size ?? data.length
      if (s) {
        s.files++
        s.bytes += m.size ?? data.length
        const c = componentOf(rel, false) ?? 'other'
        const cs = (s.components[c] ??= { files: 0, bytes: 0 })
        cs.files++
        cs.bytes += m.size ?? data.length
      }
    } else if (s && type === '5' && rel) s.dirs++
    else if (s && type === '2') s.symlinks++
  }
  const manifest: Record<string, any> = {
    version: '2',
    clmnt_version: 'test',
    timestamp: '2026-02-02T10:30:00.000+00:00',
    hostname: 'hostile-test',
    base_dir: spec.baseDir,
    options: { select: null, exclude_maildir: false, exclude_logs: false, allow_partial: false, compression: 'gzip', compress_level: 6 },
    layout: { global: 'global', checksums: 'checksums.sha256', crontab: '.clmnt-crontab' },
    global_files: [],
    molts: spec.molts.map((molt) => {
      const s = stats.get(molt.name)!
      return {
        name: molt.name,
        port: molt.port,
        created: '2026-01-15',
        home: join(spec.baseDir, molt.name),
        user: 'root',
        group: 'root',
        components: COMPONENTS.filter((c) => s.components[c]),
        component_stats: s.components,
        files: s.files,
        dirs: s.dirs,
        symlinks: s.symlinks,
        backup_size_bytes: s.bytes,
        crontab: null,
      }
    }),
    total_size_bytes: bytes,
    total_files: files,
  }
  spec.editManifest?.(manifest)
  const manifestText = `${JSON.stringify(manifest, null, 2)}\n`
  let checksums = checksumLine(new Bun.CryptoHasher('sha256').update(manifestText).digest('hex'), 'manifest.json') + sums.join('') + endLine({ files, bytes, notes: 0, partial: false })
  if (spec.editChecksums) checksums = spec.editChecksums(checksums)
  return {
    body: [tarMember({ name: 'manifest.json', content: manifestText, mode: 0o600 }), ...members.map(tarMember)],
    tail: [tarMember({ name: 'checksums.sha256', content: checksums, mode: 0o600 }), END_BLOCKS],
    manifest,
  }
}

export function writeFleetArchive(path: string, spec: FleetArchiveSpec): void {
  const { body, tail } = fleetTar(spec)
  // the end blocks alone in the last gzip member, as backup writes them (list-backups and restore check that trailer)
  writeFileSync(path, concat([Bun.gzipSync(concat([...body, tail[0]!])), Bun.gzipSync(END_BLOCKS)]))
}

/**
 * A gzip bomb: a member whose header claims `mib` MiB, its data as `mib` copies of one small gzip
 * member of 1 MiB of zeros (~1 KiB each): about 1000:1, and never in memory whole.
 */
export function writeBombArchive(path: string, spec: FleetArchiveSpec, bomb: { name: string; mib: number; where: 'member' | 'trailing' }): void {
  const { body, tail } = fleetTar(spec)
  const zeros = Bun.gzipSync(new Uint8Array(1 << 20))
  const parts: Uint8Array[] = []
  if (bomb.where === 'member') {
    parts.push(Bun.gzipSync(concat([...body, tarHeader({ name: bomb.name, size: bomb.mib * 2 ** 20 })])))
    for (let i = 0; i < bomb.mib; i++) parts.push(zeros)
    parts.push(Bun.gzipSync(tail[0]!))
  } else {
    parts.push(Bun.gzipSync(concat([...body, tail[0]!])))
    for (let i = 0; i < bomb.mib; i++) parts.push(zeros)
  }
  parts.push(Bun.gzipSync(END_BLOCKS))
  writeFileSync(path, concat(parts))
}

/** A plain molt's files: every component once. */
export function moltFiles(name: string, port: number, baseDir: string): Record<string, string> {
  return {
    '.molt-info': `MOLT_NAME=${name}\nMOLT_PORT=${port}\nMOLT_HOME="${posix.join(baseDir, name)}"\nCREATED=2026-01-15\n`,
    '.openclaw/openclaw.json': `${JSON.stringify({ gateway: { port, bind: 'loopback' } }, null, 2)}\n`,
    '.openclaw/skills/hello/SKILL.md': '# hello\n',
    '.msmtprc': 'account default\n',
    'Maildir/cur/1:2,S': 'Subject: hi\n\nhello\n',
    '.molt-state/health-status.json': '{"status":"healthy"}\n',
  }
}
