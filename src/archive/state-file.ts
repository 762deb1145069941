import type { z } from 'zod'
import { lazySchema } from '../lib/schema.ts'

/**
 * state.jsonl (format 4), the member right after manifest.json: what every molt held when the
 * backup was planned — every folder, symlink and file the archive speaks for, with what
 * `--incremental` compares next time (size, mode, mtime, ctime, inode). It sits at the front so
 * the next incremental backup reads only the head of its parent (a few MB inflated, not the
 * whole archive).
 *
 * One JSON array per line, molts in archive order, names as latin1 text of their bytes (JSON
 * carries them unchanged, as in the plan):
 *
 *   ["alpha","Maildir/cur/1:2,S","f",812,"0600","1764921600.123456789","1764921600.123456789",4711,0,"9f86…"]
 *
 * molt, path in the home, kind (f file, d folder, l symlink), size, mode, mtime, ctime, inode,
 * held: 1 when this archive holds the entry (planned to: a file it holds whole is one its
 * checksums.sha256 lists, and the next --incremental trusts no more), 0 when an earlier archive
 * of its chain does (a file whose content is unchanged since the parent: `restore --from` takes
 * it from the newest archive of the chain that holds it, then gives it the mode and mtime of
 * this line), and the sha256 of the file's content when held is 0 ("" otherwise: a held file's
 * digest is in checksums.sha256, written after the content, and this list comes before it). With
 * that digest the next backup can confirm a file whose metadata changed is still the same content
 * (incremental.ts) however long the chain has carried it. Folders and symlinks are always held:
 * every archive has the full tree. Lines of 9 fields (no digest) are of archives made before it
 * was recorded.
 */
export const STATE_MEMBER = 'state.jsonl'

export type StateKind = 'f' | 'd' | 'l'

export const stateLineSchema = lazySchema((z) =>
  z.tuple([
    z.string().min(1),
    z.string(),
    z.enum(['f', 'd', 'l']),
    z.number().int().min(0),
    z.string().regex(/^0[0-7]{3,4}$/),
    z.string().regex(/^-?\d+\.\d{9}$/),
    z.string().regex(/^-?\d+\.\d{9}$/),
    z.number().int().min(0),
    z.union([z.literal(0), z.literal(1)]),
    z.string().regex(/^([0-9a-f]{64})?$/).optional(),
  ]),
)

export type StateLine = z.infer<ReturnType<typeof stateLineSchema>>

export interface StateEntry {
  molt: string
  rel: string
  kind: StateKind
  size: number
  mode: number
  mtime: string
  ctime: string
  ino: number
  held: boolean
  /** hex sha256 of the content of a file the archive does not hold; '' when not recorded */
  sha256: string
}

/** "1764921600.123456789" from seconds and nanoseconds, or from a nanosecond count */
export function nsText(sec: number | bigint, nsec?: number): string {
  if (nsec === undefined) {
    const ns = BigInt(sec)
    const neg = ns < 0n
    const abs = neg ? -ns : ns
    return `${neg ? '-' : ''}${abs / 1_000_000_000n}.${String(abs % 1_000_000_000n).padStart(9, '0')}`
  }
  return `${sec}.${String(nsec).padStart(9, '0')}`
}

export function stateLine(e: StateEntry): string {
  return `${JSON.stringify([e.molt, e.rel, e.kind, e.size, `0${(e.mode & 0o7777).toString(8).padStart(3, '0')}`, e.mtime, e.ctime, e.ino, e.held ? 1 : 0, e.sha256])}\n`
}

const MODE = /^0[0-7]{3,4}$/
const TIME = /^-?\d+\.\d{9}$/
const KINDS = new Set(['f', 'd', 'l'])
const SHA256 = /^([0-9a-f]{64})?$/

/** The schema's rules, checked by hand: zod costs ~80 µs a line, 3 s for a 40,000-file fleet (30× JSON.parse). */
function looksValid(raw: unknown): raw is StateLine {
  if (!Array.isArray(raw) || raw.length < 9 || raw.length > 10) return false
  const [molt, rel, kind, size, mode, mtime, ctime, ino, held, sha256] = raw
  if (raw.length === 10 && !(typeof sha256 === 'string' && SHA256.test(sha256))) return false
  return typeof molt === 'string' && molt !== '' && typeof rel === 'string' && KINDS.has(kind) && Number.isSafeInteger(size) && size >= 0 && typeof mode === 'string' && MODE.test(mode) && typeof mtime === 'string' && TIME.test(mtime) && typeof ctime === 'string' && TIME.test(ctime) && Number.isSafeInteger(ino) && ino >= 0 && (held === 0 || held === 1)
}

/** One line: the entry, or why it does not parse (the schema says why). */
export function parseStateLine(row: string): StateEntry | string {
  let raw: unknown
  try {
    raw = JSON.parse(row)
  } catch {
    return 'not JSON'
  }
  if (!looksValid(raw)) {
    const parsed = stateLineSchema().safeParse(raw)
    return parsed.success ? 'not a state line' : `${parsed.error.issues[0]!.path.join('.') || 'line'}: ${parsed.error.issues[0]!.message}`
  }
  const [molt, rel, kind, size, mode, mtime, ctime, ino, held, sha256] = raw
  return { molt, rel, kind, size, mode: Number.parseInt(mode, 8), mtime, ctime, ino, held: held === 1, sha256: sha256 ?? '' }
}

/** What must match for a file to count as unchanged (kind, size, mode, mtime, ctime, inode). */
export function identityOf(e: Pick<StateEntry, 'kind' | 'size' | 'mode' | 'mtime' | 'ctime' | 'ino'>): string {
  return `${e.kind}:${e.size}:${e.mode & 0o7777}:${e.mtime}:${e.ctime}:${e.ino}`
}

/** The map key of an entry: molt, NUL, path. */
export function stateKey(molt: string, rel: string): string {
  return `${molt}\0${rel}`
}
