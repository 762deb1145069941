import { checksumLine, parseChecksumLine } from './checksums.ts'
import { validIndexLine } from './index-file.ts'
import { CHECKSUMS_MEMBER } from './layout.ts'
import { decodeHeader, indexFacts, plainIndexLine, sameText, writtenIndexLine } from './restore-index.ts'
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
  readonly #lines: Generator<[Uint8Array, number]>
  readonly #lineOf: (at: number) => string

  constructor(
    readonly input: Pick<ListsInput, 'checksums' | 'regions' | 'relevant' | 'holes'>,
    readonly found: Findings,
  ) {
    this.#lines = placedLines(input.checksums, input.regions?.sums)
    this.#lineOf = lineNumbers(input.checksums, input.holes)
  }

  /** The next relevant line (SAME when it is what the backup writes for member `name` with sha256 `digest`), or null at the end. */
  next(name?: string, digest?: string): Sum | typeof SAME | null {
    let written: Buffer | undefined
    // not for…of: leaving it would close the lines
    for (let next = this.#lines.next(); !next.done; next = this.#lines.next()) {
      const [row, i] = next.value
      const bytes = Buffer.from(row.buffer, row.byteOffset, row.length)
      if (digest !== undefined) {
        const same = plainSumLine(bytes, digest, name!) ?? bytes.equals((written ??= Buffer.from(checksumLine(Buffer.from(digest, 'latin1').toString('hex'), name!).slice(0, -1), 'latin1')))
        if (same && this.input.relevant(name!)) return SAME
      }
      const line = parseChecksumLine(bytes.toString('latin1'))
      if (line.kind === 'sum') {
        if (this.input.relevant(line.name)) return { from: 'sums', at: i, name: line.name, digest: Buffer.from(line.digest, 'hex').toString('latin1') }
      } else if (line.kind === 'note') this.found.notes.push(line.note)
      else if (line.kind === 'end') this.found.end = line.end
      else if (line.kind === 'bad') this.found.sums.push({ at: i, problem: { molt: null, text: `${CHECKSUMS_MEMBER}: ${this.#lineOf(i)}: ${line.reason}` } })
    }
    return null
  }
}

const NEEDS_ESCAPE = /[\\\n\r]/

/**
 * Is `line` the checksum line a backup writes for `name` with sha256 `digest` (32 latin1
 * characters)? The line of nearly every member of an archive nobody touched. Null for a name sha256sum escapes (checksumLine builds that line).
 */
function plainSumLine(line: Buffer, digest: string, name: string): boolean | null {
  if (NEEDS_ESCAPE.test(name)) return null
  if (line.length !== 66 + name.length || line[64] !== 0x20 || line[65] !== 0x20) return false
  // three native calls, not a loop over ~100 characters (the interpreter's, in a short restore)
  return line.toString('latin1', 66) === name && line.toString('latin1', 0, 64) === Buffer.from(digest, 'latin1').toString('hex')
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
  readonly #lines: Generator<[Uint8Array, number]>
  readonly #lineOf: (at: number) => string
  readonly #decoder = new TextDecoder()

  constructor(
    readonly input: ListsInput,
    readonly found: Findings,
  ) {
    this.#lines = placedLines(input.index!, input.regions?.index)
    this.#lineOf = lineNumbers(input.index!, input.holes)
  }

  /** The next line (SAME when it is what the backup writes for member `name` with header `header`), or null at the end. */
  next(name?: string, header?: string): Indexed | typeof SAME | null {
    let plain: string | null | undefined
    let written: Uint8Array | null | undefined
    // not for…of: leaving it would close the lines
    for (let next = this.#lines.next(); !next.done; next = this.#lines.next()) {
      const [row, i] = next.value
      if (header !== undefined) {
        // built once a call: lines of molts not checked may come first
        plain = plain === undefined ? plainIndexLine(name!, header) : plain
        if (plain !== null) {
          if (sameText(row, plain)) return SAME
        } else {
          written ??= writtenIndexLine(name!, decodeHeader(header))
          if (written !== null && Buffer.from(row.buffer, row.byteOffset, row.length).equals(written)) return SAME
        }
      }
      let raw: unknown
      try {
        raw = JSON.parse(this.#decoder.decode(row))
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
 * A spool's lines (all, or those in `ranges`), each with the offset where it starts: it orders what
 * is found like a line number does, and lineNumbers() turns it into one for a message. Counting the
 * lines of the parts passed over at once cost a one-molt restore a read of both lists.
 */
function* placedLines(spool: Spool, ranges: readonly ByteRange[] | null | undefined): Generator<[Uint8Array, number]> {
  for (const [start, end] of ranges ?? [[0, spool.size] as ByteRange]) {
    // a region may end past the list (its size was not known when it was planned): the list ends it
    const [from, to] = [Math.min(start, spool.size), Math.min(end, spool.size)]
    let at = from
    for (const line of spool.lines(from, to)) {
      yield [line, at]
      at += line.length + 1
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
