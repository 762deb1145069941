import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs'
import { InputError } from '../lib/errors.ts'
import { COMPLETE_TAIL_LENGTH, detectCompression, endsLikeCompleteArchive, type Compression } from './compress.ts'
import { inflateFile } from './file-inflate.ts'
import { MANIFEST_MEMBER, normalizeMemberName } from './layout.ts'
import { parseManifest, type Manifest } from './manifest.ts'
import { TarError, TarParser, type TarSink } from './tar-parse.ts'

/** Reading archives: the compressed stream, the first member, and the whole stream for verify/restore. */
export class ArchiveReadError extends Error {
  constructor(
    message: string,
    readonly kind: 'io' | 'compression' | 'tar' | 'format',
  ) {
    super(message)
    this.name = 'ArchiveReadError'
  }
}

const MAX_MANIFEST = 16 << 20

export function archiveCompression(path: string): Compression {
  let fd: number
  try {
    // non-blocking: a FIFO given as the archive is refused below, never waited on
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK)
  } catch (error) {
    throw new ArchiveReadError(`cannot open ${path}: ${(error as NodeJS.ErrnoException).code ?? error}`, 'io')
  }
  try {
    const st = fstatSync(fd)
    if (!st.isFile()) throw new ArchiveReadError(`${path} is ${st.isDirectory() ? 'a folder' : 'not a regular file'}, not an archive`, 'format')
    const head = new Uint8Array(4)
    const n = readSync(fd, head, 0, 4, 0)
    const compression = detectCompression(head.subarray(0, n))
    if (!compression) throw new ArchiveReadError(n === 0 ? 'empty file' : 'not a gzip or zstd file', 'format')
    return compression
  } finally {
    closeSync(fd)
  }
}

/**
 * The decompressed bytes of an archive, chunk by chunk. Stopping early (break) closes the file:
 * reading the first member of a 500 MB archive costs a few milliseconds.
 */
export async function* decompressedChunks(path: string, compression = archiveCompression(path), readAhead = 1 << 20): AsyncGenerator<Uint8Array> {
  // required here, not imported: a top-level import would load zlib on every start of the CLI (cron)
  const zlib = require('node:zlib') as typeof import('node:zlib')
  const chunkSize = Math.min(readAhead, 256 << 10)
  // a whole read inflates up to 4 MiB ahead of the reader (the stream's default: one chunk), so inflating
  // goes on while the reader is held up in the kernel creating files: 1 GB restore, A/B in turn with
  // tar -xzf, 6.2–6.4 → 5.5–5.9 s wall (4 MiB; 1 MiB gained less, 8 MiB no more). The head read stays lean
  const options = { chunkSize, readableHighWaterMark: readAhead >= 1 << 20 ? 4 << 20 : undefined }
  const inflate = compression === 'gzip' ? zlib.createGunzip(options) : zlib.createZstdDecompress(options)
  try {
    yield* inflateFile(path, inflate, 0, Number.POSITIVE_INFINITY, readAhead)
  } catch (error) {
    throw new ArchiveReadError(describeStreamError(error as NodeJS.ErrnoException, compression), (error as NodeJS.ErrnoException).syscall ? 'io' : 'compression')
  }
}

function describeStreamError(error: NodeJS.ErrnoException, compression: Compression): string {
  if (error.syscall) return `cannot read the archive: ${error.code ?? error.message}`
  const message = error.message ?? String(error)
  if (compression === 'gzip') {
    if (/unexpected end/i.test(message)) return 'gzip stream ends early (truncated archive)'
    if (/incorrect data check|invalid|incorrect length/i.test(message)) return `gzip data is corrupt (${message})`
    if (/incorrect header check|unknown compression/i.test(message)) return `gzip: unexpected bytes where a gzip member should start (${message})`
  }
  return `${compression}: ${message}`
}

/** Decompressed bytes read past the end-of-archive blocks before reading stops (GNU tar stops at once). */
const AFTER_END = 1 << 20

export interface ReadResult {
  parser: TarParser
  /** what is odd about the end of the archive but loses nothing: said, never refused (GNU tar and bsdtar accept it) */
  endNotes: string[]
}

/**
 * Feed a whole archive to a tar sink; TarError and stream errors become ArchiveReadError.
 *
 * The junk rule: what follows the end-of-archive blocks is never extracted — zeros (record padding)
 * silently, anything else with a note, and reading stops 1 MiB after them. A compression error
 * after them (junk or a cut after the last member) is a note too: the content is complete. An
 * archive that ends at a member boundary without the end blocks is accepted with a note.
 */
