import { fstatSync, readSync } from 'node:fs'

/** How far back a tail reads at most: a file of one endless line (or a sparse terabyte) stops here. */
export const TAIL_MAX_BYTES = 16 * 1024 * 1024

/**
 * The last `count` lines of an open file, read backwards in chunks: the cost grows with `count`,
 * not with the file's size, and never passes `maxBytes`. A final line without its newline (a
 * write cut short) is included; callers that parse lines skip what does not parse.
 */
export function tailLines(fd: number, count: number, options: { chunkSize?: number; maxBytes?: number } = {}): string[] {
  if (count <= 0) return []
  const chunkSize = options.chunkSize ?? 64 * 1024
  const floor = Math.max(0, fstatSync(fd).size - (options.maxBytes ?? TAIL_MAX_BYTES))
  let position = fstatSync(fd).size
  const chunks: Buffer[] = []
  let newlines = 0
  while (position > floor && newlines <= count) {
    const size = Math.min(chunkSize, position - floor)
    position -= size
    const chunk = Buffer.allocUnsafe(size)
    const got = readSync(fd, chunk, 0, size, position)
    chunks.unshift(chunk.subarray(0, got))
    for (let i = 0; i < got; i++) if (chunk[i] === 10) newlines++
  }
  const lines = Buffer.concat(chunks).toString('utf8').split('\n')
  if (lines.at(-1) === '') lines.pop()
  // when we stopped mid-file, the first piece is a partial line
  if (position > 0) lines.shift()
  return lines.slice(-count)
}
