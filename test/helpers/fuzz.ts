import { gzipSync } from 'node:zlib'

/**
 * Seeded mutants of a tar stream for the restore fuzz test: header fields, pax records, the gzip
 * framing and truncation. The same seed gives the same mutants on every run.
 */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export interface Mutant {
  what: string
  /** the .tar.gz bytes */
  bytes: Uint8Array
}

interface Header {
  at: number
  type: string
  size: number
}

/** Header blocks of a plain tar stream (without following the data of odd types). */
export function headers(tar: Uint8Array): Header[] {
  const out: Header[] = []
  for (let at = 0; at + 512 <= tar.length; ) {
    const h = tar.subarray(at, at + 512)
    if (h.every((x) => x === 0)) break
    const text = Buffer.from(h.subarray(124, 136)).toString('latin1').replace(/\0.*$/, '').trim()
    const size = h[124]! & 0x80 ? 0 : parseInt(text || '0', 8) || 0
    const type = String.fromCharCode(h[156]!)
    out.push({ at, type, size })
    at += 512 + (type === '1' || type === '5' ? 0 : Math.ceil(size / 512) * 512)
  }
  return out
}

const FIELDS: [name: string, offset: number, length: number][] = [
  ['name', 0, 100],
  ['mode', 100, 8],
  ['size', 124, 12],
  ['mtime', 136, 12],
  ['typeflag', 156, 1],
  ['linkname', 157, 100],
  ['magic', 257, 8],
  ['prefix', 345, 155],
]

function fixChecksum(h: Uint8Array): void {
  h.fill(0x20, 148, 156)
  let sum = 0
  for (const x of h) sum += x
  const text = `${sum.toString(8).padStart(6, '0')}\0 `
  for (let i = 0; i < 8; i++) h[148 + i] = text.charCodeAt(i)
}

const pick = <T>(r: () => number, list: readonly T[]): T => list[Math.floor(r() * list.length)]!

function fieldValue(r: () => number, name: string, length: number, old: Uint8Array): Uint8Array {
  const out = new Uint8Array(length)
  const put = (text: string) => out.set(Buffer.from(text, 'latin1').subarray(0, length))
  switch (name) {
    case 'typeflag':
      put(pick(r, ['0', '\0', '1', '2', '3', '5', '6', '7', 'D', 'K', 'L', 'M', 'N', 'S', 'V', 'g', 'x', 'Z']))
      break
    case 'mode':
    case 'size':
    case 'mtime': {
      const choice = r()
      if (choice < 0.3) put(`${Math.floor(r() * 8 ** (length - 1)).toString(8).padStart(length - 1, '0')}\0`)
      else if (choice < 0.5) put(`${Math.floor(r() * 4096).toString(8).padStart(length - 1, '0')}\0`)
      else if (choice < 0.65) {
        // base-256, positive or negative
        out[0] = r() < 0.5 ? 0x80 : 0xff
        for (let i = 1; i < length; i++) out[i] = r() < 0.7 ? (out[0] === 0xff ? 0xff : 0) : Math.floor(r() * 256)
      } else if (choice < 0.8) put(' '.repeat(length))
      else put(pick(r, ['', 'x', '-1', '8', '0x10', '  12  ']))
      break
    }
    case 'magic':
      put(pick(r, ['ustar\x0000', 'ustar  \0', '\0\0\0\0\0\0\0\0', 'ustaR\x0000']))
      break
    default: {
      const text = Buffer.from(old).toString('latin1').replace(/\0.*$/s, '')
      const edits = [
        () => `${text}/x`,
        () => text.replace(/[^/]*$/, 'sibling'),
        () => `/${text}`,
        () => `${text.split('/')[0]}/../${text}`,
        () => text.replace(/\/[^/]*$/, ''),
        () => `${text}\xe9`,
        () => '',
        () => `${text.split('/')[0]}/${'n'.repeat(Math.floor(r() * 300))}`,
        () => text.replace(/a/g, 'b'),
        () => './',
      ]
      put(pick(r, edits)())
    }
  }
  return out
}