export async function readArchive(path: string, sink: TarSink, compression?: Compression, chunks?: AsyncIterable<Uint8Array>): Promise<ReadResult> {
  const parser = new TarParser(sink)
  const endNotes: string[] = []
  let sinceCollect = 0
  try {
    try {
      // `chunks`: the parts of the archive a molt index points at (seek-read.ts), else all of it
      for await (const chunk of chunks ?? decompressedChunks(path, compression)) {
        if (!parser.push(chunk)) return { parser, endNotes }
        const behind = sink.backlog?.()
        if (behind) await behind
        if (parser.complete && parser.afterEnd > AFTER_END) {
          endNotes.push(`more than ${AFTER_END >> 20} MiB follow the end-of-archive blocks: not read`)
          break
        }
        // inflated chunks are garbage at once, faster than the collector notices (they are mostly outside
        // the JS heap): a quick collection every 8 MiB keeps the peak flat for every reader. A full one
        // every 32 MiB held it ~20 MB lower but cost ~2 s of a 1 GB restore, mostly in the kernel (madvise,
        // pages faulted back in): 8.0 → 5.9 s wall, 106 → 127 MB peak without it (a chain restore, which
        // holds more besides, still asks for it: restore-sink.ts)
        sinceCollect += chunk.length
        if (sinceCollect >= 8 << 20) {
          sinceCollect = 0
          Bun.gc(false)
        }
      }
    } catch (error) {
      if (!(error instanceof ArchiveReadError) || error.kind !== 'compression' || !parser.complete) throw error
      endNotes.push(`after the end of the tar archive: ${error.message}; ignored`)
    }
    parser.end()
  } catch (error) {
    if (error instanceof TarError) throw new ArchiveReadError(`${error.message} (at byte ${error.offset} of the tar stream)`, 'tar')
    throw error
  }
  if (parser.trailingGarbage) endNotes.push('non-zero bytes follow the end-of-archive blocks: ignored, as GNU tar does')
  if (parser.endMissing === 'none') endNotes.push('the archive ends without its end-of-archive blocks (GNU tar accepts that; every member is complete)')
  if (parser.endMissing === 'one') endNotes.push('the archive ends after a single zero block (GNU tar accepts that; every member is complete)')
  return { parser, endNotes }
}

/** Read a whole archive for its structure only: null when it reads to its end, else why not. */
export async function archiveReadProblem(path: string, compression?: Compression): Promise<string | null> {
  try {
    await readArchive(path, { entry() {} }, compression)
    return null
  } catch (error) {
    if (error instanceof ArchiveReadError) return error.message
    throw error
  }
}

export interface ArchiveHead {
  manifest: Manifest
  legacy: boolean
  compression: Compression
  /** v2: the file ends with the end-of-archive member (false = cut short); legacy archives: null */
  complete: boolean | null
}

/**
 * The manifest, from the first member. Archives of the bash toolkit keep `./manifest.json` anywhere:
 * those are scanned for it (legacy only; a v2 manifest must be first).
 * Throws ArchiveReadError (unreadable, not an archive) or InputError (a manifest that does not validate).
 */
export async function readArchiveHead(path: string): Promise<ArchiveHead> {
  const compression = archiveCompression(path)
  let index = 0
  let manifestIndex = -1
  let text: Uint8Array[] = []
  let size = 0
  const { parser } = await readArchive(
    path,
    {
      entry(entry) {
        const i = index++
        if (normalizeMemberName(entry.name) !== MANIFEST_MEMBER || entry.type !== 'file') return
        if (entry.size > MAX_MANIFEST) throw new ArchiveReadError(`manifest.json is ${entry.size} bytes: too big to be a manifest`, 'format')
        manifestIndex = i
        size = entry.size
        text = []
        if (entry.size === 0) return 'stop'
      },
      data(chunk) {
        if (manifestIndex >= 0) text.push(chunk.slice())
      },
      entryEnd() {
        if (manifestIndex >= 0) return 'stop'
      },
    },
    compression,
    // the manifest is the first few KiB: a megabyte read and inflated ahead would be thrown away
    decompressedChunks(path, compression, 64 << 10),
  )
  if (manifestIndex < 0) {
    throw new ArchiveReadError(parser.complete ? 'no manifest.json in the archive: not a fleet backup' : 'no manifest.json found', 'format')
  }
  const bytes = new Uint8Array(size)
  let at = 0
  for (const part of text) {
    bytes.set(part, at)
    at += part.length
  }
  const { manifest, legacy } = parseManifest(new TextDecoder().decode(bytes))
  if (!legacy && manifestIndex !== 0) throw new InputError('manifest.json is not the first member')
  return { manifest, legacy, compression, complete: legacy ? null : endsComplete(path, compression) }
}

/** Does the file end like a complete archive (see endsLikeCompleteArchive)? Reads ~1 KiB. */
export function endsComplete(path: string, compression: Compression): boolean {
  const fd = openSync(path, 'r')
  try {
    const size = fstatSync(fd).size
    const tail = new Uint8Array(Math.min(size, COMPLETE_TAIL_LENGTH))
    readSync(fd, tail, 0, tail.length, size - tail.length)
    return endsLikeCompleteArchive(tail, compression)
  } finally {
    closeSync(fd)
  }
}
