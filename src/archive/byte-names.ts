import { join } from 'node:path'

/**
 * Member names as bytes. A tar name is a byte string: GNU tar, bsdtar and Python write Latin-1 or
 * any other bytes as they are (pax `hdrcharset=BINARY`). The reader keeps them as JS strings of one
 * char per byte ("binary" strings, Latin-1 decoded), so two distinct byte names stay distinct and
 * a file comes back under exactly the bytes it was archived with; the file system gets them as a
 * Buffer. Text meant for people (messages) goes through `shownName`.
 */
export function bytesOf(name: string): Buffer {
  return Buffer.from(name, 'latin1')
}

/** A byte string from raw bytes. */
export function byteName(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1')
}

/** The byte string of a name given as text (manifest, index, checksum lists): its UTF-8 bytes. */
export function byteNameOfText(text: string): string {
  return Buffer.from(text, 'utf8').toString('latin1')
}

const strict = new TextDecoder('utf-8', { fatal: true })

/** A name for messages: its UTF-8 text when it is valid UTF-8, else with `\xNN` for each odd byte. */
export function shownName(name: string): string {
  const bytes = bytesOf(name)
  try {
    return JSON.stringify(strict.decode(bytes))
  } catch {
    let out = ''
    for (const b of bytes) out += b >= 0x20 && b < 0x7f && b !== 0x5c && b !== 0x22 ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`
    return `"${out}"`
  }
}

let lastDir: string | null = null
let lastPrefix = ''
let lastPrefixBytes = Buffer.alloc(0)

/** `dir/rel` for the file system, `rel` being a byte name. */
export function pathIn(dir: string, rel: string): Buffer {
  if (rel === '') return Buffer.from(dir)
  // one call per file restored, mostly in the same home: its prefix is kept
  if (dir !== lastDir) {
    lastDir = dir
    lastPrefix = join(dir, '/')
    lastPrefixBytes = Buffer.from(lastPrefix)
  }
  // an ASCII prefix has the same bytes in UTF-8 and latin1: the whole path in one encoding
  if (lastPrefixBytes.length === lastPrefix.length) return Buffer.from(lastPrefix + rel, 'latin1')
  return Buffer.concat([lastPrefixBytes, bytesOf(rel)])
}
