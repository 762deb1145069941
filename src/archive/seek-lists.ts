import type { ListEnds, Locator, MoltRange } from './seek-index.ts'

/** A piece of the file inflated: the compressed bytes [from, to), exactly `length` bytes (seek-read.ts inflateRange). */
type Inflate = (from: number, to: number, length: number) => AsyncIterable<Uint8Array>

/** A hole's bytes: zeros from one buffer, never written to (isHole tells them from read bytes). */
const HOLE = new Uint8Array(256 << 10)
export const isHole = (chunk: Uint8Array): boolean => chunk.buffer === HOLE.buffer

async function* hole(length: number): AsyncGenerator<Uint8Array> {
  for (let left = length; left > 0; left -= HOLE.length) yield HOLE.subarray(0, Math.min(left, HOLE.length))
}

/**
 * The tail through its list chunks (seek-index.ts): what lies before, between and after the molts'
 * lines is inflated, and each molt's lines when it is read; the lines of the others are holes of
 * their length (restore never compares them: ListRegions leave them out). Null without list
 * chunks; why not, when their numbers do not add up (before a byte is read). A piece that then
 * inflates to anything but its length fails the read, as a molt's range does.
 */
export function listPieces(locator: Locator, dataEnd: number, ranges: MoltRange[], ends: ListEnds | null, wanted: ReadonlySet<string>, inflate: Inflate): (() => AsyncIterable<Uint8Array>)[] | null | string {
  if (!ends || !locator.lines || !ranges.length || ranges.some((r) => !r.chunks || !r.lists)) return null
  const last = ranges.at(-1)!.lists!
  const chunk = (list: 'index_chunk' | 'sums_chunk', end: number) => [...ranges.map((r) => r.chunks![list]), end]
  const at = (list: 'index' | 'sums', data: number) => [...ranges.map((r) => data + r.lists![`${list}_offset`]), data + last[`${list}_offset`] + last[`${list}_length`]]
  const index = { z: chunk('index_chunk', ends.index_end_chunk), tar: at('index', ends.index_data) }
  const sums = { z: chunk('sums_chunk', ends.sums_end_chunk), tar: at('sums', ends.sums_data) }
  // in the file and in the tar stream: the tail, each molt's index lines, each molt's sums, the molt index lines
  const z = [locator.tailOffset, ...index.z, ...sums.z, locator.lines.offset, dataEnd]
  const tar = [locator.tailTarOffset, ...index.tar, ...sums.tar, locator.lines.tarOffset, locator.tarSize]
  const inOrder = (xs: number[]) => xs.every((x, i) => i === 0 || xs[i - 1]! <= x)
  // a tar header lies before each list's content
  if (!inOrder(z) || !inOrder(tar) || ends.index_data - locator.tailTarOffset < 512 || ends.sums_data - index.tar.at(-1)! < 512) return 'its list chunks are not in order'

  // [compressed from, to, tar length, read?]: consecutive pieces of the same kind as one
  const parts: [number, number, number, boolean][] = []
  const add = (from: number, to: number, length: number, read: boolean) => {
    const prior = parts.at(-1)
    if (prior && prior[3] === read && prior[1] === from) [prior[1], prior[2]] = [to, prior[2] + length]
    else parts.push([from, to, length, read])
  }
  const lines = (list: { z: number[]; tar: number[] }) => ranges.forEach((r, i) => add(list.z[i]!, list.z[i + 1]!, list.tar[i + 1]! - list.tar[i]!, wanted.has(r.molt)))
  add(locator.tailOffset, index.z[0]!, index.tar[0]! - locator.tailTarOffset, true)
  lines(index)
  add(index.z.at(-1)!, sums.z[0]!, sums.tar[0]! - index.tar.at(-1)!, true)
  lines(sums)
  add(sums.z.at(-1)!, dataEnd, locator.tarSize - sums.tar.at(-1)!, true)
  return parts.map(([from, to, length, read]) => (read ? () => inflate(from, to, length) : () => hole(length)))
}
