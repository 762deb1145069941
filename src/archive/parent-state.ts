import { collectNow } from './collect.ts'
import { Spool } from './spool.ts'
import { identityOf, type StateEntry } from './state-file.ts'

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
 * Records (spool.ts, latin1): molt \0 path \0 identity \0 held (1|0) \0 sha256 (hex, '' unknown)
 */
export interface ParentEntry {
  molt: string
  rel: string
  identity: string
  held: boolean
  /** the file's content digest when the state records it (hex), else '' */
  sha256: string
}

export class ParentState {
  readonly #spool: Spool
  #last: { molt: string; rel: string } | null = null
  /** entries read */
  count = 0

  constructor(dir: string) {
    this.#spool = new Spool(dir)
  }

  /** Add the parent's next entry; throws when it is not after the one before it in walk order. */
  add(e: StateEntry & { sha256?: string }): void {
    if (this.#last && compareEntries(this.#last.molt, this.#last.rel, e.molt, e.rel) >= 0) {
      throw new Error(`its state.jsonl is not in walk order at ${JSON.stringify(`${e.molt}/${e.rel}`)}`)
    }
    this.#last = { molt: e.molt, rel: e.rel }
    this.#spool.record(`${e.molt}\0${e.rel}\0${identityOf(e)}\0${e.held ? 1 : 0}\0${e.sha256 ?? ''}`)
    this.count++
    collectNow()
  }

  *entries(): Generator<ParentEntry> {
    for (const [text] of this.#spool.records()) {
      const a = text.indexOf('\0')
      const b = text.indexOf('\0', a + 1)
      const c = text.indexOf('\0', b + 1)
      yield { molt: text.slice(0, a), rel: text.slice(a + 1, b), identity: text.slice(b + 1, c), held: text[c + 1] === '1', sha256: text.slice(c + 3) }
    }
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
