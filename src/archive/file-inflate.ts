import { close, constants, open, read } from 'node:fs'
import type { Transform } from 'node:stream'

/**
 * The bytes [start, end) of a file through a decompressor (a node:zlib stream), as its output
 * chunks. The file is read on the thread pool into two buffers that go round: a buffer is read
 * into again once the decompressor has consumed it. createReadStream allocated a fresh buffer for
 * every read, which the process touched page by page, each page a fault: on this VM a fault costs
 * ~5 µs, and a one-molt restore's 30 MB of reads were ~7,000 of them.
 *
 * Read errors reach the reader as the stream's error (with their `syscall`); stopping early (break)
 * waits for the read in flight before the file is closed, so no read lands in a reused descriptor.
 */
export async function* inflateFile(path: string, inflate: Transform, start: number, end: number, readSize: number): AsyncGenerator<Uint8Array> {
  // non-blocking: a FIFO put where the archive was checked fails its first read (ESPIPE), never waits for a writer
  const fd = await new Promise<number>((resolve, reject) => open(path, constants.O_RDONLY | constants.O_NONBLOCK, (error, fd) => (error ? reject(error) : resolve(fd))))
  // no bigger than the range, and the second only when a read follows the first (small ranges: one read)
  const size = Math.max(1, Math.min(readSize, end - start))
  const spare: Uint8Array[] = [Buffer.allocUnsafe(size)]
  let made = 1
  let wake = null as (() => void) | null
  let stopped = false
  const release = (buf: Uint8Array) => {
    spare.push(buf)
    wake?.()
    wake = null
  }
  const pump = async () => {
    for (let at = start; at < end && !stopped; ) {
      if (!spare.length && made < 2) {
        spare.push(Buffer.allocUnsafe(size))
        made++
      }
      while (!spare.length && !stopped) await new Promise<void>((resolve) => (wake = resolve))
      if (stopped) return
      const buf = spare.pop()!
      const n = await new Promise<number>((resolve, reject) => read(fd, buf, 0, Math.min(buf.length, end - at), at, (error, n) => (error ? reject(error) : resolve(n))))
      if (n === 0 || stopped) break
      at += n
      // the callback comes once the decompressor is done with the bytes (or the stream is destroyed)
      inflate.write(buf.subarray(0, n), () => release(buf))
    }
    if (!stopped) inflate.end()
  }
  const pumping = pump().catch((error) => inflate.destroy(error))
  try {
    for await (const chunk of inflate) yield chunk as Uint8Array
  } finally {
    stopped = true
    wake?.()
    inflate.destroy()
    await pumping
    close(fd, () => {})
  }
}
