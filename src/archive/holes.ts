import { lastErrno, sysOrNull } from '../lib/libc.ts'

/**
 * Where a file's data is, from lseek(2) SEEK_DATA / SEEK_HOLE (through bun:ffi: node:fs has no
 * lseek): a 9 GiB sparse disk image is read as its few allocated megabytes, not 9 GiB of zeros.
 * File systems without hole support report one data segment, which is the right answer there.
 */
const SEEK_DATA = 3
const SEEK_HOLE = 4
const ENXIO = 6

/**
 * The data segments of an open file of `size` bytes as [offset, length] pairs, or null when it
 * has no holes (or holes cannot be asked about). Offsets past `size` are cut off.
 */
export function dataSegments(fd: number, size: number): [number, number][] | null {
  const libc = size === 0 ? null : sysOrNull()
  if (!libc) return null
  const segments: [number, number][] = []
  let at = 0
  while (at < size) {
    const data = Number(libc.lseek(fd, at, SEEK_DATA))
    if (data < 0) {
      if (lastErrno() === ENXIO) break // only a hole from here to the end
      return null
    }
    if (data >= size) break
    const hole = Number(libc.lseek(fd, data, SEEK_HOLE))
    if (hole < 0) return null
    const end = Math.min(hole, size)
    segments.push([data, end - data])
    at = end
  }
  if (segments.length === 1 && segments[0]![0] === 0 && segments[0]![1] === size) return null
  return segments
}
