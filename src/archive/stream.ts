import { closeSync, constants, fstatSync, openSync, readlinkSync, readSync } from 'node:fs'
import type { BackupNote } from './checksums.ts'
import { CHUNK_SIZE, END_OF_ARCHIVE, type ParallelCompressor } from './compress.ts'
import { dataSegments } from './holes.ts'
import { encodeHeader, padded, sparseMap, type HeaderInput } from './tar.ts'

/**
 * The uncompressed tar stream, cut into chunks for the compressor. File data is read straight into
 * the chunk buffer (no copy) and hashed there. Methods return a promise only when the caller must
 * wait for the compressor (backpressure); otherwise they complete synchronously.
 */
export class TarStream {
  #buf: Uint8Array
  #fill = 0
  #marks: number[] = []
  /** uncompressed bytes so far */
  bytes = 0

  constructor(private readonly compressor: ParallelCompressor) {
    this.#buf = compressor.takeBuffer()
  }

  write(data: Uint8Array): Promise<void> | undefined {
    let at = 0
    while (at < data.length) {
      const n = Math.min(CHUNK_SIZE - this.#fill, data.length - at)
      this.#buf.set(data.subarray(at, at + n), this.#fill)
      this.#fill += n
      this.bytes += n
      at += n
      if (this.#fill === CHUNK_SIZE) {
        const wait = this.#dispatch()
        if (wait && at < data.length) return wait.then(() => this.write(data.subarray(at)))
        if (wait) return wait
      }
    }
    return undefined
  }

  zeros(count: number): Promise<void> | undefined {
    let left = count
    while (left > 0) {
      const n = Math.min(CHUNK_SIZE - this.#fill, left)
      this.#buf.fill(0, this.#fill, this.#fill + n)
      this.#fill += n
      this.bytes += n
      left -= n
      if (this.#fill === CHUNK_SIZE) {
        const wait = this.#dispatch()
        if (wait && left > 0) return wait.then(() => this.zeros(left))
        if (wait) return wait
      }
    }
    return undefined
  }

  /** The free part of the current chunk (never empty), to read into; then `advance(n)`. */
  space(): Uint8Array {
    return this.#buf.subarray(this.#fill)
  }

  advance(n: number): Promise<void> | undefined {
    this.#fill += n
    this.bytes += n
    return this.#fill === CHUNK_SIZE ? this.#dispatch() : undefined
  }

  /** A file's data starts or ends here: the compressor judges each file's data on its own. */
  mark(): void {
    if (this.#fill > 0 && this.#marks.at(-1) !== this.#fill) this.#marks.push(this.#fill)
  }

  /** End the current compressed member here (the manifest gets one of its own, so does the end block). */
  flush(): Promise<void> | undefined {
    return this.#fill ? this.#dispatch() : undefined
  }

  #dispatch(): Promise<void> | undefined {
    const buf = this.#buf
    const length = this.#fill
    const marks = this.#marks
    this.#fill = 0
    this.#marks = []
    const wait = this.compressor.submit(buf, length, marks)
    this.#buf = this.compressor.takeBuffer()
    return wait
  }
}

/** A whole in-memory member (manifest, global files, crontab, checksums). Returns its sha256. */
export async function writeMember(out: TarStream, header: HeaderInput, content: Uint8Array): Promise<string> {
  let wait = out.write(encodeHeader({ ...header, size: content.length }))
  if (wait) await wait
  wait = out.write(content)
  if (wait) await wait
  wait = out.zeros(padded(content.length) - content.length)
  if (wait) await wait
  return new Bun.CryptoHasher('sha256').update(content).digest('hex')
}

export async function writeEntryHeader(out: TarStream, header: HeaderInput): Promise<void> {
  const wait = out.write(encodeHeader(header))
  if (wait) await wait
}

/**
 * The end: zeros up to a whole 10 KiB tar record (GNU tar's --delete and --append need whole
 * records) less the end-of-archive blocks, which the compressor writes itself when it finishes
 * (so every complete archive ends with the same bytes). Returns the compressed size.
 */
export async function writeEnd(out: TarStream, compressor: ParallelCompressor): Promise<number> {
  const RECORD = 10240
  let wait = out.zeros((RECORD - ((out.bytes + END_OF_ARCHIVE.length) % RECORD)) % RECORD)
  if (wait) await wait
  wait = out.flush()
  if (wait) await wait
  out.bytes += END_OF_ARCHIVE.length
  return compressor.finish()
}

export interface FilePlan {
  /** member name as bytes (any bytes: names need not be UTF-8) */
  member: Uint8Array
  /** the member name for notes */
  shown: string
  path: Buffer
  /** where the file must really be (realpath of the home + rel), checked when its inode changed */
  realPath: string
  size: number
  dev: number
  ino: number
  /** read the data from here instead (a SQLite snapshot); the header still describes `path` */
  contentPath?: string
}

/** What the member's header says: the index line is made from it. */
export interface WrittenHeader {
  mode: number
  mtimeSec: number
  mtimeNsec: number
  /** content bytes (a sparse file's real size) */
  size: number
  sparse: boolean
}

export type FileOutcome =
  | { archived: true; digest: string; size: number; header: WrittenHeader; note?: BackupNote; unreadable?: string; damaged?: boolean }
  | { archived: false; unreadable?: string; note: BackupNote }

/** how a molt's file is opened to be read: never through a link, never blocking (a FIFO), never as a terminal */
export const OPEN_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY
const probe = new Uint8Array(1)
const ZEROS = new Uint8Array(CHUNK_SIZE)
/** below this a file is not worth asking for holes */
const SPARSE_MIN = 64 << 10

export interface StreamOptions {
  failFast: boolean
  /** tests: the read at this offset fails with this code (no device here can fail a read for real) */
  readFault?: (member: string) => string | null
}

/**
 * Open, check and stream one regular file as a member. The header holds the size found when the
 * file is opened; if the file then grows or shrinks while being read, its data is cut or padded
 * with zeros to that size (tar needs the size up front) and a note says so. A read that fails
 * part-way leaves zeros in the member: it is marked damaged and its checksum is not listed.
 * A file with holes is written sparse (GNU pax format 1.0): its holes are neither read nor stored.
 */
export async function streamFile(
  out: TarStream,
  file: FilePlan,
  owner: (uid: number, gid: number) => { uname: string; gname: string },
  options: StreamOptions,
): Promise<FileOutcome> {
  const planned = { planned_size: file.size }
  const shown = file.shown
  let fd: number
  try {
    fd = openSync(file.path, OPEN_FLAGS)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ENOTDIR') return { archived: false, note: { kind: 'vanished', path: shown, detail: 'vanished before it could be read', ...planned } }
    if (code === 'ELOOP') return { archived: false, note: { kind: 'replaced', path: shown, detail: 'became a symlink after planning: not followed, not archived', ...planned } }
    // a socket or device node put in its place
    if (code === 'ENXIO' || code === 'ENODEV') return { archived: false, note: { kind: 'replaced', path: shown, detail: 'is no longer a regular file: not archived', ...planned } }
    return { archived: false, unreadable: code ?? String(error), note: { kind: 'unreadable', path: shown, detail: `cannot be read: ${code ?? error}`, ...planned } }
  }
  let dataFd = fd
  try {
    const st = fstatSync(fd, { bigint: true })
    if (!st.isFile()) return { archived: false, note: { kind: 'replaced', path: shown, detail: 'is no longer a regular file: not archived', ...planned } }
    if (Number(st.ino) !== file.ino || Number(st.dev) !== file.dev) {
      // rewritten since planning (atomic rename) — or a folder on the way swapped for a symlink
      let real = ''
      try {
        real = readlinkSync(`/proc/self/fd/${fd}`)
      } catch {}
      if (real !== file.realPath) {
        return { archived: false, note: { kind: 'replaced', path: shown, detail: `now resolves to ${JSON.stringify(real)} (a folder on its path was replaced): not archived`, ...planned } }
      }
    }
    if (options.failFast) return { archived: true, digest: '', size: 0, header: { mode: 0, mtimeSec: 0, mtimeNsec: 0, size: 0, sparse: false } }
    if (file.contentPath !== undefined) dataFd = openSync(file.contentPath, constants.O_RDONLY | constants.O_NOFOLLOW)
    const size = file.contentPath !== undefined ? fstatSync(dataFd).size : Number(st.size)
    const uid = Number(st.uid)
    const gid = Number(st.gid)
    const header: WrittenHeader = { mode: Number(st.mode) & 0o7777, mtimeSec: Number(st.mtimeNs / 1_000_000_000n), mtimeNsec: Number(st.mtimeNs % 1_000_000_000n), size, sparse: false }
    // holes: only where the file has fewer blocks than its size needs
    const segments = size >= SPARSE_MIN && Number(st.blocks) * 512 < size ? dataSegments(dataFd, size) : null
    let map: Uint8Array | null = null
    let stored = size
    if (segments) {
      // GNU tar ends the map with a zero-length segment at the end when the file ends in a hole
      const last = segments.at(-1)
      if (!last || last[0] + last[1] < size) segments.push([size, 0])
      map = sparseMap(segments)
      stored = map.length + segments.reduce((n, [, l]) => n + l, 0)
      header.sparse = true
    }
    await writeEntryHeader(out, { name: file.member, ...owner(uid, gid), type: 'file', size: stored, mode: header.mode, mtimeSec: header.mtimeSec, mtimeNsec: header.mtimeNsec, uid, gid, sparse: map ? { realSize: size } : undefined })
    if (map) {
      const wait = out.write(map)
      if (wait) await wait
    }
    const hasher = new Bun.CryptoHasher('sha256')
    out.mark()
    let readError: string | null = null
    let shortBy = 0
    /** did the file grow past its size? known once a read asked for one byte more and reached the end */
    let grew: boolean | null = null
    let position = 0
    const fault = options.readFault?.(shown) ?? null
    for (const [offset, length] of segments ?? [[0, size] as [number, number]]) {
      // the hole before this segment: zeros for the hash, nothing in the archive
      for (let gap = offset - position; gap > 0; gap -= CHUNK_SIZE) hasher.update(gap >= CHUNK_SIZE ? ZEROS : ZEROS.subarray(0, gap))
      position = offset
      let remaining = length
      while (remaining > 0 && !readError) {
        const space = out.space()
        // the last read of a whole file asks for one byte more when the chunk has room for it:
        // whether the file grew comes with the data (no read of its own); the byte is not kept
        const past = !segments && remaining < space.length ? 1 : 0
        // an injected fault lets the first 4 KiB through, then fails
        const want = Math.min(space.length, remaining + past, fault ? 4096 : Number.POSITIVE_INFINITY)
        let n: number
        try {
          if (fault && position - offset >= 4096) throw Object.assign(new Error(fault), { code: fault })
          n = readSync(dataFd, space, 0, want, position)
        } catch (error) {
          readError = (error as NodeJS.ErrnoException).code ?? String(error)
          break
        }
        if (n === 0) break
        if (want > remaining && n >= remaining) {
          grew = n > remaining
          n = remaining
        }
        hasher.update(space.subarray(0, n))
        position += n
        remaining -= n
        const wait = out.advance(n)
        if (wait) await wait
      }
      if (remaining > 0) {
        // keep the member the size its header says: zeros, hashed like the rest
        shortBy += remaining
        for (let left = remaining; left > 0; left -= CHUNK_SIZE) hasher.update(left >= CHUNK_SIZE ? ZEROS : ZEROS.subarray(0, left))
        const wait = out.zeros(remaining)
        if (wait) await wait
        position += remaining
      }
    }
    for (let gap = size - position; gap > 0; gap -= CHUNK_SIZE) hasher.update(gap >= CHUNK_SIZE ? ZEROS : ZEROS.subarray(0, gap))
    const details: string[] = []
    let kind: BackupNote['kind'] = 'changed'
    if (readError) {
      kind = 'unreadable'
      details.push(`read failed (${readError}) with ${shortBy} of ${size} bytes unread: the member holds zeros there, so it is NOT a copy of the file and is not in the checksum list`)
    } else if (shortBy > 0) {
      kind = 'shrank'
      details.push(`shrank while being read: ${size - shortBy} of ${size} bytes read; padded with zeros`)
    } else if (!segments) {
      if (grew === null) {
        try {
          grew = readSync(dataFd, probe, 0, 1, size) > 0
        } catch {}
      }
      if (grew) {
        kind = 'grew'
        details.push(`grew while being read; archived its first ${size} bytes`)
      }
    }
    out.mark()
    const pad = padded(stored) - stored
    if (pad) {
      const wait = out.zeros(pad)
      if (wait) await wait
    }
    if (file.contentPath === undefined) {
      const after = fstatSync(fd)
      if (!details.length && (Math.abs(after.mtimeMs - Number(st.mtimeNs) / 1e6) > 0.001 || after.size !== size)) details.push('changed while being read')
      if (size !== file.size) details.unshift(`size changed since planning (${file.size} → ${size} bytes)`)
    }
    const digest = hasher.digest('hex')
    const note: BackupNote | undefined = details.length ? { kind, path: shown, detail: details.join('; '), ...planned, archived_size: size, ...(readError ? { damaged: true } : {}) } : undefined
    return readError ? { archived: true, digest, size, header, note, unreadable: readError, damaged: true } : { archived: true, digest, size, header, note }
  } finally {
    if (dataFd !== fd) closeSync(dataFd)
    closeSync(fd)
  }
}
