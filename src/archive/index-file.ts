import type { z } from 'zod'
import { lazySchema } from '../lib/schema.ts'

/**
 * index.jsonl (archives of format "3"): the metadata of every member, so verify and restore can
 * tell a changed mode, size, mtime, type or link target in a member header, not only changed
 * content. It is the member just before checksums.sha256, which lists its sha256 too.
 *
 * One JSON object per line, one line per archived member in archive order (manifest.json first;
 * neither index.jsonl nor checksums.sha256 list themselves):
 *
 *   {"path":"alpha/Maildir/cur/1:2,S","type":"file","mode":"0600","size":812,"mtime":"1764921600.123456789","molt":"alpha"}
 *   {"path_b64":"YWxwaGEvY2Fm6Q==","type":"dir","mode":"0700","size":0,"mtime":"1764921600","molt":"alpha"}
 *   {"path":"alpha/.openclaw/link","type":"symlink","mode":"0777","size":0,"mtime":"1764921600","link":"workspace","molt":"alpha"}
 *   {"path":"alpha/vm.img","type":"file","mode":"0644","size":9663676416,"mtime":"1764921600","sparse":true,"molt":"alpha"}
 *
 * - `path`: the member's name as a reader reports it (pax `path` over the ustar name; for a sparse
 *   file GNU.sparse.name, not the GNUSparseFile.<pid>/ header name), without a trailing `/`.
 *   Names that are not valid UTF-8 are `path_b64`: the raw bytes in base64. Exactly one of the two.
 * - `mode`: the permission bits of the header as four octal digits.
 * - `size`: content bytes (for a sparse file its real size, holes included); 0 for anything else.
 * - `mtime`: exactly the pax `mtime` record written ("sec.frac"), or the ustar seconds in decimal
 *   when no pax record was needed.
 * - `link` / `link_b64`: symlink or hard link target, same rule as the path.
 * - `sparse`: present and true when the member is stored sparse (GNU pax format 1.0).
 * - `molt`: the molt the member belongs to; null for manifest.json and global/.
 */
export const INDEX_MEMBER = 'index.jsonl'

export type IndexType = 'file' | 'dir' | 'symlink' | 'hardlink'

export const indexLineSchema = lazySchema((z) =>
  z
    .strictObject({
      path: z.string().min(1).optional(),
      path_b64: z.base64().min(1).optional(),
      type: z.enum(['file', 'dir', 'symlink', 'hardlink']),
      mode: z.string().regex(/^0[0-7]{3,4}$/, 'mode must be octal, e.g. "0644"'),
      size: z.number().int().min(0),
      mtime: z.string().regex(/^-?\d+(\.\d{1,9})?$/, 'mtime must be decimal seconds'),
      link: z.string().optional(),
      link_b64: z.base64().optional(),
      sparse: z.literal(true).optional(),
      molt: z.string().nullable(),
    })
    .superRefine((line, ctx) => {
      if ((line.path === undefined) === (line.path_b64 === undefined)) ctx.addIssue({ code: 'custom', message: 'exactly one of path and path_b64' })
      if (line.link !== undefined && line.link_b64 !== undefined) ctx.addIssue({ code: 'custom', message: 'link and link_b64 together' })
      const linked = line.type === 'symlink' || line.type === 'hardlink'
      if (linked !== (line.link !== undefined || line.link_b64 !== undefined)) ctx.addIssue({ code: 'custom', message: `${line.type} ${linked ? 'without' : 'with'} a link target` })
      if (line.sparse && line.type !== 'file') ctx.addIssue({ code: 'custom', message: 'only files are sparse' })
      if (line.type !== 'file' && line.size !== 0) ctx.addIssue({ code: 'custom', message: `a ${line.type} has size 0` })
    }),
)

export type IndexLine = z.infer<ReturnType<typeof indexLineSchema>>

/** A member as the writer knows it; names as raw bytes when they are not UTF-8. */
export interface IndexEntry {
  path: string | Uint8Array
  type: IndexType
  mode: number
  size: number
  mtime: string
  link?: string | Uint8Array
  sparse?: boolean
  molt: string | null
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true })

/** Raw bytes as text when they are valid UTF-8, else null. */
export function utf8OrNull(bytes: Uint8Array): string | null {
  try {
    return strictUtf8.decode(bytes)
  } catch {
    return null
  }
}

function nameFields(key: 'path' | 'link', value: string | Uint8Array): Record<string, string> {
  if (typeof value === 'string') return { [key]: value }
  const text = utf8OrNull(value)
  return text !== null ? { [key]: text } : { [`${key}_b64`]: Buffer.from(value).toString('base64') }
}

/** "0644" */
export function octalMode(mode: number): string {
  return `0${(mode & 0o7777).toString(8).padStart(3, '0')}`
}

