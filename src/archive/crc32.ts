/**
 * CRC-32 of two pieces joined, from the CRC of each and the length of the second (zlib's
 * crc32_combine): parallel compression computes each chunk's CRC in its worker, and the single
 * gzip member's trailer needs the CRC of the whole stream. Works in GF(2): appending n zero bytes
 * to a message is a linear map of its CRC, built by repeated squaring of the one-zero-bit map.
 */
const POLY = 0xedb88320

function times(matrix: Uint32Array, vector: number): number {
  let sum = 0
  for (let i = 0; vector !== 0; i++, vector >>>= 1) if (vector & 1) sum ^= matrix[i]!
  return sum >>> 0
}

function square(out: Uint32Array, matrix: Uint32Array): void {
  for (let n = 0; n < 32; n++) out[n] = times(matrix, matrix[n]!)
}

export function crc32Combine(crc1: number, crc2: number, length2: number): number {
  if (length2 <= 0) return crc1 >>> 0
  const even = new Uint32Array(32)
  const odd = new Uint32Array(32)
  odd[0] = POLY // the operator for one zero bit
  for (let n = 1, row = 1; n < 32; n++, row <<= 1) odd[n] = row
  square(even, odd) // two zero bits
  square(odd, even) // four zero bits
  let crc = crc1 >>> 0
  let left = length2
  // apply len2 zero bytes: the first square gives one byte (eight bits), then doubling
  do {
    square(even, odd)
    if (left % 2) crc = times(even, crc)
    left = Math.floor(left / 2)
    if (left === 0) break
    square(odd, even)
    if (left % 2) crc = times(odd, crc)
    left = Math.floor(left / 2)
  } while (left !== 0)
  return (crc ^ crc2) >>> 0
}
