import { parseChecksumLine } from './checksums.ts'
import type { Compression } from './compress.ts'
import { CHECKSUMS_MEMBER, INDEX_MEMBER, normalizeMemberName } from './layout.ts'
import type { Manifest } from './manifest.ts'
import { ArchiveReadError } from './read.ts'
import { readLocator } from './seek-index.ts'
import { inflateRange, LineSplitter } from './seek-read.ts'
import { identityOf, type StateEntry } from './state-file.ts'
import { Spool } from './spool.ts'
import { TarError, TarParser } from './tar-parse.ts'

/**
 * The parent's state.jsonl as `--incremental` reads it: in a spool file, not in memory. A map of
 * 40,000 paths to their identities held ~25 MB of strings (and reading it made as much garbage
 * again): most of what put an incremental backup over its RSS budget. Instead, both sides are
 * read in one pass, as a merge: the plan and every state.jsonl list a fleet in the same order —
 * molts by name, then each home depth-first with the names of a folder sorted (collect.ts) — so
 * the entry a planned file is compared with is always the parent's next one.
 *
 * That order is checked as the parent is read: a state.jsonl out of it (another writer, a file
 * edited by hand) makes the archive no parent, and the backup a full one, never a wrong cut.
 *
 * The digests: state.jsonl has those of the files the parent left to its chain; those of the
 * files it holds are in its checksums.sha256, the last member, which the molt index's locator
 * lets us inflate alone (seek-index.ts: a few MB, not the archive). Both lists are in walk order,
 * so they are joined as a merge too (withChecksums). A file its state lists as held but its
 * checksum list does not (not archived whole: incremental.ts) keeps no digest, and is stored
 * again. A parent without a locator (older, foreign, recompressed) gives no digests for what it
 * holds: it is no parent (incremental.ts).
 *
 * Records (spool.ts, latin1): molt \0 path \0 identity \0 held (1|0) \0 sha256 (hex, '' unknown)
 */
export interface ParentEntry {
  molt: string
  rel: string
  /** identityOf: kind, size, mode, mtime, ctime, inode */
  identity: string
  kind: string
  size: number
  held: boolean
  /** the file's content digest when the state records it (hex), else '' */
  sha256: string
}

export class ParentState {
  #spool: Spool
  readonly #dir: string
  #last: { molt: string; rel: string } | null = null
  /** entries read */
  count = 0
  /** members its checksum list notes as damaged (a read failed part-way: zeros in them), by name */
  damaged: string[] = []

  constructor(dir: string) {
    this.#dir = dir
    this.#spool = new Spool(dir)
  }

  /** Add the parent's next entry; throws when it is not after the one before it in walk order. */
  add(e: StateEntry): void {
    if (this.#last && compareEntries(this.#last.molt, this.#last.rel, e.molt, e.rel) >= 0) {
      throw new Error(`its state.jsonl is not in walk order at ${JSON.stringify(`${e.molt}/${e.rel}`)}`)
    }
    this.#last = { molt: e.molt, rel: e.rel }
    this.#spool.record(`${e.molt}\0${e.rel}\0${identityOf(e)}\0${e.held ? 1 : 0}\0${e.sha256}`)
    this.count++
  }

  *entries(): Generator<ParentEntry> {
    for (const [text] of this.#spool.records()) {
      const a = text.indexOf('\0')
      const b = text.indexOf('\0', a + 1)
      const c = text.indexOf('\0', b + 1)
      const identity = text.slice(b + 1, c)
      const colon = identity.indexOf(':')
      yield { molt: text.slice(0, a), rel: text.slice(a + 1, b), identity, kind: identity.slice(0, colon), size: Number(identity.slice(colon + 1, identity.indexOf(':', colon + 1))), held: text[c + 1] === '1', sha256: text.slice(c + 3) }
    }
  }

  /**
   * The digests of the files the parent holds, from its checksums.sha256: returns how many were
   * found, or why none could be (then the state stays as it was). Sum lines are in archive order,
   * which is walk order for planned files; what is not a planned file of a molt (global files,
   * index.jsonl, a message that appeared during the backup) matches no entry and is passed over.
   */
  async withChecksums(path: string, compression: Compression, manifest: Manifest): Promise<number | string> {
    let found: ReturnType<typeof readLocator>
    try {
      found = readLocator(path, compression)
    } catch (error) {
      return (error as Error).message
    }
    if (!found) return 'it has no molt index'
    const molts = new Set(manifest.molts.map((m) => m.name))
    molts.delete(manifest.layout.global)
    const out = new Spool(this.#dir)
    const records = this.#spool.records()
    let next = records.next()
    let matched = 0
    /** copy entries up to (molt, rel); the one at it gets the digest */
    const sum = (molt: string, rel: string, digest: string) => {
      for (; !next.done; next = records.next()) {
        const text = next.value[0]
        const a = text.indexOf('\0')
        const b = text.indexOf('\0', a + 1)
        const order = compareEntries(text.slice(0, a), text.slice(a + 1, b), molt, rel)
        if (order > 0) return
        if (order === 0 && text.endsWith('\x001\0')) {
          out.record(text + digest)
          matched++
        } else out.record(text)
      }
    }
    const onLine = (line: string) => {
      const parsed = parseChecksumLine(line)
      if (parsed.kind === 'note' && parsed.note.damaged === true) this.damaged.push(parsed.note.path)
      if (parsed.kind !== 'sum') return
      const slash = parsed.name.indexOf('/')
      if (slash > 0 && molts.has(parsed.name.slice(0, slash))) sum(parsed.name.slice(0, slash), parsed.name.slice(slash + 1), parsed.digest)
    }
    const lines = new LineSplitter()
    let member: string | null = null
    const parser = new TarParser({
      entry(e) {
        member = normalizeMemberName(e.name)
        if (member !== INDEX_MEMBER && member !== CHECKSUMS_MEMBER) throw new ArchiveReadError(`${member} in its tail`, 'format')
      },
      data(chunk) {
        if (member === CHECKSUMS_MEMBER) lines.push(chunk, onLine)
      },
      entryEnd() {
        if (member === CHECKSUMS_MEMBER) lines.end(onLine)
      },
    })
    const { locator, fileSize } = found
    try {
      for await (const chunk of inflateRange(path, compression, locator.tailOffset, fileSize - (compression === 'gzip' ? 8 : 0), locator.tarSize - locator.tailTarOffset, 'the tail')) parser.push(chunk)
      parser.end()
    } catch (error) {
      out.close()
      if (error instanceof ArchiveReadError || error instanceof TarError) return error.message
      throw error
    }
    for (; !next.done; next = records.next()) out.record(next.value[0])
    this.#spool.close()
    this.#spool = out
    return matched
  }

  close(): void {
    this.#spool.close()
  }
}

/**
 * Walk order of two entries: molt names, then paths component by component (a folder before what
 * it holds, names compared as strings of their bytes, as collect.ts sorts them). '/' sorts before
 * every other character: `a/b` comes before `a-b`, as folder `a` comes before name `a-b`.
 */
export function compareEntries(moltA: string, relA: string, moltB: string, relB: string): number {
  if (moltA !== moltB) return moltA < moltB ? -1 : 1
  return comparePaths(relA, relB)
}

export function comparePaths(a: string, b: string): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i)
    const y = b.charCodeAt(i)
    if (x === y) continue
    if (x === 0x2f) return -1
    if (y === 0x2f) return 1
    return x < y ? -1 : 1
  }
  return a.length - b.length
}
