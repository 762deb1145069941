/**
 * GNU sparse files in the encodings GNU tar and bsdtar write: old GNU 'S' headers (4 segments in
 * the header, 21 in each extension block), pax 0.0 (repeated GNU.sparse.offset / numbytes), 0.1
 * (GNU.sparse.map) and 1.0 (decimal lines at the start of the data, in whole blocks).
 */
import { parseNumber } from './tar-fields.ts'
import { TarError } from './tar-error.ts'

export interface SparseSegment {
  offset: number
  size: number
}

export const MAX_SEGMENTS = 1 << 20

export function oldGnuSparse(h: Uint8Array, offset: number, count: number): SparseSegment[] {
  const out: SparseSegment[] = []
  for (let k = 0; k < count; k++) {
    const at = offset + k * 24
    if (h[at] === 0) break
    out.push({ offset: parseNumber(h, at, 12), size: parseNumber(h, at + 12, 12) })
  }
  return out
}

/** pax 0.1 (`GNU.sparse.map=o,n,o,n…`) or 0.0 (repeated GNU.sparse.offset / GNU.sparse.numbytes). */
export function paxSparseMap(records: [string, string][], map: string | undefined, at: number): SparseSegment[] {
  const numbers: string[] = []
  if (map !== undefined) numbers.push(...map.split(','))
  else for (const [i, [key, value]] of records.entries()) numbers.push(key === (i % 2 ? 'GNU.sparse.numbytes' : 'GNU.sparse.offset') ? value : 'x')
  if (numbers.length % 2 || numbers.some((n) => !/^\d+$/.test(n)) || numbers.length > 2 * MAX_SEGMENTS) throw new TarError('invalid GNU sparse map', at)
  const out: SparseSegment[] = []
  for (let k = 0; k < numbers.length; k += 2) out.push({ offset: Number(numbers[k]), size: Number(numbers[k + 1]) })
  return out
}

/** A 1.0 map read so far (whole lines): its segments once complete, null while more lines are needed. */
export function sparseMapLines(mapText: string, at: number): SparseSegment[] | null {
  const complete = mapText.split('\n').slice(0, -1)
  if (!complete.length) return null
  const count = Number(complete[0])
  if (!/^\d+$/.test(complete[0]!) || count > MAX_SEGMENTS) throw new TarError('invalid GNU sparse map', at)
  if (complete.length < 1 + 2 * count) return null
  const values = complete.slice(1, 1 + 2 * count)
  if (values.some((v) => !/^\d+$/.test(v))) throw new TarError('invalid GNU sparse map', at)
  const out: SparseSegment[] = []
  for (let k = 0; k < values.length; k += 2) out.push({ offset: Number(values[k]), size: Number(values[k + 1]) })
  return out
}

/** Segments in order, inside the file, and exactly the data the member holds. */
export function checkSparseMap(segments: SparseSegment[], size: number, stored: number, name: string, at: number): void {
  let end = 0
  let total = 0
  for (const s of segments) {
    if (!Number.isSafeInteger(s.offset) || !Number.isSafeInteger(s.size) || s.offset < end || s.offset + s.size > size) {
      throw new TarError(`invalid sparse map of ${JSON.stringify(name)}`, at)
    }
    end = s.offset + s.size
    total += s.size
  }
  if (total !== stored) throw new TarError(`the sparse map of ${JSON.stringify(name)} accounts for ${total} bytes, the member holds ${stored}`, at)
}
