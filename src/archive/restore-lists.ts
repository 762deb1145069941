import { shownName } from './byte-names.ts'
import type { BackupNote, TrailerEnd } from './checksums.ts'
import type { IndexType } from './index-file.ts'
import { CHECKSUMS_MEMBER } from './layout.ts'
import { IndexReader, SAME, SumReader } from './list-readers.ts'
import type { MemberLog } from './member-log.ts'
import type { Scoped } from './restore-extract.ts'
import { decodeHeader, headerDifferences, type IndexFacts } from './restore-index.ts'
import { Spool } from './spool.ts'

/**
 * The members of an archive (the member log) against checksums.sha256 and index.jsonl, in memory
 * that does not grow with the archive, whatever the order of the lists. Ours list in archive
 * order, so the lists are first walked alongside the log (inOrder); a re-tar or another tool's
 * archive need not, and at the first name out of place the comparison starts again in buckets
 * (inBuckets). Either way problems come back sorted by list line, then archive order, as one
 * comparison of everything in memory would give them. Checksum lines of molts and components not
 * being checked are read for their syntax only.
 */
const BUCKET = 16384
const MAX_BUCKETS = 256
/** fewest bytes a list line takes: the bucket count is judged on what a list could hold */
const SUM_LINE = 68
const INDEX_LINE = 80
const GC_EVERY = 5000

export interface ListsInput {
  log: MemberLog
  checksums: Spool
  /** index.jsonl (format 3), or null: no index to compare */
  index: Spool | null
  /** checksum lines about these names are compared (the molts and components restored) */
  relevant(name: string): boolean
  scopeOf(name: string): string | null
  /** index lines of other molts are not compared */
  checked: ReadonlySet<string>
  /** only these parts of the lists hold lines about what is checked (a one-molt read through the molt index): the rest is not read */
  regions?: ListRegions | null
  /** the lists have holes where the lines of other molts were (list chunks): lines are named by their offset */
  holes?: boolean
  scratchDir: string
  /** names a bucket holds (tests: small, to compare in many buckets) */
  bucket?: number
}

/**
 * Byte ranges [from, to) of index.jsonl and checksums.sha256 to read, in order: the archive's own
 * lines and those of the molts read, where the molt index places them (seek-index.ts). A line of a
 * checked molt outside them is never compared, so its member is "not in" the list: a molt index
 * that lies refuses, it never lets a member through unchecked.
 */
export interface ListRegions {
  index: ByteRange[]
  sums: ByteRange[]
}
export type ByteRange = [from: number, to: number]

export interface ListsResult {
  /** checksums.sha256: its bad lines, duplicates, mismatches and names missing from the archive */
  sums: Scoped[]
  /** files of the archive it does not list */
  unlisted: Scoped[]
  /** index.jsonl: its bad lines, duplicates, differing headers, and members it does not list */
  index: Scoped[]
  /** sha256 sums that matched */
  verified: number
  notes: BackupNote[]
  end: TrailerEnd | null
}

/** One thing to pair by name: a member (`at` its log offset) or a list line (`at` its line number). */
type Item = Member | Sum | Indexed
type Member = { from: 'archive'; at: number; name: string; digest: string | null; header: string | null }
export type Sum = { from: 'sums'; at: number; name: string; digest: string }
export type Indexed = { from: 'index'; at: number; name: string; facts: IndexFacts }

export type Ordered = { at: number; problem: Scoped }

/** What a comparison finds, before sorting. */
export class Findings {
  sums: Ordered[] = []
  unlisted: Ordered[] = []
  indexLines: Ordered[] = []
  indexUnlisted: Ordered[] = []
  verified = 0
  notes: BackupNote[] = []
  end: TrailerEnd | null = null
}

export function compareLists(input: ListsInput): ListsResult {
  // ours list in archive order: one pass, nothing held; any other order is compared in buckets
  const found = inOrder(input) ?? inBuckets(input)
  const sorted = (list: Ordered[]) => list.sort((a, b) => a.at - b.at).map((o) => o.problem)
  return { sums: sorted(found.sums), unlisted: sorted(found.unlisted), index: [...sorted(found.indexLines), ...sorted(found.indexUnlisted)], verified: found.verified, notes: found.notes, end: found.end }
}