/** One line of index.jsonl, newline included; keys in the documented order. */
export function indexLine(entry: IndexEntry): string {
  const path = typeof entry.path === 'string' ? entry.path.replace(/\/+$/, '') : trimSlash(entry.path)
  const line: Record<string, unknown> = {
    ...nameFields('path', path),
    type: entry.type,
    mode: octalMode(entry.mode),
    size: entry.type === 'file' ? entry.size : 0,
    mtime: entry.mtime,
  }
  if (entry.link !== undefined) Object.assign(line, nameFields('link', entry.link))
  if (entry.sparse) line.sparse = true
  line.molt = entry.molt
  return `${JSON.stringify(line)}\n`
}

function trimSlash(bytes: Uint8Array): Uint8Array {
  let end = bytes.length
  while (end > 0 && bytes[end - 1] === 0x2f) end--
  return bytes.subarray(0, end)
}

/** The path of a line as raw bytes (what a tar header holds). */
export function indexPathBytes(line: IndexLine): Uint8Array {
  return line.path !== undefined ? new TextEncoder().encode(line.path) : new Uint8Array(Buffer.from(line.path_b64!, 'base64'))
}

/** The link target of a line as raw bytes, or null. */
export function indexLinkBytes(line: IndexLine): Uint8Array | null {
  if (line.link !== undefined) return new TextEncoder().encode(line.link)
  if (line.link_b64 !== undefined) return new Uint8Array(Buffer.from(line.link_b64, 'base64'))
  return null
}

/** A map key for a name given as text or bytes: the same key the other form gives (latin1 of the bytes). */
export function nameKey(name: string | Uint8Array): string {
  return Buffer.from(typeof name === 'string' ? new TextEncoder().encode(name) : name).toString('latin1')
}

export interface ParsedIndex {
  lines: IndexLine[]
  /** "line N: reason", one per line that does not parse */
  bad: string[]
}

/**
 * Parse index.jsonl text. Memory grows with the member count; a reader of big archives can use
 * `parseIndexLine` line by line instead.
 */
export function parseIndex(text: string): ParsedIndex {
  const out: ParsedIndex = { lines: [], bad: [] }
  const rows = text.split('\n')
  if (rows.at(-1) === '') rows.pop()
  for (const [i, row] of rows.entries()) {
    const parsed = parseIndexLine(row)
    if (typeof parsed === 'string') out.bad.push(`line ${i + 1}: ${parsed}`)
    else out.lines.push(parsed)
  }
  return out
}

/** One line (without its newline): the parsed line, or the reason it does not parse. */
export function parseIndexLine(row: string): IndexLine | string {
  let raw: unknown
  try {
    raw = JSON.parse(row)
  } catch {
    return 'not JSON'
  }
  return validIndexLine(raw)
}

/** A line already read as JSON: the parsed line, or the reason it is not one. */
export function validIndexLine(raw: unknown): IndexLine | string {
  const plain = plainIndexLine(raw)
  if (plain) return plain
  const result = indexLineSchema().safeParse(raw)
  if (result.success) return result.data
  const issue = result.error.issues[0]!
  return `${issue.path.length ? `${issue.path.join('.')}: ` : ''}${issue.message}`
}

const PLAIN_KEYS = new Set(['path', 'type', 'mode', 'size', 'mtime', 'link', 'molt'])
const MODE = /^0[0-7]{3,4}$/
const MTIME = /^-?\d+(\.\d{1,9})?$/

/**
 * The common line (a text path, no sparse flag) checked by hand, by the schema's own rules: a
 * restore reads one line per member, and the schema's first pass over 40,000 lines costs about a
 * second on a small host. Whatever this does not vouch for goes to the schema, which has the last
 * word (and the words of the error).
 */
function plainIndexLine(raw: unknown): IndexLine | null {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return null
  const r = raw as Record<string, unknown>
  for (const key in r) if (!PLAIN_KEYS.has(key)) return null
  const { path, type, mode, size, mtime, link, molt } = r
  if (typeof path !== 'string' || path.length === 0) return null
  if (type !== 'file' && type !== 'dir' && type !== 'symlink' && type !== 'hardlink') return null
  if (typeof mode !== 'string' || !MODE.test(mode) || typeof mtime !== 'string' || !MTIME.test(mtime)) return null
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0 || (type !== 'file' && size !== 0)) return null
  if (molt !== null && typeof molt !== 'string') return null
  const linked = type === 'symlink' || type === 'hardlink'
  if (linked ? typeof link !== 'string' : link !== undefined) return null
  return linked ? { path, type, mode, size, mtime, link: link as string, molt } : { path, type, mode, size, mtime, molt }
}
