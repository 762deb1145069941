import { closeSync, constants, futimesSync, lstatSync, lutimesSync, mkdirSync, openSync, symlinkSync, writeSync } from 'node:fs'
import { join, posix } from 'node:path'
import { ClmntError } from '../lib/errors.ts'
import type { Compression } from './compress.ts'
import { componentOf, CRONTAB_FILE, GLOBAL_FILES, memberNameProblem, normalizeMemberName, placeOf, symlinkStaysInside, type Component } from './layout.ts'
import type { Manifest } from './manifest.ts'
import { ArchiveReadError, readArchive } from './read.ts'
import type { TarEntry } from './tar.ts'

/**
 * Stream the archive once into the staging folder, judging every member before anything of it is
 * written: regular files, folders, and symlinks that stay inside their molt; never an absolute
 * path, `..`, a hard link, a device, a FIFO, a duplicate, a member outside the manifest's molts,
 * or anything that would land inside a symlink. Every written file is hashed on the way, for the
 * check against checksums.sha256 that follows. Unselected molts are read past, not written.
 */
export class RestoreRefused extends ClmntError {
  constructor(
    message: string,
    readonly problems: string[] = [message],
  ) {
    super(message, 1)
    this.name = 'RestoreRefused'
  }
}

export interface ExtractSpec {
  archive: string
  compression: Compression
  manifest: Manifest
  legacy: boolean
  /** molt → its folder in staging (only these are written) */
  homes: Map<string, string>
  only: ReadonlySet<Component> | null
  /** most file bytes that may be written (free space, less a reserve) */
  diskBudget: number
  /** size of the compressed archive (bounds legacy archives, whose manifests hold no totals) */
  archiveBytes: number
  signal?: AbortSignal
  onProgress?(done: { files: number; bytes: number }): void
}

export interface Deferred {
  rel: string
  mode: number
  mtime: number
}

export interface MoltTally {
  files: number
  bytes: number
  dirs: number
  symlinks: number
  byComponent: Map<string, { files: number; bytes: number }>
  /** symlink member (relative to the home) → target */
  links: Map<string, string>
  /** folders' modes and mtimes, set once everything inside is written */
  deferred: Deferred[]
  /** folders created in staging (relative to the home): the only ones members may go into */
  dirsMade: Set<string>
  /** with --only: folders like .openclaw, made (with these modes and times) only when needed */
  containers: Map<string, Deferred>
  rootMtime: number | null
  crontab: Uint8Array | null
  /** members whose setgid/sticky bits were dropped */
  stripped: string[]
}

export interface Extracted {
  /** member name → sha256, for every file written or kept (manifest, global, crontab included) */
  digests: Map<string, string>
  checksums: string | null
  global: Map<string, Uint8Array>
  molts: Map<string, MoltTally>
  /** molts that had at least one member in the archive */
  present: Set<string>
  trailingGarbage: boolean
}

const WRITE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW
const MAX_CHECKSUMS = 64 << 20
const MAX_GLOBAL = 16 << 20
const MAX_CRONTAB = 1 << 20
const PER_ENTRY = 8 << 10
const SLACK_BYTES = 64 << 20
/**
 * Inflated chunks are garbage as soon as they are written, faster than the collector notices
 * (they are mostly outside the JS heap): besides read.ts's full collection every 32 MiB, a quick
 * one every 8 MiB keeps the peak ~12 MB lower for no measurable time.
 */
const GC_EVERY = 8 << 20

/** The bash toolkit kept these at the top of the molt folder; they live under .openclaw/. */
const LEGACY_OPENCLAW = new Set(['openclaw.json', '.env', 'skills'])
export function legacyRel(rel: string): string {
  const top = rel.split('/')[0]!
  return LEGACY_OPENCLAW.has(top) ? `.openclaw/${rel}` : rel
}

/** Bytes a molt may hold: what the manifest planned, plus room for files that grew while backed up. */
export function moltByteLimit(planned: number): number {
  return Math.ceil(planned * 1.1) + (16 << 20)
}

