import { checksumLine, parseChecksumLine } from './checksums.ts'
import { validIndexLine } from './index-file.ts'
import { CHECKSUMS_MEMBER } from './layout.ts'
import { byteName } from './byte-names.ts'
import { decodeHeader, indexFacts, plainIndexLine, writtenIndexLine } from './restore-index.ts'
import type { ByteRange, Findings, Indexed, ListsInput, Sum } from './restore-lists.ts'
import type { Spool } from './spool.ts'

/**
 * checksums.sha256 and index.jsonl read line by line for the comparison with the member log
 * (restore-lists.ts): only the lines about what is checked come out, problems of the others go to
 * the findings.
 */

/** SumReader.next and IndexReader.next: the line is byte for byte what the backup writes for the member expected next */
export const SAME = Symbol('same line')

/**
 * The checksum lines about what is being checked, one at a time (lines of other molts and
 * components are read for their syntax only); notes, the end line and unreadable lines go to
 * `found`. Walking alongside the member log, a line that is exactly what the backup writes for the
 * member expected next, with the sha256 its content has, is SAME: a match, nothing parsed.
 */
export class SumReader {
  readonly #lines: PlacedLines
  readonly #lineOf: (at: number) => string

  constructor(
    readonly input: Pick<ListsInput, 'checksums' | 'regions' | 'relevant' | 'holes'>,
    readonly found: Findings,
  ) {
    this.#lines = new PlacedLines(input.checksums, input.regions?.sums)
    this.#lineOf = lineNumbers(input.checksums, input.holes)
  }

  /** The next relevant line (SAME when it is what the backup writes for member `name` with sha256 `digest`), or null at the end. */
  next(name?: string, digest?: string): Sum | typeof SAME | null {
    let written: string | undefined
    for (let row = this.#lines.next(); row !== null; row = this.#lines.next()) {
      const i = this.#lines.at
      if (digest !== undefined) {
        written ??= checksumLine(Buffer.from(digest, 'latin1').toString('hex'), name!).slice(0, -1)
        if (row === written && this.input.relevant(name!)) return SAME
      }
      const line = parseChecksumLine(row)
      if (line.kind === 'sum') {
        if (this.input.relevant(line.name)) return { from: 'sums', at: i, name: line.name, digest: Buffer.from(line.digest, 'hex').toString('latin1') }
      } else if (line.kind === 'note') this.found.notes.push(line.note)
      else if (line.kind === 'end') this.found.end = line.end
      else if (line.kind === 'bad') this.found.sums.push({ at: i, problem: { molt: null, text: `${CHECKSUMS_MEMBER}: ${this.#lineOf(i)}: ${line.reason}` } })
    }
    return null
  }
}

/**
 * The index lines of the molts checked (and of the archive's own members), one at a time;
 * unreadable lines go to `found`. Walking alongside the member log, a line that is byte for byte
 * what a backup writes for the member expected next (writtenIndexLine) is that member's and says
 * what its header says: SAME, nothing parsed. Any other line is parsed; one of a molt not checked
 * is read for its JSON syntax only (the schema costs ~10× the JSON parse, and 39,000 lines of 19
 * other molts are most of what `restore --select` reads without a molt index).
 */
export class IndexReader {
  readonly #lines: PlacedLines
  readonly #lineOf: (at: number) => string
  readonly #decoder = new TextDecoder()

  constructor(
    readonly input: ListsInput,
    readonly found: Findings,
  ) {
    this.#lines = new PlacedLines(input.index!, input.regions?.index)
    this.#lineOf = lineNumbers(input.index!, input.holes)
  }