/**
 * The lists walked alongside the member log: the next member with a digest is the next relevant
 * checksum line, the next member with a header the next index line. Null as soon as a name is not
 * where it should be (or is left over): the lists are not in archive order.
 */
function inOrder(input: ListsInput): Findings | null {
  const found = new Findings()
  const sums = new SumReader(input, found)
  const index = input.index ? new IndexReader(input, found) : null
  let n = 0
  for (const m of input.log.members()) {
    // a line that needs parsing leaves ~3 KB of garbage, faster than the collector notices (60 MB in 20,000):
    // a quick collection keeps up; a full one every 5,000 cost ~0.15 s of a 39,000-file restore
    if (++n % GC_EVERY === 0) Bun.gc(false)
    if (m.file?.digest) {
      const sum = sums.next(m.name, m.file.digest)
      if (sum === null || (sum !== SAME && sum.name !== m.name)) return null
      if (sum === SAME) found.verified++
      else judgeSum(input, found, m.file.digest, sum)
    }
    if (m.header !== null && index) {
      const line = index.next(m.name, m.header)
      if (line === null || (line !== SAME && line.name !== m.name)) return null
      if (line !== SAME) judgeIndex(found, m.header, line)
    }
  }
  if (sums.next() !== null || (index && index.next() !== null)) return null
  return found
}

/**
 * The log and the lists split by a hash of the name into spooled buckets, each compared in memory
 * on its own (a "grace hash join"): memory follows the bucket size, not the archive.
 */
function inBuckets(input: ListsInput): Findings {
  const found = new Findings()
  const items = function* (): Generator<Item> {
    yield* memberItems(input.log)
    const sums = new SumReader(input, found)
    for (let sum = sums.next(); sum !== null; sum = sums.next()) if (sum !== SAME) yield sum
    if (input.index) {
      const reader = new IndexReader(input, found)
      for (let line = reader.next(); line !== null; line = reader.next()) if (line !== SAME) yield line
    }
  }
  const names = Math.max(input.log.count, input.checksums.size / SUM_LINE, (input.index?.size ?? 0) / INDEX_LINE)
  const count = Math.min(MAX_BUCKETS, Math.ceil(names / (input.bucket ?? BUCKET)))
  if (count <= 1) {
    compareBucket(input, found, items())
    return found
  }
  const seed = (Math.random() * 2 ** 32) >>> 0
  const buckets = Array.from({ length: count }, () => new Spool(input.scratchDir, 32 << 10))
  try {
    let n = 0
    for (const item of items()) {
      buckets[Bun.hash.murmur32v3(item.name, seed) % count]!.record(encodeItem(item))
      if (++n % GC_EVERY === 0) Bun.gc(true)
    }
    for (const bucket of buckets) {
      compareBucket(input, found, decodeItems(bucket))
      bucket.close()
      // a bucket's maps are garbage now; collected before the next one fills its own
      Bun.gc(true)
    }
  } finally {
    for (const bucket of buckets) bucket.close()
  }
  return found
}

/** One bucket: its members first, then its checksum lines, then its index lines. */
function compareBucket(input: ListsInput, found: Findings, bucket: Iterable<Item>): void {
  const members = new Map<string, { at: number; digest: string | null; header: string | null; summed: boolean; indexed: boolean }>()
  const summed = new Set<string>()
  const absent = new Set<string>()
  for (const item of bucket) {
    if (item.from === 'archive') {
      // a name twice (refused at its second member): the later digest and header count, as in a map
      const m = members.get(item.name)
      if (!m) members.set(item.name, { at: item.at, digest: item.digest, header: item.header, summed: false, indexed: false })
      else {
        m.digest = item.digest ?? m.digest
        m.header = item.header ?? m.header
      }
    } else if (item.from === 'sums') {
      const m = members.get(item.name)
      if (summed.has(item.name)) found.sums.push({ at: item.at, problem: { molt: null, text: `${CHECKSUMS_MEMBER}: ${shownName(item.name)} listed twice` } })
      else if (!m?.digest) found.sums.push({ at: item.at, problem: { molt: input.scopeOf(item.name), text: `${shownName(item.name)}: listed in ${CHECKSUMS_MEMBER} but missing from the archive` } })
      else {
        m.summed = true
        judgeSum(input, found, m.digest, item)
      }
      summed.add(item.name)
    } else {
      const m = members.get(item.name)
      const scope = item.facts.molt
      if (m?.indexed || absent.has(item.name)) found.indexLines.push({ at: item.at, problem: { molt: scope, text: `index.jsonl: ${shownName(item.name)} listed twice` } })
      else if (!m?.header) {
        absent.add(item.name)
        found.indexLines.push({ at: item.at, problem: { molt: scope, text: `${shownName(item.name)}: in index.jsonl but not in the archive` } })
      } else {
        m.indexed = true
        judgeIndex(found, m.header, item)
      }
    }
  }
  for (const [name, m] of members) {
    if (m.digest && !m.summed) found.unlisted.push({ at: m.at, problem: { molt: input.scopeOf(name), text: `${shownName(name)}: not in ${CHECKSUMS_MEMBER}` } })
    if (input.index && m.header && !m.indexed) found.indexUnlisted.push({ at: m.at, problem: { molt: decodeHeader(m.header).molt, text: `${shownName(name)}: not in index.jsonl` } })
  }
}

