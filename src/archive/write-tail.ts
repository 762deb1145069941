import { endLine, noteLine, type BackupNote } from './checksums.ts'
import type { ParallelCompressor } from './compress.ts'
import { INDEX_MEMBER } from './index-file.ts'
import { CHECKSUMS_MEMBER } from './layout.ts'
import { seekHeadLine, seekLine, type HeadRanges, type ListEnds, type MoltRange } from './seek-index.ts'
import type { Spool } from './spool.ts'
import { writeEnd, writeEntryHeader, type TarStream } from './stream.ts'
import type { HeaderInput } from './tar.ts'

/**
 * The archive's tail: index.jsonl, then checksums.sha256 (its sums, the molt index lines, what the
 * backup noticed, the end line), the end-of-archive blocks, and the locator filled in at the start
 * of the file (seek-index.ts). In both lists each molt's lines start a compressed chunk of their
 * own, and so does what follows the last molt's (list chunks): a one-molt restore inflates only
 * its molt's lines.
 */

const encoder = new TextEncoder()

/** Where a molt (or the tail) starts: compressed chunk, tar offset, the lists' sizes, files listed before it. */
export interface Start {
  molt: string
  chunk: number
  tar: number
  index: number
  sums: number
  files: number
  bytes: number
}

/** A place in the stream: its chunk (ParallelCompressor.boundary) and tar offset. */
export interface Place {
  chunk: number
  tar: number
}

export interface TailInput {
  out: TarStream
  compressor: ParallelCompressor
  /** a chunk of its own starts here (the tar stream flushed first) */
  mark(): Promise<Place>
  /** each molt's start, then the tail's (its index and sums: where the molts' lines end) */
  starts: Start[]
  index: Spool
  sums: Spool
  /** a list's header: a root-owned file of `size` bytes, dated now */
  header(name: string, size: number): HeaderInput
  /** the checksum line of index.jsonl goes into the sums */
  summed(digest: string, name: string): void
  state: Place
  global: Place
  stateBytes: number
  notes: BackupNote[]
  /** files and bytes of the end line, without index.jsonl (added here) */
  end: { files: number; bytes: number; partial: boolean }
}

/** Writes the tail and finishes the archive; returns the compressed size and the tar size. */
export async function writeTail(t: TailInput): Promise<{ bytesOut: number; tarBytes: number }> {
  const { out, compressor, starts } = t
  const chunkMarks = (list: 'index' | 'sums', into: number[]) => starts.map((s) => ({ at: s[list], mark: async () => void into.push((await t.mark()).chunk) }))

  const indexChunks: number[] = []
  const index = await spoolMember(out, t.header(INDEX_MEMBER, t.index.size), t.index, chunkMarks('index', indexChunks))
  t.summed(index.digest, INDEX_MEMBER)
  await compressor.settle()
  const tailStart = starts.at(-1)!
  const tail = { offset: compressor.offsetOf(tailStart.chunk), tar: tailStart.tar }
  const head: HeadRanges = { state_offset: compressor.offsetOf(t.state.chunk), state_tar_offset: t.state.tar, global_offset: compressor.offsetOf(t.global.chunk), global_tar_offset: t.global.tar, state_bytes: t.stateBytes }

  // after the sums: the molt index lines (a chunk of their own: the locator says where), notes, the end line.
  // Their numbers are 16 characters wide: the text is as long with the sums' chunk offsets as with zeros,
  // so checksums.sha256's size is known for its header before those chunks are compressed.
  const sumsChunks: number[] = []
  const trailerText = (lists: ListEnds, chunkOf: (i: number) => MoltRange['chunks']) =>
    encoder.encode(
      [
        seekHeadLine(head, lists),
        ...moltRanges(starts, compressor).map((range, i) => seekLine({ ...range, chunks: chunkOf(i) })),
        ...t.notes.map(noteLine),
        // the end line counts every file member but the manifest and this list: index.jsonl too
        endLine({ files: t.end.files + 1, bytes: t.end.bytes + t.index.size, notes: t.notes.length, partial: t.end.partial }),
      ].join(''),
    )
  const trailerLength = trailerText({ index_data: 0, index_end_chunk: 0, sums_data: 0, sums_end_chunk: 0 }, () => ({ index_chunk: 0, sums_chunk: 0 })).length
  let lines: Place | undefined
  const linesMark = { at: t.sums.size, mark: async () => void (lines = await t.mark()) }
  await spoolMember(out, t.header(CHECKSUMS_MEMBER, t.sums.size + trailerLength), t.sums, [...chunkMarks('sums', sumsChunks), linesMark], async (sumsData) => {
    // every chunk before the lines is in the file now: their offsets are known
    await compressor.settle()
    const at = (chunk: number) => compressor.offsetOf(chunk)
    const n = starts.length - 1
    const lists: ListEnds = { index_data: index.dataAt, index_end_chunk: at(indexChunks[n]!), sums_data: sumsData, sums_end_chunk: at(sumsChunks[n]!) }
    const text = trailerText(lists, (i) => ({ index_chunk: at(indexChunks[i]!), sums_chunk: at(sumsChunks[i]!) }))
    if (text.length !== trailerLength) throw new Error(`the molt index lines changed length (${trailerLength} → ${text.length})`)
    return text
  })
  const bytesOut = await writeEnd(out, compressor)
  compressor.writeLocator({ tailOffset: tail.offset, tailTarOffset: tail.tar, tarSize: out.bytes, lines: { offset: compressor.offsetOf(lines!.chunk), tarOffset: lines!.tar } })
  return { bytesOut, tarBytes: out.bytes }
}

