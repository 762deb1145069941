import { expect, test } from 'bun:test'
import { readAhead } from '../../src/archive/read-ahead.ts'

/** A source of `count` chunks of `size` bytes filled with `tag`, that records how far it was read and whether it was closed. */
function source(tag: number, count: number, size = 1024, failAt = -1) {
  const state = { produced: 0, closed: false, started: false }
  const make = async function* (): AsyncGenerator<Uint8Array> {
    state.started = true
    try {
      for (let i = 0; i < count; i++) {
        await Bun.sleep(0)
        if (i === failAt) throw new Error(`source ${tag} broke at chunk ${i}`)
        state.produced++
        yield new Uint8Array(size).fill(tag)
      }
    } finally {
      state.closed = true
    }
  }
  return { make, state }
}

async function collect(stream: AsyncIterable<Uint8Array>): Promise<number[]> {
  const tags: number[] = []
  for await (const chunk of stream) tags.push(chunk[0]!)
  return tags
}

test('the sources come out one after the other, each whole and in order, whatever their pace', async () => {
  const sources = [source(1, 5), source(2, 1), source(3, 0), source(4, 7), source(5, 3)]
  expect(await collect(readAhead(sources.map((s) => s.make), 2))).toEqual([1, 1, 1, 1, 1, 2, 4, 4, 4, 4, 4, 4, 4, 5, 5, 5])
  for (const s of sources) expect(s.state.closed).toBe(true)
})

test('a source ahead of the reader fills up to its allowance, then waits', async () => {
  const first = source(1, 3)
  const second = source(2, 100)
  const stream = readAhead([first.make, second.make], 2, 4096)
  const it = stream[Symbol.asyncIterator]()
  expect((await it.next()).value![0]).toBe(1)
  // (bounded wait for the pump: no timing asserted)
  for (let i = 0; i < 500 && second.state.produced < 4; i++) await Bun.sleep(10)
  await Bun.sleep(50)
  // 4 KiB of 1 KiB chunks, and the one in hand when it stopped
  expect(second.state.produced).toBeGreaterThanOrEqual(4)
  expect(second.state.produced).toBeLessThanOrEqual(5)
  await it.return!(undefined)
  expect(second.state.closed).toBe(true)
})

test('no more than `parallel` sources are open at once', async () => {
  const sources = [source(1, 2), source(2, 2), source(3, 2)]
  const it = readAhead(sources.map((s) => s.make), 2)[Symbol.asyncIterator]()
  await it.next()
  await Bun.sleep(20)
  expect(sources.map((s) => s.state.started)).toEqual([true, true, false])
  await it.return!(undefined)
})

test("a source's error reaches the reader where its bytes would have, after everything before it", async () => {
  const sources = [source(1, 3), source(2, 4, 1024, 2), source(3, 3)]
  const seen: number[] = []
  let error: Error | null = null
  try {
    for await (const chunk of readAhead(sources.map((s) => s.make), 3)) seen.push(chunk[0]!)
  } catch (e) {
    error = e as Error
  }
  expect(error?.message).toBe('source 2 broke at chunk 2')
  expect(seen).toEqual([1, 1, 1, 2, 2])
  // the source read ahead is closed too
  expect(sources[2]!.state.closed).toBe(true)
})

test('a reader that stops early closes every source it opened', async () => {
  const sources = [source(1, 10), source(2, 10), source(3, 10)]
  for await (const chunk of readAhead(sources.map((s) => s.make), 2)) if (chunk[0] === 1) break
  expect(sources[0]!.state.closed).toBe(true)
  expect(sources[1]!.state.closed).toBe(true)
  expect(sources[2]!.state.started).toBe(false)
})
