/**
 * The compression worker of ParallelCompressor (compress.ts), as source text: a chunk of the tar
 * stream in, its deflate blocks (or zstd frame) out, into the output buffer handed in.
 */

/**
 * Random data (encrypted or already compressed attachments) does not deflate: level 6 spends
 * ~20 ms per MiB on it to emit, in the end, stored blocks. The writer marks where each file's data
 * starts and ends; a file region of 16 KiB or more whose byte entropy (sampled every other byte) is
 * as high as uniform random data gives for that sample size (less a 0.02 bit margin: ~7.96-7.98
 * bits/byte) goes out as stored deflate blocks at memcpy speed. Mail attachments are mostly base64
 * of such data (6 bits/byte: 64 symbols and line ends): no repeats for level 6 to find, but
 * Huffman codes save their 25%. A region of 16 KiB or more measuring 5.8 bits/byte or more is
 * coded Huffman-only (Z_HUFFMAN_ONLY), several times faster than level 6 at the same size.
 * Text, JSON and markup measure lower and are deflated at the level asked.
 */
const STORE_MIN = 16 << 10

// A Blob URL: works the same from source and from the compiled binary, which has no worker file.
export const WORKER_SOURCE = `
import { zstdCompressSync, deflateRawSync, constants } from 'node:zlib'
const histogram = new Uint32Array(256)
const RANDOM = 1, BASE64 = 2
// bits per byte of buf[from, to), sampled every other byte: RANDOM (uniform random bytes), BASE64 (5.8 bits or more), or 0
function classify(buf, from, to) {
  histogram.fill(0)
  let n = 0
  for (let k = from; k < to; k += 2) { histogram[buf[k]]++; n++ }
  let bits = 0
  for (let i = 0; i < 256; i++) { const c = histogram[i]; if (c) { const p = c / n; bits -= p * Math.log2(p) } }
  if (bits > 8 - 255 / (2 * n * Math.LN2) - 0.02) return RANDOM
  return bits >= 5.8 ? BASE64 : 0
}
// stored blocks, not final: a 0 byte (BFINAL 0, BTYPE 00; the stream is byte-aligned here), LEN, NLEN, data
function stored(data) {
  const blocks = Math.max(1, Math.ceil(data.length / 65535))
  const out = new Uint8Array(data.length + blocks * 5)
  let at = 0
  for (let from = 0; from < data.length || at === 0; from += 65535) {
    const n = Math.min(65535, data.length - from)
    out[at] = 0; out[at + 1] = n & 255; out[at + 2] = n >> 8; out[at + 3] = ~n & 255; out[at + 4] = (~n >> 8) & 255
    out.set(data.subarray(from, from + n), at + 5)
    at += 5 + n
  }
  return out
}
function deflateChunk(buf, length, level, marks, out) {
  const parts = []
  let start = 0, kind = 0, from = 0
  // chunkSize: the whole output in one buffer (node:zlib's 16 KiB default loops and joins per 16 KiB)
  const emit = (to) => {
    const data = buf.subarray(start, to)
    parts.push(kind === RANDOM ? stored(data) : deflateRawSync(data, { level, chunkSize: data.length + 1024, finishFlush: constants.Z_SYNC_FLUSH, strategy: kind === BASE64 ? constants.Z_HUFFMAN_ONLY : constants.Z_DEFAULT_STRATEGY }))
    start = to
  }
  for (const to of [...marks, length]) {
    if (to <= from) continue
    const next = to - from >= ${STORE_MIN} ? classify(buf, from, to) : 0
    if (from > start && next !== kind) emit(from)
    kind = next
    from = to
  }
  if (length > start) emit(length)
  return join(parts, out)
}
// parts into the output buffer handed in (a fresh one in the unlikely case they do not fit): its length
function join(parts, out) {
  const size = parts.reduce((n, p) => n + p.length, 0)
  if (size > out.length) out = new Uint8Array(size)
  let at = 0
  for (const p of parts) { out.set(p, at); at += p.length }
  return [out, size]
}
let handled = 0
self.onmessage = (event) => {
  if (++handled % 16 === 0) Bun.gc(true)
  const { id, buf, length, level, compression, marks, out } = event.data
  try {
    const [written, size] = compression === 'zstd'
      ? join([zstdCompressSync(buf.subarray(0, length), { params: { [constants.ZSTD_c_compressionLevel]: level, [constants.ZSTD_c_checksumFlag]: 1 } })], out)
      : deflateChunk(buf, length, level, marks, out)
    postMessage({ id, out: written, size, buf }, [written.buffer, buf.buffer])
  } catch (error) {
    postMessage({ id, error: String(error && error.message || error), buf, out }, [buf.buffer, out.buffer])
  }
}
`
