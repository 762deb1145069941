import { expect, test } from 'bun:test'
import { checksumLine, endLine, noteLine } from '../../src/archive/checksums.ts'
import { parseSeekLine, SeekLineScanner, seekLine, type MoltRange } from '../../src/archive/seek-index.ts'
import { isHole, listPieces } from '../../src/archive/seek-lists.ts'

const range = (molt: string, i: number, lists = true, chunks = false): MoltRange => ({
  molt,
  offset: 1000 * i,
  tar_offset: 512 * i,
  length: 1000,
  tar_length: 512,
  lists: lists ? { index_offset: 100 * i, index_length: 100, sums_offset: 90 * i, sums_length: 90, files: i, bytes: 7 * i } : null,
  chunks: chunks ? { index_chunk: 70_000 + i, sums_chunk: 2 ** 53 - i } : null,
})

test('a molt index line reads back as written, with or without the list places; a line with only some of them has none', () => {
  for (const r of [range('alpha', 1), range('bravo', 2, false), range('charlie', 3, true, true)]) expect(parseSeekLine(seekLine(r).trimEnd())).toEqual(r)
  // list chunk numbers are 16 characters wide, whatever their value: the line's length does not change with them
  expect(seekLine(range('alpha', 1, true, true)).length).toBe(seekLine({ ...range('alpha', 1), chunks: { index_chunk: 0, sums_chunk: 0 } }).length)
  const partial = seekLine(range('alpha', 1)).replace(/,"files":1,"bytes":7/, '')
  expect(parseSeekLine(partial.trimEnd())).toEqual(range('alpha', 1, false))
  expect(parseSeekLine('#clmnt-seek {"molt":"alpha","offset":-1,"tar_offset":0,"length":1,"tar_length":1}')).toBeNull()
  expect(parseSeekLine('#clmnt-seek not json')).toBeNull()
})

test('the scanner finds the molt index lines of a checksum list however it is cut into chunks, and nothing else', () => {
  const ranges = Array.from({ length: 30 }, (_, i) => range(`molt${i}`, i + 1, i % 3 !== 0))
  const sums = Array.from({ length: 5000 }, (_, i) => checksumLine('ab'.repeat(32), `molt${i % 30}/Maildir/cur/${i}:2,S`))
  const text = [
    '# sha256 of every regular file\n',
    ...sums,
    // a '#' line far longer than a molt index line, and one that merely looks like one
    `#clmnt-note ${'x'.repeat(10_000)}\n`,
    '#clmnt-seekish {"molt":"nope"}\n',
    `${'0'.repeat(64)}  #clmnt-seek {"molt":"in-a-name","offset":1,"tar_offset":0,"length":1,"tar_length":0}\n`,
    ...ranges.map(seekLine),
    noteLine({ kind: 'vanished', path: 'molt1/x', detail: 'gone', planned_size: 1 }),
    endLine({ files: 1, bytes: 2, notes: 1, partial: false }).trimEnd(),
  ].join('')
  const bytes = Buffer.from(text, 'latin1')
  for (const size of [1, 7, 100, 4095, 65_536, bytes.length]) {
    const scanner = new SeekLineScanner()
    for (let at = 0; at < bytes.length; at += size) scanner.push(bytes.subarray(at, at + size))
    scanner.end()
    expect(scanner.ranges).toEqual(ranges)
  }
  // the last line, without its newline, still counts
  const last = new SeekLineScanner()
  last.push(Buffer.from(seekLine(ranges[0]!).trimEnd(), 'latin1'))
  last.end()
  expect(last.ranges).toEqual([ranges[0]!])
})

test('list chunks: the tail in pieces, read for the molts wanted, holes of zeros for the others, neighbours of a kind as one; out of order: why', async () => {
  // three molts whose lines are 100 (index) and 90 (sums) bytes each, every chunk 10 compressed bytes
  const ranges = ['alpha', 'bravo', 'delta'].map((molt, i) => ({ ...range(molt, i + 1), lists: { index_offset: 50 + 100 * i, index_length: 100, sums_offset: 40 + 90 * i, sums_length: 90, files: 1, bytes: 1 }, chunks: { index_chunk: 1010 + 10 * i, sums_chunk: 1050 + 10 * i } }))
  const locator = { tailOffset: 1000, tailTarOffset: 10_000, tarSize: 12_000, lines: { offset: 1090, tarOffset: 11_800 } }
  // index.jsonl's header at 10,000, its content at 10,512; checksums.sha256's header after it, its content at 11,374
  const ends = { index_data: 10_512, index_end_chunk: 1040, sums_data: 11_374, sums_end_chunk: 1080 }
  const read = async (wanted: string[]) => {
    const inflated: [number, number, number][] = []
    const pieces = listPieces(locator, 1100, ranges, ends, new Set(wanted), (from, to, length) => {
      inflated.push([from, to, length])
      return (async function* () {})()
    })
    if (typeof pieces === 'string' || pieces === null) return pieces
    const holes: number[] = []
    for (const piece of pieces) {
      let bytes = 0
      for await (const chunk of piece()) {
        expect(isHole(chunk) && chunk.every((b) => b === 0)).toBe(true)
        bytes += chunk.length
      }
      if (bytes) holes.push(bytes)
    }
    return { count: pieces.length, inflated, holes }
  }
  // bravo: the tail's start, bravo's index lines, what lies between the lists, bravo's sums, the end: alpha's and delta's lines are holes
  expect(await read(['bravo'])).toEqual({
    count: 9,
    inflated: [[1000, 1010, 562], [1020, 1030, 100], [1040, 1050, 552], [1060, 1070, 90], [1080, 1100, 316]],
    holes: [100, 100, 90, 90],
  })
  // alpha: its lines next to what is read anyway, one piece each; bravo's and delta's one hole each
  expect(await read(['alpha'])).toEqual({ count: 5, inflated: [[1000, 1020, 662], [1040, 1060, 642], [1080, 1100, 316]], holes: [200, 180] })
  // every molt: no hole
  expect(await read(['alpha', 'bravo', 'delta'])).toEqual({ count: 1, inflated: [[1000, 1100, 2000]], holes: [] })
  // bravo's index chunk after delta's: not in order, nothing read
  ranges[1]!.chunks.index_chunk = 1035
  expect(await read(['bravo'])).toBe('its list chunks are not in order')
  // without list chunks on a line (an archive written before): none
  expect(listPieces(locator, 1100, ranges.map((r) => ({ ...r, chunks: null })), ends, new Set(['bravo']), () => (async function* () {})())).toBeNull()
})
