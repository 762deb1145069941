import { closeSync, fstatSync, openSync, readSync } from 'node:fs'

/**
 * The last `count` lines of a file, read backwards in chunks: the cost grows with `count`,
 * not with the file's size. A final line without its newline (a write cut short) is included;
 * callers that parse lines skip what does not parse.
 */
export function tailLines(path: string, count: number, chunkSize = 64 * 1024): string[] {
  if (count <= 0) return []
  const fd = openSync(path, 'r')
  try {
    let position = fstatSync(fd).size
    const chunks: Buffer[] = []
    let newlines = 0
    while (position > 0 && newlines <= count) {
      const size = Math.min(chunkSize, position)
      position -= size
      const chunk = Buffer.allocUnsafe(size)
      readSync(fd, chunk, 0, size, position)
      chunks.unshift(chunk)
      for (let i = 0; i < size; i++) if (chunk[i] === 10) newlines++
    }
    const lines = Buffer.concat(chunks).toString('utf8').split('\n')
    if (lines.at(-1) === '') lines.pop()
    // when we stopped mid-file, the first piece is a partial line
    if (position > 0) lines.shift()
    return lines.slice(-count)
  } finally {
    closeSync(fd)
  }
}
