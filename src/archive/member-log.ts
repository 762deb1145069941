import { Spool } from './spool.ts'

/**
 * What verify and restore remember of every member while the archive streams: what checksums.sha256
 * and index.jsonl (the last members) are checked against, and what later members are judged
 * against (duplicates, paths through a file, hard-link targets). It goes to a scratch file in
 * archive order, not into memory: at 400,000 members, maps of names, digests and headers held
 * ~500 MB; what stays in memory is NameTable's 12 bytes a slot.
 *
 * Records (spool.ts records, byte strings):
 *
 *   M<h|->key\0name\0header   a member: its key (NameTable's), its name when that is not its key,
 *                             what its header says (encodeHeader) when index.jsonl is checked
 *   D<size>\0<digest>         right after its M: the member is a file (or a hard link to one) of
 *                             `size` bytes; its sha256 as 32 latin1 chars, '' when not hashed
 */
export interface LoggedMember {
  /** where its record starts: archive order */
  offset: number
  key: string
  name: string
  header: string | null
  file: LoggedFile | null
}

export interface LoggedFile {
  size: number
  /** sha256 as 32 latin1 characters; '' when not hashed (legacy archives) */
  digest: string
}

export class MemberLog {
  readonly #spool: Spool
  /** members logged */
  count = 0

  constructor(dir: string) {
    this.#spool = new Spool(dir)
  }

  /** Log a member; returns its offset. `name` is its member name, `key` what NameTable knows it by. */
  member(key: string, name: string, header: string | null): number {
    this.count++
    return this.#spool.record(`M${header === null ? '-' : 'h'}${key}\0${name === key ? '' : name}\0${header ?? ''}`)
  }

  /** The member logged last is a file. */
  file(size: number, digest: string): void {
    this.#spool.record(`D${size}\0${digest}`)
  }

  /** The key and name of the member at `offset`. */
  memberAt(offset: number): { key: string; name: string } {
    const text = this.#spool.recordAt(offset)
    const keyEnd = text.indexOf('\0', 2)
    const nameEnd = text.indexOf('\0', keyEnd + 1)
    const key = text.slice(2, keyEnd)
    return { key, name: nameEnd === keyEnd + 1 ? key : text.slice(keyEnd + 1, nameEnd) }
  }

  /** The file facts of the member at `offset`, or null when it has none. */
  fileAt(offset: number): LoggedFile | null {
    const next = offset + 4 + this.#spool.recordAt(offset).length
    if (next >= this.#spool.size) return null
    const text = this.#spool.recordAt(next)
    return text.startsWith('D') ? parseFile(text) : null
  }

  /** Every member in archive order, with its file facts. */
  *members(): Generator<LoggedMember> {
    let last: LoggedMember | null = null
    for (const [text, offset] of this.#spool.records()) {
      if (text.startsWith('D')) {
        if (last) last.file = parseFile(text)
        continue
      }
      if (last) yield last
      const keyEnd = text.indexOf('\0', 2)
      const nameEnd = text.indexOf('\0', keyEnd + 1)
      const key = text.slice(2, keyEnd)
      last = { offset, key, name: nameEnd === keyEnd + 1 ? key : text.slice(keyEnd + 1, nameEnd), header: text[1] === 'h' ? text.slice(nameEnd + 1) : null, file: null }
    }
    if (last) yield last
  }

  close(): void {
    this.#spool.close()
  }
}

function parseFile(text: string): LoggedFile {
  const end = text.indexOf('\0')
  return { size: Number(text.slice(1, end)), digest: text.slice(end + 1) }
}

/**
 * Member keys → their log offset and whether the member is a file, in typed arrays: an open-
 * addressing table of 32-bit hashes. A hash that matches is confirmed against the key in the log
 * (one read; hashes of different keys match a few dozen times in 400,000), so answers are exact.
 * The hash is seeded per run: nobody can pick names that pile up in one place.
 */
const EMPTY = 0
const MAX_LOAD = 0.7

export class NameTable {
  #hashes = new Uint32Array(1024)
  /** (offset + 1) * 2 + (file ? 1 : 0); EMPTY for a free slot */
  #values = new Float64Array(1024)
  #count = 0

  /** `seed`: tests pick one to make keys whose hashes match */
  constructor(
    readonly log: MemberLog,
    readonly seed = (Math.random() * 2 ** 32) >>> 0,
  ) {}

  #hash(key: string): number {
    return Bun.hash.murmur32v3(key, this.seed)
  }

  #find(key: string, fileOnly: boolean): number {
    const mask = this.#hashes.length - 1
    const hash = this.#hash(key)
    for (let slot = hash & mask; this.#values[slot] !== EMPTY; slot = (slot + 1) & mask) {
      if (this.#hashes[slot] !== hash) continue
      const value = this.#values[slot]!
      if (fileOnly && value % 2 === 0) continue
      if (this.log.memberAt(Math.floor(value / 2) - 1).key === key) return slot
    }
    return -1
  }

  /** The log offset of the member known by `key`, or null. */
  get(key: string): number | null {
    const slot = this.#find(key, false)
    return slot < 0 ? null : Math.floor(this.#values[slot]! / 2) - 1
  }

  /** The log offset of the file known by `key` (see markFile), or null. */
  getFile(key: string): number | null {
    const slot = this.#find(key, true)
    return slot < 0 ? null : Math.floor(this.#values[slot]! / 2) - 1
  }

  /** Add a key that get() does not know; returns its slot, for markFile. */
  add(key: string, offset: number): number {
    if (this.#count + 1 > this.#hashes.length * MAX_LOAD) this.#grow()
    this.#count++
    return this.#put(this.#hash(key), (offset + 1) * 2)
  }

  /** The member added at `slot` (the last one added) is a file: getFile finds it. */
  markFile(slot: number): void {
    if (this.#values[slot]! % 2 === 0) this.#values[slot] = this.#values[slot]! + 1
  }

  #put(hash: number, value: number): number {
    const mask = this.#hashes.length - 1
    let slot = hash & mask
    while (this.#values[slot] !== EMPTY) slot = (slot + 1) & mask
    this.#hashes[slot] = hash
    this.#values[slot] = value
    return slot
  }

  #grow(): void {
    const hashes = this.#hashes
    const values = this.#values
    this.#hashes = new Uint32Array(hashes.length * 2)
    this.#values = new Float64Array(values.length * 2)
    for (let slot = 0; slot < hashes.length; slot++) if (values[slot] !== EMPTY) this.#put(hashes[slot]!, values[slot]!)
  }
}