/**
 * A member whose content is a spool file, then `trailer`'s bytes (the header's size counts them);
 * returns its sha256 and where its content starts in the tar stream. A chunk of its own starts at
 * each of `marks`' content offsets (in order; several may share one).
 */
export async function spoolMember(out: TarStream, header: HeaderInput, spool: Spool, marks: { at: number; mark: () => Promise<void> }[] = [], trailer?: (dataAt: number) => Promise<Uint8Array>): Promise<{ digest: string; dataAt: number }> {
  await writeEntryHeader(out, header)
  const dataAt = out.bytes
  const hasher = new Bun.CryptoHasher('sha256')
  let at = 0
  const write = async (bytes: Uint8Array) => {
    hasher.update(bytes)
    const wait = out.write(bytes)
    if (wait) await wait
    at += bytes.length
  }
  let next = 0
  const due = async () => {
    while (next < marks.length && marks[next]!.at <= at) await marks[next++]!.mark()
  }
  for (const block of spool.blocks()) {
    for (let from = 0; from < block.length; ) {
      await due()
      const upTo = next < marks.length ? Math.min(block.length, from + marks[next]!.at - at) : block.length
      await write(block.subarray(from, upTo))
      from = upTo
    }
  }
  await due()
  if (trailer) await write(await trailer(dataAt))
  const pad = (512 - (at % 512)) % 512
  const wait = out.zeros(pad)
  if (wait) await wait
  return { digest: hasher.digest('hex'), dataAt }
}

/** Each molt's compressed, tar and list ranges, from where it and the next part start (the last start is the tail's). */
function moltRanges(starts: Start[], compressor: ParallelCompressor): MoltRange[] {
  const ranges: MoltRange[] = []
  for (let i = 0; i + 1 < starts.length; i++) {
    const [start, next] = [starts[i]!, starts[i + 1]!]
    const offset = compressor.offsetOf(start.chunk)
    ranges.push({
      molt: start.molt,
      offset,
      tar_offset: start.tar,
      length: compressor.offsetOf(next.chunk) - offset,
      tar_length: next.tar - start.tar,
      lists: { index_offset: start.index, index_length: next.index - start.index, sums_offset: start.sums, sums_length: next.sums - start.sums, files: next.files - start.files, bytes: next.bytes - start.bytes },
      chunks: null,
    })
  }
  return ranges
}