function gz(tar: Uint8Array): Uint8Array {
  return new Uint8Array(gzipSync(tar, { level: 1 }))
}

/** One mutant of `tar` (a plain tar stream). */
export function mutate(tar: Uint8Array, r: () => number): Mutant {
  const copy = Uint8Array.from(tar)
  const list = headers(copy)
  const kind = r()
  if (kind < 0.45 && list.length) {
    const h = pick(r, list)
    const [name, offset, length] = pick(r, FIELDS)
    const block = copy.subarray(h.at, h.at + 512)
    block.set(fieldValue(r, name, length, block.subarray(offset, offset + length)), offset)
    const fixed = r() < 0.9
    if (fixed) fixChecksum(block)
    return { what: `header ${h.type} at ${h.at}: ${name}${fixed ? '' : ' (checksum left wrong)'}`, bytes: gz(copy) }
  }
  if (kind < 0.65) {
    const pax = list.filter((h) => h.type === 'x' || h.type === 'g')
    if (pax.length) {
      const h = pick(r, pax)
      const body = copy.subarray(h.at + 512, h.at + 512 + h.size)
      const text = Buffer.from(body).toString('latin1')
      const records = text.split('\n').filter(Boolean)
      const i = Math.floor(r() * records.length)
      const [, key = 'x', value = ''] = /^\d+ ([^=]*)=(.*)$/s.exec(records[i] ?? '') ?? []
      const newValue = pick(r, ['', '-1', '0', '1.5', '99999999999999999999', 'x', `${value}0`, value.replace(/\d/, '7'), `/${value}`, '-315619200.25', 'a/../b'])
      const rest = ` ${key}=${newValue}\n`
      let length = rest.length + 1
      while (String(length).length + rest.length !== length) length = String(length).length + rest.length
      records[i] = r() < 0.85 ? `${length}${rest}`.slice(0, -1) : `${length + 3}${rest}`.slice(0, -1)
      const out = Buffer.from(`${records.join('\n')}\n`, 'latin1')
      // a pax body of another length moves everything after it: rebuild the stream around it
      const size = out.length
      const header = Uint8Array.from(copy.subarray(h.at, h.at + 512))
      header.set(Buffer.from(`${size.toString(8).padStart(11, '0')}\0`, 'latin1'), 124)
      fixChecksum(header)
      const padded = new Uint8Array(Math.ceil(size / 512) * 512)
      padded.set(out)
      const after = copy.subarray(h.at + 512 + Math.ceil(h.size / 512) * 512)
      return { what: `pax record ${key}=${JSON.stringify(newValue)}`, bytes: gz(Buffer.concat([copy.subarray(0, h.at), header, padded, after])) }
    }
  }
  if (kind < 0.8) {
    const choice = r()
    const cut = Math.floor(r() * copy.length)
    if (choice < 0.3) {
      const a = gz(copy.subarray(0, cut))
      const b = gz(copy.subarray(cut))
      return { what: `two gzip members, split at ${cut}`, bytes: Buffer.concat([a, b]) }
    }
    const whole = gz(copy)
    if (choice < 0.5) {
      const at = Math.floor(r() * whole.length)
      whole[at]! ^= 1 << Math.floor(r() * 8)
      return { what: `gzip byte ${at} flipped`, bytes: whole }
    }
    if (choice < 0.7) return { what: 'zeros after the gzip stream', bytes: Buffer.concat([whole, new Uint8Array(1 + Math.floor(r() * 2000))]) }
    if (choice < 0.85) return { what: 'a second copy of the gzip stream after it', bytes: Buffer.concat([whole, whole]) }
    return { what: `gzip stream cut at ${cut % whole.length}`, bytes: whole.subarray(0, cut % whole.length) }
  }
  if (kind < 0.92) {
    const cut = Math.floor(r() * copy.length)
    const aligned = r() < 0.5 ? cut - (cut % 512) : cut
    return { what: `tar cut at ${aligned}`, bytes: gz(copy.subarray(0, aligned)) }
  }
  const at = Math.floor(r() * copy.length)
  copy[at] = Math.floor(r() * 256)
  return { what: `tar byte ${at} set`, bytes: gz(copy) }
}