  /** The next line (SAME when it is what the backup writes for member `name` with header `header`), or null at the end. */
  next(name?: string, header?: string): Indexed | typeof SAME | null {
    let written: string | null | undefined
    for (let row = this.#lines.next(); row !== null; row = this.#lines.next()) {
      const i = this.#lines.at
      if (header !== undefined) {
        // built once a call (lines of molts not checked may come first); the line's bytes as latin1, like the row
        if (written === undefined) {
          written = plainIndexLine(name!, header)
          if (written === null) {
            const bytes = writtenIndexLine(name!, decodeHeader(header))
            written = bytes && byteName(bytes)
          }
        }
        if (row === written) return SAME
      }
      let raw: unknown
      try {
        raw = JSON.parse(this.#decoder.decode(Buffer.from(row, 'latin1')))
      } catch {
        this.found.indexLines.push({ at: i, problem: { molt: null, text: `index.jsonl: ${this.#lineOf(i)}: not JSON` } })
        continue
      }
      const { molt, path } = (raw ?? {}) as { molt?: unknown; path?: unknown }
      if (typeof molt === 'string' && !this.input.checked.has(molt)) continue
      // the archive's own members: those not read (state.jsonl, passed over by a one-molt read) are not compared
      if (molt === null && typeof path === 'string' && !this.input.relevant(path)) continue
      const line = validIndexLine(raw)
      if (typeof line === 'string') this.found.indexLines.push({ at: i, problem: { molt: null, text: `index.jsonl: ${this.#lineOf(i)}: ${line}` } })
      else return { from: 'index', at: i, ...indexFacts(line) }
    }
    return null
  }
}

/**
 * A spool's lines (all, or those in `ranges`), as latin1 strings (a byte a char), each with the
 * offset where it starts (`at`): it orders what is found like a line number does, and lineNumbers()
 * turns it into one for a message. Counting the lines of the parts passed over at once cost a
 * one-molt restore a read of both lists. Each block is decoded once and its lines are slices of it:
 * a line is compared with what the backup writes for its member as one string, nothing made per
 * line but the slice (a short restore runs this in the interpreter, ~2,000 lines a list).
 */
export class PlacedLines {
  /** where the line next() returned starts */
  at = 0
  readonly #ranges: ByteRange[]
  #range = 0
  #blocks: Iterator<Uint8Array> | null = null
  #text = ''
  #start = 0
  /** offset of #text's first char */
  #base = 0

  constructor(
    readonly spool: Spool,
    ranges: readonly ByteRange[] | null | undefined,
  ) {
    // a region may end past the list (its size was not known when it was planned): the list ends it
    this.#ranges = (ranges ?? [[0, spool.size] as ByteRange]).map(([start, end]) => [Math.min(start, spool.size), Math.min(end, spool.size)])
  }

  next(): string | null {
    for (;;) {
      const nl = this.#text.indexOf('\n', this.#start)
      if (nl >= 0) {
        this.at = this.#base + this.#start
        const line = this.#text.slice(this.#start, nl)
        this.#start = nl + 1
        return line
      }
      const block = this.#blocks?.next()
      if (block && !block.done) {
        this.#base += this.#start
        this.#text = this.#text.slice(this.#start) + Buffer.from(block.value.buffer, block.value.byteOffset, block.value.length).toString('latin1')
        this.#start = 0
        continue
      }
      // the region's end: its last line may lack a newline
      if (this.#blocks && this.#start < this.#text.length) {
        this.at = this.#base + this.#start
        const line = this.#text.slice(this.#start)
        this.#text = ''
        this.#start = 0
        return line
      }
      const range = this.#ranges[this.#range++]
      if (!range) return null
      this.#blocks = this.spool.blocks(range[0], range[1])
      this.#text = ''
      this.#start = 0
      this.#base = range[0]
    }
  }
}

/**
 * "line N" (from 1) for the line starting at an offset, as sha256sum or an editor names it; asked
 * in order, it counts each byte once. A list with holes (list chunks) has lines nobody counted: there
 * the line is named by its byte offset.
 */
function lineNumbers(spool: Spool, holes = false): (at: number) => string {
  if (holes) return (at) => `the line at byte ${at}`
  let counted = 0
  let lines = 0
  return (at) => {
    if (at < counted) [counted, lines] = [0, 0]
    lines += spool.newlines(counted, at)
    counted = at
    return `line ${lines + 1}`
  }
}
