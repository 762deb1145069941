/**
 * Several byte sources read one after the other as one stream, `parallel` of them at once: the
 * sources ahead of the reader fill up to `ahead` bytes each, then wait for it.
 *
 * Why: the molt ranges of an archive with a molt index inflate on their own (seek-index.ts), and
 * node:zlib inflates on the thread pool. Reading two ranges at once keeps two cores inflating
 * while the main thread parses, hashes and writes — one zlib stream (`tar -xzf`, or a whole read)
 * is bound to one core. A source's error reaches the reader where that source's bytes would have:
 * what the reader sees is what reading them one by one gives, only sooner.
 */
interface Pump {
  queue: Uint8Array[]
  bytes: number
  done: boolean
  failed: boolean
  error: unknown
  stopped: boolean
  /** the reader waits for a chunk */
  wake: (() => void) | null
  /** the pump waits for room */
  room: (() => void) | null
  iterator: AsyncIterator<Uint8Array>
  running: Promise<void>
}

export async function* readAhead(sources: readonly (() => AsyncIterable<Uint8Array>)[], parallel = 2, ahead = 4 << 20): AsyncGenerator<Uint8Array> {
  const pumps: Pump[] = []
  let next = 0
  const fill = () => {
    while (pumps.length < Math.max(1, parallel) && next < sources.length) pumps.push(startPump(sources[next++]!, ahead))
  }
  try {
    fill()
    while (pumps.length) {
      const pump = pumps[0]!
      for (;;) {
        const chunk = pump.queue.shift()
        if (chunk) {
          pump.bytes -= chunk.length
          release(pump)
          yield chunk
          continue
        }
        if (pump.done) break
        await new Promise<void>((resolve) => (pump.wake = resolve))
      }
      if (pump.failed) throw pump.error
      pumps.shift()
      fill()
    }
  } finally {
    // the reader stopped (or failed): every source still open is closed, its file and stream with it
    for (const pump of pumps) {
      pump.stopped = true
      release(pump)
    }
    for (const pump of pumps) {
      await pump.running
      await pump.iterator.return?.()
    }
  }
}

function startPump(source: () => AsyncIterable<Uint8Array>, ahead: number): Pump {
  const pump: Pump = { queue: [], bytes: 0, done: false, failed: false, error: null, stopped: false, wake: null, room: null, iterator: source()[Symbol.asyncIterator](), running: Promise.resolve() }
  pump.running = (async () => {
    try {
      while (!pump.stopped) {
        if (pump.bytes >= ahead) {
          await new Promise<void>((resolve) => (pump.room = resolve))
          continue
        }
        const { value, done } = await pump.iterator.next()
        if (done) break
        pump.queue.push(value)
        pump.bytes += value.length
        wake(pump)
      }
    } catch (error) {
      pump.failed = true
      pump.error = error
    }
    pump.done = true
    wake(pump)
  })()
  return pump
}

function wake(pump: Pump): void {
  const resolve = pump.wake
  pump.wake = null
  resolve?.()
}

function release(pump: Pump): void {
  const resolve = pump.room
  pump.room = null
  resolve?.()
}