type Current =
  | { kind: 'skip' }
  | { kind: 'write'; fd: number; hasher: Bun.CryptoHasher; name: string; tally: MoltTally; component: string; mtime: number }
  | { kind: 'capture'; chunks: Uint8Array[]; hasher: Bun.CryptoHasher; name: string; done(content: Uint8Array, digest: string): void }

export async function extractArchive(spec: ExtractSpec): Promise<Extracted> {
  const { manifest, legacy } = spec
  const layout = { global: manifest.layout.global, molts: new Set(manifest.molts.map((m) => m.name)) }
  const out: Extracted = { digests: new Map(), checksums: null, global: new Map(), molts: new Map(), present: new Set(), trailingGarbage: false }
  for (const [name, home] of spec.homes) {
    mkdirSync(home, { mode: 0o700 })
    out.molts.set(name, { files: 0, bytes: 0, dirs: 0, symlinks: 0, byComponent: new Map(), links: new Map(), deferred: [], dirsMade: new Set(['']), containers: new Map(), rootMtime: null, crontab: null, stripped: [] })
  }
  const limits = new Map(manifest.molts.map((m) => [m.name, m.backup_size_bytes === null || legacy ? Number.POSITIVE_INFINITY : moltByteLimit(m.backup_size_bytes)]))
  const archivedBytes = new Map<string, number>()
  const seen = new Set<string>()
  let index = -1
  let afterChecksums = false
  let written = 0
  let filesDone = 0
  let current: Current = { kind: 'skip' }
  let sinceCollect = 0
  const refuse = (text: string): never => {
    throw new RestoreRefused(text)
  }

  const entry = (e: TarEntry): void => {
    index++
    if (spec.signal?.aborted) refuse('interrupted')
    const shown = JSON.stringify(e.name)
    if (afterChecksums) refuse(`member ${shown} comes after checksums.sha256, which must be the last member`)
    const problem = memberNameProblem(e.name, { legacy })
    if (problem) refuse(`member ${shown}: ${problem}`)
    const name = normalizeMemberName(e.name)
    if (name === '') {
      if (legacy && e.type === 'directory') return
      refuse(`member ${shown}: not a name of the fleet layout`)
    }
    if (seen.has(name)) refuse(`member ${shown} appears twice in the archive`)
    seen.add(name)
    if (e.type === 'hardlink') refuse(`member ${shown} is a hard link to ${JSON.stringify(e.linkname)}: hard links are refused`)
    if (e.type === 'char-device' || e.type === 'block-device' || e.type === 'fifo') refuse(`member ${shown} is a ${e.type.replace('-', ' ')}: only files, folders and symlinks are restored`)
    if (e.type === 'other') refuse(`member ${shown} has the unsupported tar type ${JSON.stringify(e.typeflag)}`)

    const place = placeOf(name, layout)
    if (place.kind === 'manifest') {
      if (e.type !== 'file') refuse(`member ${shown} is not a file`)
      if (!legacy && index !== 0) refuse('manifest.json is not the first member')
      if (e.size > MAX_GLOBAL) refuse(`member ${shown} is ${e.size} bytes: too big to be a manifest`)
      current = capture(name, MAX_GLOBAL, () => {})
      return
    }
    if (place.kind === 'checksums' && !legacy) {
      if (e.type !== 'file') refuse(`member ${shown} is not a file`)
      if (e.size > MAX_CHECKSUMS) refuse(`checksums.sha256 is ${e.size} bytes: too big to be a checksum list`)
      afterChecksums = true
      current = capture(null, MAX_CHECKSUMS, (content) => (out.checksums = new TextDecoder().decode(content)))
      return
    }
    if (place.kind === 'global') {
      if (place.rel === '' && e.type === 'directory') return
      const known = (GLOBAL_FILES as readonly string[]).includes(place.rel) && e.type === 'file'
      if (!known) {
        if (legacy) return
        refuse(`member ${shown} is not one of the fleet files the global folder holds (${GLOBAL_FILES.join(', ')})`)
      }
      if (e.size > MAX_GLOBAL) refuse(`member ${shown} is ${e.size} bytes: too big for a fleet file`)
      current = capture(name, MAX_GLOBAL, (content) => out.global.set(place.rel, content))
      return
    }
    if (place.kind !== 'molt') refuse(`member ${shown} belongs to no molt of the manifest`)
    if (place.kind !== 'molt') return
    const molt = place.molt
    out.present.add(molt)
    if (e.type === 'file') {
      const total = (archivedBytes.get(molt) ?? 0) + e.size
      archivedBytes.set(molt, total)
      if (total > limits.get(molt)!) {
        refuse(`member ${shown} (${e.size} bytes) takes molt ${molt} past the ${limits.get(molt)} bytes its manifest accounts for: refused (a gzip bomb, or a manifest that lies)`)
      }
    }
    const tally = out.molts.get(molt)
    if (!tally) return // a molt not being restored: read past
    const home = spec.homes.get(molt)!
    const rel = legacy ? legacyRel(place.rel) : place.rel
    const isDir = e.type === 'directory'

    if (rel === '') {
      if (!isDir) refuse(`member ${shown}: the folder of molt ${molt} is a ${e.type}`)
      tally.rootMtime = e.mtime
      return
    }
    if (!legacy && rel === CRONTAB_FILE) {
      if (e.type !== 'file') refuse(`member ${shown} is not a file`)
      if (e.size > MAX_CRONTAB) refuse(`member ${shown} is ${e.size} bytes: too big to be a crontab`)
      current = capture(name, MAX_CRONTAB, (content) => {
        tally.crontab = content
        count(tally, 'crontab', content.length)
      })
      return
    }
    const component = componentOf(rel, isDir)
    if (spec.only && component !== null && (component === undefined || !spec.only.has(component))) return
    if (spec.only && component === null && isDir) {
      // a folder that only holds components (.openclaw): made when a restored component needs it
      tally.containers.set(rel, { rel, mode: e.mode & 0o777, mtime: e.mtime })
      tally.dirs++
      return
    }

    let mode = e.mode & 0o7777
    if (e.type === 'file' && mode & 0o6000) refuse(`member ${shown} is set-user-ID or set-group-ID: such files do not belong in a molt home`)
    if (mode & 0o7000) {
      tally.stripped.push(name)
      mode &= 0o777
    }
    const path = join(home, rel)
    if (isDir) {
      ensureParent(tally, home, rel, shown)
      makeDir(tally, home, rel, shown)
      tally.deferred.push({ rel, mode, mtime: e.mtime })
      tally.dirs++
      return
    }
    if (e.type === 'symlink') {
      if (!symlinkStaysInside(rel, e.linkname)) refuse(`member ${shown} is a symlink to ${JSON.stringify(e.linkname)}, which leads outside molt ${molt}`)
      ensureParent(tally, home, rel, shown)
      try {
        symlinkSync(e.linkname, path)
      } catch (error) {
        refuse(`member ${shown}: cannot create the symlink (${(error as NodeJS.ErrnoException).code}): something is already at that path`)
      }
      lutimesSync(path, e.mtime, e.mtime)
      tally.links.set(rel, e.linkname)
      tally.symlinks++
      return
    }
    // a regular file
    if (written + e.size > spec.diskBudget) refuse(`not enough free space in the base dir's file system to restore ${shown} and what follows it`)
    written += e.size
    ensureParent(tally, home, rel, shown)
    let fd: number
    try {
      fd = openSync(path, WRITE_FLAGS, mode)
    } catch (error) {
      return refuse(`member ${shown}: cannot create it (${(error as NodeJS.ErrnoException).code}): something is already at that path`)
    }
    current = { kind: 'write', fd, hasher: new Bun.CryptoHasher('sha256'), name, tally, component: component ?? 'other', mtime: e.mtime }
  }

  const capture = (name: string | null, limit: number, done: (content: Uint8Array, digest: string) => void): Current => ({
    kind: 'capture',
    chunks: [],
    hasher: new Bun.CryptoHasher('sha256'),
    name: name ?? '',
    done: (content, digest) => {
      if (content.length > limit) refuse(`member ${JSON.stringify(name)} is too big`)
      if (name !== null) out.digests.set(name, digest)
      done(content, digest)
    },
  })

  // planning's garbage (zod, the manifest, the fleet scan) goes before extraction starts to allocate
  Bun.gc(true)
  try {
    const parser = await readArchive(
      spec.archive,
      {
        entry(e) {
          current = { kind: 'skip' }
          entry(e)
        },
        data(chunk) {
          sinceCollect += chunk.length
          if (sinceCollect >= GC_EVERY) {
            sinceCollect = 0
            Bun.gc(false)
          }
          const c = current
          if (c.kind === 'write') {
            for (let at = 0; at < chunk.length; ) at += writeSync(c.fd, chunk, at)
            c.hasher.update(chunk)
          } else if (c.kind === 'capture') {
            c.chunks.push(chunk.slice())
            c.hasher.update(chunk)
          }
        },
        entryEnd(e) {
          const c = current
          current = { kind: 'skip' }
          if (c.kind === 'write') {
            futimesSync(c.fd, e.mtime, e.mtime)
            closeSync(c.fd)
            out.digests.set(c.name, c.hasher.digest('hex'))
            count(c.tally, c.component, e.size)
            filesDone++
            spec.onProgress?.({ files: filesDone, bytes: written })
          } else if (c.kind === 'capture') {
            c.done(Buffer.concat(c.chunks), c.hasher.digest('hex'))
          }
        },
      },
      spec.compression,
      { maxBytes: streamLimit(spec) },
    )
    out.trailingGarbage = parser.trailingGarbage
  } catch (error) {
    const c = current as Current
    if (c.kind === 'write') {
      try {
        closeSync(c.fd)
      } catch {}
    }
    if (error instanceof ArchiveReadError) throw new RestoreRefused(`the archive cannot be read to its end: ${error.message}`)
    throw error
  }
  return out
}

