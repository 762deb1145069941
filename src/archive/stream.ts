import { closeSync, constants, fstatSync, openSync, readlinkSync, readSync } from 'node:fs'
import type { BackupNote } from './checksums.ts'
import { CHUNK_SIZE, END_OF_ARCHIVE, type ParallelCompressor } from './compress.ts'
import { encodeHeader, padded, type HeaderInput } from './tar.ts'

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
  member: string
  path: string
  /** where the file must really be (realpath of the home + rel), checked when its inode changed */
  realPath: string
  size: number
  dev: number
  ino: number
}

export type FileOutcome =
  | { archived: true; digest: string; size: number; note?: BackupNote; unreadable?: string }
  | { archived: false; unreadable?: string; note: BackupNote }

const OPEN_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY
const probe = new Uint8Array(1)

/**
 * Open, check and stream one regular file as a member. The header holds the size found when the
 * file is opened; if the file then grows or shrinks while being read, its data is cut or padded
 * with zeros to that size (tar needs the size up front) and a note says so.
 */
export async function streamFile(
  out: TarStream,
  file: FilePlan,
  owner: (uid: number, gid: number) => { uname: string; gname: string },
  options: { failFast: boolean },
): Promise<FileOutcome> {
  const planned = { planned_size: file.size }
  let fd: number
  try {
    fd = openSync(file.path, OPEN_FLAGS)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ENOTDIR') return { archived: false, note: { kind: 'vanished', path: file.member, detail: 'vanished before it could be read', ...planned } }
    if (code === 'ELOOP') return { archived: false, note: { kind: 'replaced', path: file.member, detail: 'became a symlink after planning: not followed, not archived', ...planned } }
    // a socket or device node put in its place
    if (code === 'ENXIO' || code === 'ENODEV') return { archived: false, note: { kind: 'replaced', path: file.member, detail: 'is no longer a regular file: not archived', ...planned } }
    return { archived: false, unreadable: code ?? String(error), note: { kind: 'unreadable', path: file.member, detail: `cannot be read: ${code ?? error}`, ...planned } }
  }
  try {
    const st = fstatSync(fd, { bigint: true })
    if (!st.isFile()) return { archived: false, note: { kind: 'replaced', path: file.member, detail: 'is no longer a regular file: not archived', ...planned } }
    if (Number(st.ino) !== file.ino || Number(st.dev) !== file.dev) {
      // rewritten since planning (atomic rename) — or a folder on the way swapped for a symlink
      let real = ''
      try {
        real = readlinkSync(`/proc/self/fd/${fd}`)
      } catch {}
      if (real !== file.realPath) {
        return { archived: false, note: { kind: 'replaced', path: file.member, detail: `now resolves to ${JSON.stringify(real)} (a folder on its path was replaced): not archived`, ...planned } }
      }
    }
    if (options.failFast) return { archived: true, digest: '', size: 0 }
    const size = Number(st.size)
    const uid = Number(st.uid)
    const gid = Number(st.gid)
    await writeEntryHeader(out, { name: file.member, ...owner(uid, gid), type: 'file', size, mode: Number(st.mode) & 0o7777, mtimeSec: Number(st.mtimeNs / 1_000_000_000n), mtimeNsec: Number(st.mtimeNs % 1_000_000_000n), uid, gid })
    const hasher = new Bun.CryptoHasher('sha256')
    out.mark()
    let remaining = size
    let position = 0
    let readError: string | null = null
    while (remaining > 0) {
      const space = out.space()
      const want = Math.min(space.length, remaining)
      let n: number
      try {
        n = readSync(fd, space, 0, want, position)
      } catch (error) {
        readError = (error as NodeJS.ErrnoException).code ?? String(error)
        break
      }
      if (n === 0) break
      hasher.update(space.subarray(0, n))
      position += n
      remaining -= n
      const wait = out.advance(n)
      if (wait) await wait
    }
    const details: string[] = []
    let kind: BackupNote['kind'] = 'changed'
    if (remaining > 0) {
      // keep the member the size its header says: zeros, hashed like the rest
      const zeros = new Uint8Array(Math.min(remaining, CHUNK_SIZE))
      for (let left = remaining; left > 0; left -= zeros.length) hasher.update(left >= zeros.length ? zeros : zeros.subarray(0, left))
      const wait = out.zeros(remaining)
      if (wait) await wait
      if (readError) {
        kind = 'unreadable'
        details.push(`read failed after ${position} bytes (${readError}); the rest of the member is zeros`)
      } else {
        kind = 'shrank'
        details.push(`shrank while being read: ${position} of ${size} bytes read; padded with zeros`)
      }
    } else {
      let more = 0
      try {
        more = readSync(fd, probe, 0, 1, size)
      } catch {}
      if (more > 0) {
        kind = 'grew'
        details.push(`grew while being read; archived its first ${size} bytes`)
      }
    }
    out.mark()
    const pad = padded(size) - size
    if (pad) {
      const wait = out.zeros(pad)
      if (wait) await wait
    }
    const after = fstatSync(fd)
    if (!details.length && (Math.abs(after.mtimeMs - Number(st.mtimeNs) / 1e6) > 0.001 || after.size !== size)) details.push('changed while being read')
    if (size !== file.size) details.unshift(`size changed since planning (${file.size} → ${size} bytes)`)
    const digest = hasher.digest('hex')
    const note: BackupNote | undefined = details.length ? { kind, path: file.member, detail: details.join('; '), ...planned, archived_size: size } : undefined
    return readError ? { archived: true, digest, size, note, unreadable: readError } : { archived: true, digest, size, note }
  } finally {
    closeSync(fd)
  }
}