function judgeSum(input: ListsInput, found: Findings, digest: string, sum: Sum): void {
  if (digest === sum.digest) found.verified++
  else found.sums.push({ at: sum.at, problem: { molt: input.scopeOf(sum.name), text: `${shownName(sum.name)}: sha256 mismatch (its content is not what was backed up)` } })
}

function judgeIndex(found: Findings, header: string, line: Indexed): void {
  const differ = headerDifferences(decodeHeader(header), line.facts)
  if (differ.length) found.indexLines.push({ at: line.at, problem: { molt: line.facts.molt, text: `${shownName(line.name)}: its header is not what index.jsonl says (${differ.join(', ')})` } })
}

/** The members with a digest or a header, in archive order. */
function* memberItems(log: MemberLog): Generator<Member> {
  for (const m of log.members()) {
    const digest = m.file?.digest || null
    if (digest !== null || m.header !== null) yield { from: 'archive', at: m.offset, name: m.name, digest, header: m.header }
  }
}

/**
 * An item as a spool record. Digests are 32 chars of any byte, so they sit at fixed places; member
 * names hold no NUL (refused); what else may hold one comes last or after its length.
 */
function encodeItem(item: Item): string {
  if (item.from === 'archive') return `A${item.digest ?? ''.padEnd(32)}${item.digest === null ? '-' : 'd'}${item.header === null ? '-' : 'h'}${item.at}\0${item.name}\0${item.header ?? ''}`
  if (item.from === 'sums') return `S${item.digest}${item.at}\0${item.name}`
  const f = item.facts
  return `I${item.at}\0${item.name.length}\0${item.name}${[f.type, f.mode, f.size, f.mtime, f.molt ?? '', f.link === null ? '-' : `+${f.link}`].join('\0')}`
}

function* decodeItems(spool: Spool): Generator<Item> {
  for (const [text] of spool.records()) {
    if (text[0] === 'A') {
      const atEnd = text.indexOf('\0', 35)
      const nameEnd = text.indexOf('\0', atEnd + 1)
      yield { from: 'archive', digest: text[33] === 'd' ? text.slice(1, 33) : null, header: text[34] === 'h' ? text.slice(nameEnd + 1) : null, at: Number(text.slice(35, atEnd)), name: text.slice(atEnd + 1, nameEnd) }
    } else if (text[0] === 'S') {
      const atEnd = text.indexOf('\0', 33)
      yield { from: 'sums', digest: text.slice(1, 33), at: Number(text.slice(33, atEnd)), name: text.slice(atEnd + 1) }
    } else {
      const atEnd = text.indexOf('\0')
      const lengthEnd = text.indexOf('\0', atEnd + 1)
      const nameEnd = lengthEnd + 1 + Number(text.slice(atEnd + 1, lengthEnd))
      const [type, mode, size, mtime, molt] = text.slice(nameEnd).split('\0', 5) as [IndexType, string, string, string, string]
      let linkAt = nameEnd
      for (let n = 0; n < 5; n++) linkAt = text.indexOf('\0', linkAt) + 1
      const link = text.slice(linkAt)
      yield { from: 'index', at: Number(text.slice(1, atEnd)), name: text.slice(lengthEnd + 1, nameEnd), facts: { type, mode, size: Number(size), mtime, molt: molt === '' ? null : molt, link: link === '-' ? null : link.slice(1) } }
    }
  }
}