function count(tally: MoltTally, component: string, bytes: number): void {
  tally.files++
  tally.bytes += bytes
  const c = tally.byComponent.get(component) ?? { files: 0, bytes: 0 }
  c.files++
  c.bytes += bytes
  tally.byComponent.set(component, c)
}

/** The tar stream a manifest can account for: its bytes, a header per entry, some slack. */
function streamLimit(spec: ExtractSpec): number {
  const m = spec.manifest
  if (spec.legacy || m.total_size_bytes === null) return Math.max(4 * 2 ** 30, spec.archiveBytes * 200)
  let entries = (m.total_files ?? 0) + m.global_files.length + 4
  for (const molt of m.molts) entries += (molt.files ?? 0) + (molt.dirs ?? 0) + (molt.symlinks ?? 0) + 2
  return Math.ceil(m.total_size_bytes * 1.1) + entries * PER_ENTRY + SLACK_BYTES
}

/** Folders on the way to a member: only ones this extraction made, never through a symlink or a file. */
function ensureParent(tally: MoltTally, home: string, rel: string, shown: string): void {
  const parent = posix.dirname(rel)
  if (parent === '.' || tally.dirsMade.has(parent)) return
  ensureParent(tally, home, parent, shown)
  makeDir(tally, home, parent, shown)
}

function makeDir(tally: MoltTally, home: string, rel: string, shown: string): void {
  if (tally.dirsMade.has(rel)) return
  try {
    mkdirSync(join(home, rel), { mode: 0o700 })
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    let what = 'something else'
    try {
      const st = lstatSync(join(home, rel))
      what = st.isSymbolicLink() ? 'a symlink' : st.isDirectory() ? 'a folder' : 'a file'
    } catch {}
    throw new RestoreRefused(`member ${shown}: ${JSON.stringify(rel)} is already ${what} (${code}), not a folder to put it in: refused (a member may not go through a symlink)`)
  }
  tally.dirsMade.add(rel)
  const container = tally.containers.get(rel)
  if (container) tally.deferred.push(container)
}
