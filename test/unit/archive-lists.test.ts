import { afterAll, expect, test } from 'bun:test'
import { createHash } from 'node:crypto'
import { readdirSync, rmSync } from 'node:fs'
import { checksumLine, endLine, noteLine } from '../../src/archive/checksums.ts'
import { indexLine, type IndexEntry } from '../../src/archive/index-file.ts'
import { PlacedLines } from '../../src/archive/list-readers.ts'
import { MemberLog, NameTable } from '../../src/archive/member-log.ts'
import { encodeHeader, type HeaderFacts } from '../../src/archive/restore-index.ts'
import { compareLists, type ListsInput } from '../../src/archive/restore-lists.ts'
import { Spool } from '../../src/archive/spool.ts'
import { tempDir } from '../helpers/fleet.ts'

const dir = tempDir('clmnt-lists-')
// 30 s per test: the bucketed comparisons go through spool files and take seconds on a loaded host
afterAll(() => rmSync(dir, { recursive: true, force: true }))

test('spool records come back in order and by offset, across blocks and past the buffer size', () => {
  const spool = new Spool(dir, 64)
  const texts = ['', 'a', 'x'.repeat(63), 'y'.repeat(300_000), 'caf\xe9\0\n\xff', ...Array.from({ length: 20_000 }, (_, i) => `record ${i}`)]
  const offsets = texts.map((t) => spool.record(t))
  expect([...spool.records()]).toEqual(texts.map((t, i) => [t, offsets[i]!]))
  for (const i of [0, 3, 4, 19_000]) expect(spool.recordAt(offsets[i]!)).toBe(texts[i]!)
  spool.close()
  // nothing is left behind: the file was unlinked when it was opened
  expect(readdirSync(dir)).toEqual([])
}, 30_000)

test('the name table finds every key it was given and no other, through hash collisions and growth', () => {
  const log = new MemberLog(dir)
  const table = new NameTable(log, 2026)
  // two names whose hashes are the same: the log tells them apart
  const byHash = new Map<number, string>()
  let pair: [string, string] | null = null
  for (let i = 0; !pair; i++) {
    const key = `molt/Maildir/new/${i}`
    const hash = Bun.hash.murmur32v3(key, 2026)
    const other = byHash.get(hash)
    if (other) pair = [other, key]
    else byHash.set(hash, key)
  }
  const keys = [pair[0], ...Array.from({ length: 30_000 }, (_, i) => `molt${i % 7}/Maildir/cur/${i}.host:2,S`), pair[1]]
  const isFile = (key: string) => key.endsWith('7.host:2,S') || key === pair[1]
  const offsets = keys.map((key) => {
    expect(table.get(key)).toBeNull()
    const offset = log.member(key, key, null)
    const slot = table.add(key, offset)
    if (isFile(key)) table.markFile(slot)
    return offset
  })
  for (const [i, key] of keys.entries()) {
    expect(table.get(key)).toBe(offsets[i]!)
    expect(table.getFile(key)).toBe(isFile(key) ? offsets[i]! : null)
  }
  for (let i = 0; i < 5_000; i++) expect(table.get(`molt${i % 7}/Maildir/tmp/${i}.host`)).toBeNull()
  log.close()
}, 30_000)

test('the member log gives back each member with its name, header and file facts', () => {
  const log = new MemberLog(dir)
  const a = log.member('alpha/.openclaw/openclaw.json', 'alpha/openclaw.json', 'file\0' + '420\0' + '3\0' + '1\0' + 'alpha\0')
  log.file(3, 'd'.repeat(32))
  const b = log.member('alpha/dir', 'alpha/dir', null)
  const c = log.member('alpha/link', 'alpha/link', null)
  log.file(3, '')
  expect(log.memberAt(a)).toEqual({ key: 'alpha/.openclaw/openclaw.json', name: 'alpha/openclaw.json' })
  expect(log.fileAt(a)).toEqual({ size: 3, digest: 'd'.repeat(32) })
  expect(log.fileAt(b)).toBeNull()
  expect(log.fileAt(c)).toEqual({ size: 3, digest: '' })
  expect([...log.members()].map((m) => [m.name, m.header !== null, m.file?.size ?? null])).toEqual([
    ['alpha/openclaw.json', true, 3],
    ['alpha/dir', false, null],
    ['alpha/link', false, 3],
  ])
  log.close()
}, 30_000)

/** A member of the archive: what its header says and, for a file, its content. */
interface Member {
  name: string
  header: HeaderFacts
  content?: string
}

const digest = (content: string) => createHash('sha256').update(content).digest()
const file = (name: string, content: string, mode = 0o600): Member => ({ name, content, header: { type: 'file', mode, size: content.length, mtime: '1700000000.5', link: '', molt: name.split('/')[0]! } })
const folder = (name: string): Member => ({ name, header: { type: 'dir', mode: 0o700, size: 0, mtime: '1700000000', link: '', molt: name.split('/')[0]! } })

/** The log as extraction writes it for `members` (beta is not checked: nothing but its names), the lists as a backup wrote them for `listed`. */
function listsOf(members: Member[], edit: { sums?: (lines: string[]) => string[]; index?: (lines: string[]) => string[] } = {}, listed = members): { log: MemberLog; checksums: Spool; index: Spool } {
  const log = new MemberLog(dir)
  for (const m of members) {
    const checked = !m.name.startsWith('beta/')
    log.member(m.name, m.name, checked ? encodeHeader(m.header) : null)
    if (checked && m.content !== undefined) log.file(m.content.length, digest(m.content).toString('latin1'))
  }
  const entry = (m: Member): IndexEntry => ({ path: Buffer.from(m.name, 'latin1'), type: m.header.type, mode: m.header.mode, size: m.header.size, mtime: m.header.mtime, molt: m.header.molt, ...(m.header.link ? { link: m.header.link } : {}) })
  let sums = listed.filter((m) => m.content !== undefined).map((m) => Buffer.from(checksumLine(digest(m.content!).toString('hex'), m.name), 'latin1').toString('latin1'))
  let index = listed.map((m) => Buffer.from(indexLine(entry(m))).toString('latin1'))
  sums = edit.sums ? edit.sums(sums) : sums
  index = edit.index ? edit.index(index) : index
  const checksums = new Spool(dir)
  checksums.append(Buffer.from([...sums, noteLine({ kind: 'vanished', path: 'alpha/x', detail: 'gone', planned_size: 1 }), endLine({ files: 1, bytes: 2, notes: 1, partial: false })].join(''), 'latin1'))
  const indexSpool = new Spool(dir)
  indexSpool.append(Buffer.from(index.join(''), 'latin1'))
  return { log, checksums, index: indexSpool }
}

function compare(lists: ReturnType<typeof listsOf>, bucket?: number) {
  const input: ListsInput = { ...lists, relevant: (name) => !name.startsWith('beta/'), scopeOf: (name) => name.split('/')[0]!, checked: new Set(['alpha', 'gamma']), scratchDir: dir, bucket }
  return compareLists(input)
}

const archive: Member[] = [
  folder('alpha'),
  file('alpha/.molt-info', 'MOLT_NAME=alpha\n'),
  folder('alpha/Maildir'),
  ...Array.from({ length: 300 }, (_, i) => file(`alpha/Maildir/cur/${i}:2,S`, `message ${i}\n`)),
  file('alpha/Maildir/odd\\name\nwith newline', 'odd\n'),
  file('alpha/Maildir/caf\xe9', 'latin-1 name\n'),
  file('beta/.molt-info', 'MOLT_NAME=beta\n'),
  file('gamma/.molt-info', 'MOLT_NAME=gamma\n'),
]

test('a sound archive: every sum matches and nothing is said, in one bucket or in many', () => {
  for (const bucket of [undefined, 7]) {
    const result = compare(listsOf(archive), bucket)
    expect(result).toMatchObject({ sums: [], unlisted: [], index: [], verified: 304 })
    expect(result.notes).toEqual([{ kind: 'vanished', path: 'alpha/x', detail: 'gone', planned_size: 1 }])
    expect(result.end).toEqual({ files: 1, bytes: 2, notes: 1, partial: false })
  }
  expect(readdirSync(dir)).toEqual([])
}, 30_000)

test('lists in another order than the archive (a re-tar) compare the same', () => {
  const reversed = compare(listsOf(archive, { sums: (l) => l.toReversed(), index: (l) => l.toReversed() }), 5)
  expect(reversed).toMatchObject({ sums: [], unlisted: [], index: [], verified: 304 })
}, 30_000)

test('every kind of disagreement is found, in the order of one comparison, whatever the bucket size', () => {
  const members = archive.map((m) => (m.name === 'alpha/Maildir/cur/7:2,S' ? { ...m, content: 'changed\n' } : m))
  const edit = {
    sums: (lines: string[]) => [
      ...lines.filter((l) => !l.includes('cur/12:2,S')),
      lines.find((l) => l.includes('cur/20:2,S'))!,
      `${'0'.repeat(64)}  alpha/Maildir/never\n`,
      'not a sum line\n',
      `${'0'.repeat(64)}  beta/unchecked\n`,
      `${'0'.repeat(64)}  beta/unchecked\n`,
    ],
    index: (lines: string[]) => [
      ...lines.filter((l) => !l.includes('cur/13:2,S')).map((l) => (l.includes('cur/14:2,S') ? l.replace('"0600"', '"0644"') : l)),
      lines.find((l) => l.includes('cur/15:2,S'))!,
      '{"path":"alpha/\\u0000nul","type":"file","mode":"0600","size":1,"mtime":"1","molt":"alpha"}\n',
      '{"path":"beta/skipped","type":"file","mode":"0600","size":1,"mtime":"1","molt":"beta"}\n',
      'not json\n',
    ],
  }
  const one = compare(listsOf(members, edit, archive))
  const text = (list: { text: string }[]) => list.map((p) => p.text)
  expect(text(one.sums)).toEqual([
    '"alpha/Maildir/cur/7:2,S": sha256 mismatch (its content is not what was backed up)',
    'checksums.sha256: "alpha/Maildir/cur/20:2,S" listed twice',
    '"alpha/Maildir/never": listed in checksums.sha256 but missing from the archive',
    'checksums.sha256: line 307: not a sha256sum line',
  ])
  expect(text(one.unlisted)).toEqual(['"alpha/Maildir/cur/12:2,S": not in checksums.sha256'])
  expect(text(one.index)).toEqual([
    '"alpha/Maildir/cur/14:2,S": its header is not what index.jsonl says (mode 0644 → 0600)',
    'index.jsonl: "alpha/Maildir/cur/15:2,S" listed twice',
    '"alpha/\\u0000nul": in index.jsonl but not in the archive',
    'index.jsonl: line 310: not JSON',
    '"alpha/Maildir/cur/13:2,S": not in index.jsonl',
  ])
  expect(one.verified).toBe(302)
  expect(one.sums.map((p) => p.molt)).toEqual(['alpha', null, 'alpha', null])
  for (const bucket of [3, 50]) expect(compare(listsOf(members, edit, archive), bucket)).toEqual(one)
  expect(readdirSync(dir)).toEqual([])
}, 30_000)

test('lists in archive order are compared in one pass; what they find is what the buckets find', () => {
  const members = archive.map((m) => (m.name === 'alpha/Maildir/cur/7:2,S' ? { ...m, content: 'changed\n' } : m.name === 'alpha/Maildir/cur/9:2,S' ? { ...m, header: { ...m.header, mode: 0o4755 } } : m))
  const inOrder = compare(listsOf(members, {}, archive))
  const text = (list: { text: string }[]) => list.map((p) => p.text)
  expect(text(inOrder.sums)).toEqual(['"alpha/Maildir/cur/7:2,S": sha256 mismatch (its content is not what was backed up)'])
  expect(text(inOrder.index)).toEqual(['"alpha/Maildir/cur/9:2,S": its header is not what index.jsonl says (mode 0600 → 04755)'])
  expect(inOrder.verified).toBe(303)
  // reversed lists: out of order, so compared in buckets
  const reversed = compare(listsOf(members, { sums: (l) => l.toReversed(), index: (l) => l.toReversed() }, archive), 5)
  expect(reversed).toEqual(inOrder)
  expect(readdirSync(dir)).toEqual([])
}, 30_000)

test('index lines of a molt not checked are read for their JSON only; a line of a checked molt or of no molt meets the schema', () => {
  const bad = (molt: string) => `{"path":"${molt}/x","type":"file","mode":"bad","size":1,"mtime":"1","molt":${JSON.stringify(molt)}}\n`
  const edit = { index: (lines: string[]) => [...lines, bad('beta'), '{"path":"beta/y",\n', bad('gamma'), '{"path":"global/z","type":"file","mode":"0600","size":-1,"mtime":"1","molt":null}\n', '{"path":"x","molt":7}\n'] }
  const result = compare(listsOf(archive, edit))
  expect(result.index.map((p) => p.text)).toEqual([
    'index.jsonl: line 309: not JSON',
    'index.jsonl: line 310: mode: mode must be octal, e.g. "0644"',
    'index.jsonl: line 311: size: Too small: expected number to be >=0',
    'index.jsonl: line 312: type: Invalid option: expected one of "file"|"dir"|"symlink"|"hardlink"',
  ])
  expect(compare(listsOf(archive, edit), 4)).toEqual(result)
}, 30_000)

/** byte ranges of a list around the lines `skip` picks */
function around(spool: Spool, skip: (line: string) => boolean): [number, number][] {
  const ranges: [number, number][] = []
  let at = 0
  let from = 0
  for (const line of spool.lines()) {
    const end = at + line.length + 1
    if (skip(Buffer.from(line).toString('latin1'))) {
      if (at > from) ranges.push([from, at])
      from = end
    }
    at = end
  }
  ranges.push([from, spool.size])
  return ranges
}
const beta = (line: string) => line.includes('beta/')

test('with regions (a one-molt read through the molt index) only those parts of the lists are read; lines keep their numbers; a region that leaves out a checked line refuses its member', () => {
  const edit = { sums: (lines: string[]) => [...lines.slice(0, 3), 'not a sum line\n', ...lines.slice(3)], index: (lines: string[]) => [...lines, '{"path":"beta/y",\n', 'not json\n'] }
  const whole = compare(listsOf(archive, edit))
  expect(whole.sums.map((p) => p.text)).toEqual(['checksums.sha256: line 4: not a sha256sum line'])
  expect(whole.index.map((p) => p.text)).toEqual(['index.jsonl: line 308: not JSON', 'index.jsonl: line 309: not JSON'])
  for (const bucket of [undefined, 5]) {
    const lists = listsOf(archive, edit)
    const regions = { sums: around(lists.checksums, beta), index: around(lists.index, beta) }
    expect(regions.index.length).toBe(3)
    const input: ListsInput = { ...lists, relevant: (name) => !name.startsWith('beta/'), scopeOf: (name) => name.split('/')[0]!, checked: new Set(['alpha', 'gamma']), scratchDir: dir, bucket, regions }
    const result = compareLists(input)
    // the bad line of beta is not read; the one after it keeps its number
    expect(result.sums).toEqual(whole.sums)
    expect(result.index.map((p) => p.text)).toEqual(['index.jsonl: line 309: not JSON'])
    expect(result.verified).toBe(whole.verified)
    expect(result.end).toEqual(whole.end)
    // regions that leave out gamma's lines: its file is not in either list
    const lying = listsOf(archive, edit)
    const gamma = (line: string) => beta(line) || line.includes('gamma/')
    const refused = compareLists({ ...input, ...lying, regions: { sums: around(lying.checksums, gamma), index: around(lying.index, gamma) } })
    expect(refused.unlisted.map((p) => p.text)).toEqual(['"gamma/.molt-info": not in checksums.sha256'])
    expect(refused.index.map((p) => p.text)).toContain('"gamma/.molt-info": not in index.jsonl')
  }
}, 30_000)

test("a line byte for byte what the backup writes is taken as it is; any other form, or facts no backup writes, go through the schema", () => {
  const odd = file('alpha/odd-time', 'odd\n')
  odd.header = { ...odd.header, mtime: '1700000000.1234567891' }
  const fifo: Member = { name: 'alpha/fifo', header: { type: 'fifo' as 'file', mode: 0o600, size: 0, mtime: '1700000000', link: '', molt: 'alpha' } }
  const members = [...archive.slice(0, -2), odd, fifo, ...archive.slice(-2)]
  const reordered = (lines: string[]) => lines.map((l) => (l.includes('cur/3:2,S') ? `${JSON.stringify(Object.fromEntries(Object.entries(JSON.parse(l)).reverse()))}\n` : l))
  for (const bucket of [undefined, 5]) {
    const result = compare(listsOf(members, { index: reordered }), bucket)
    expect(result.index.map((p) => p.text)).toEqual([
      'index.jsonl: line 306: mtime: mtime must be decimal seconds',
      'index.jsonl: line 307: type: Invalid option: expected one of "file"|"dir"|"symlink"|"hardlink"',
      '"alpha/odd-time": not in index.jsonl',
      '"alpha/fifo": not in index.jsonl',
    ])
    expect(result.sums).toEqual([])
  }
}, 30_000)

test('a checksum line in another form than the backup writes (binary mode, an escaped name) is parsed and compared the same', () => {
  const other = (lines: string[]) => lines.map((l) => (l.includes('cur/5:2,S') ? l.replace('  ', ' *') : l.includes('cur/6:2,S') ? `\\${l}` : l))
  for (const bucket of [undefined, 5]) {
    const result = compare(listsOf(archive, { sums: other }), bucket)
    expect(result).toMatchObject({ sums: [], unlisted: [], index: [], verified: 304 })
  }
  const changed = archive.map((m) => (m.name === 'alpha/Maildir/cur/5:2,S' ? { ...m, content: 'changed\n' } : m))
  expect(compare(listsOf(changed, { sums: other }, archive)).sums.map((p) => p.text)).toEqual(['"alpha/Maildir/cur/5:2,S": sha256 mismatch (its content is not what was backed up)'])
}, 30_000)

test('a sum line one character off what the backup writes (digest, separator, name, length) is never taken as the same line', () => {
  const target = 'alpha/Maildir/cur/3:2,S'
  const edits: ((line: string) => string)[] = [
    (l) => `${l.slice(0, 63)}${l[63] === '0' ? '1' : '0'}${l.slice(64)}`,
    (l) => `${l.slice(0, 1)}${l[1] === 'a' ? 'b' : 'a'}${l.slice(2)}`,
    (l) => `${l.slice(0, 64)} *${l.slice(66)}`,
    (l) => `${l.slice(0, -2)}T\n`,
    (l) => `${l.slice(0, -1)}x\n`,
    (l) => `${l.slice(0, 64)}   ${l.slice(66)}`,
  ]
  for (const edit of edits) {
    const lists = listsOf(archive, { sums: (lines) => lines.map((l) => (l.endsWith(`  ${target}\n`) ? edit(l) : l)) })
    const result = compare(lists)
    // the edited line is parsed: a binary-mode marker is the same file, anything else is a problem, never a match
    expect(result.verified).toBe(edit === edits[2] ? 304 : 303)
    if (edit !== edits[2]) expect([...result.sums, ...result.unlisted].map((p) => p.text).join('\n')).toContain(target)
  }
}, 30_000)

test('a spool with holes (list chunks: the lines of molts not read): left-out bytes read as zeros, what follows at its place; lists with holes compare as with regions, a line named by its byte', () => {
  const spool = new Spool(dir, 16)
  spool.append(Buffer.from('one\n'))
  spool.skip(100_000)
  spool.append(Buffer.from('two\nthree\n'))
  spool.skip(5)
  expect(spool.size).toBe(4 + 100_000 + 10 + 5)
  const all = Buffer.concat([...spool.blocks()].map((b) => Buffer.from(b)))
  expect(all.length).toBe(spool.size)
  expect(all.subarray(0, 4).toString()).toBe('one\n')
  expect(all.subarray(4, 100_004).every((b) => b === 0)).toBe(true)
  expect(all.subarray(100_004, 100_014).toString()).toBe('two\nthree\n')
  expect([...spool.lines(100_004, 100_014)].map((l) => Buffer.from(l).toString())).toEqual(['two', 'three'])
  spool.close()

  // beta's lines left out as a one-molt read through list chunks leaves them: holes
  const edit = { sums: (lines: string[]) => [...lines.slice(0, 3), 'not a sum line\n', ...lines.slice(3)], index: (lines: string[]) => [...lines, '{"path":"beta/y",\n', 'not json\n'] }
  const lists = listsOf(archive, edit)
  const regions = { sums: around(lists.checksums, beta), index: around(lists.index, beta) }
  const holed = (whole: Spool, parts: [number, number][]): Spool => {
    const out = new Spool(dir)
    const bytes = Buffer.concat([...whole.blocks()].map((b) => Buffer.from(b)))
    let at = 0
    for (const [from, to] of parts) {
      out.skip(from - at)
      out.append(bytes.subarray(from, to))
      at = to
    }
    out.skip(bytes.length - at)
    return out
  }
  const input: ListsInput = { ...lists, relevant: (name) => !name.startsWith('beta/'), scopeOf: (name) => name.split('/')[0]!, checked: new Set(['alpha', 'gamma']), scratchDir: dir, regions }
  const withRegions = compareLists(input)
  const withHoles = compareLists({ ...input, checksums: holed(lists.checksums, regions.sums), index: holed(lists.index, regions.index), holes: true })
  expect(withHoles.verified).toBe(withRegions.verified)
  expect(withHoles.end).toEqual(withRegions.end)
  expect(withHoles.unlisted).toEqual(withRegions.unlisted)
  // the same problems; their lines named by where they start, not by a count the holes would make wrong
  const sumsText = Buffer.concat([...lists.checksums.blocks()].map((b) => Buffer.from(b))).toString('latin1')
  expect(withHoles.sums.map((p) => p.text)).toEqual([`checksums.sha256: the line at byte ${sumsText.indexOf('not a sum line')}: not a sha256sum line`])
  expect(withRegions.sums.map((p) => p.text)).toEqual(['checksums.sha256: line 4: not a sha256sum line'])
  expect(withHoles.index.map((p) => p.text.replace(/the line at byte \d+/, 'line N'))).toEqual(withRegions.index.map((p) => p.text.replace(/line \d+/, 'line N')))
}, 30_000)

test('list lines: each region of a spool line by line with the offset each line starts at, across blocks, as latin1', () => {
  {
    let x = 5
    const next = () => ((x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31)
    for (let round = 0; round < 6; round++) {
      // ~700 KB: lines of 0 to 3,000 bytes (any byte but the newline), some far longer than others, across 256 KiB blocks
      const parts: Buffer[] = []
      for (let size = 0; size < 700_000; ) {
        const line = Buffer.from(Array.from({ length: next() < 0.05 ? 0 : Math.floor(next() * 3000) }, () => [0x61, 0x20, 0xe9, 0xff, 0x00, 0x7b][Math.floor(next() * 6)]!))
        parts.push(line, Buffer.from('\n'))
        size += line.length + 1
      }
      if (round % 2) parts.pop() // the last line without its newline
      const content = Buffer.concat(parts)
      const spool = new Spool(dir)
      spool.append(content)
      const cut = () => Math.floor(next() * (content.length + 10))
      const ranges: [number, number][] = round === 0 ? [] : Array.from({ length: 3 }, () => [cut(), cut()] as [number, number]).map(([a, b]) => [Math.min(a, b), Math.max(a, b)] as [number, number]).sort((a, b) => a[0] - b[0])
      const expected: [string, number][] = []
      for (const [start, end] of round === 0 ? [[0, content.length] as [number, number]] : ranges) {
        const [from, to] = [Math.min(start, content.length), Math.min(end, content.length)]
        const text = content.toString('latin1', from, to)
        let at = 0
        for (const line of text.split('\n')) {
          if (at + line.length < text.length || line.length) expected.push([line, from + at])
          at += line.length + 1
        }
      }
      const lines = new PlacedLines(spool, round === 0 ? null : ranges)
      const got: [string, number][] = []
      for (let line = lines.next(); line !== null; line = lines.next()) got.push([line, lines.at])
      expect(got.length).toBe(expected.length)
      expect(got).toEqual(expected)
      spool.close()
    }
  }
  // a one-byte last line, an empty line, a region that starts and ends inside lines
  const spool = new Spool(dir)
  spool.append(Buffer.from('ab\nc\n\nxyz\nq'))
  const read = (ranges: [number, number][] | null) => {
    const lines = new PlacedLines(spool, ranges)
    const got: [string, number][] = []
    for (let line = lines.next(); line !== null; line = lines.next()) got.push([line, lines.at])
    return got
  }
  expect(read(null)).toEqual([['ab', 0], ['c', 3], ['', 5], ['xyz', 6], ['q', 10]])
  expect(read([[1, 4], [7, 20]])).toEqual([['b', 1], ['c', 3], ['yz', 7], ['q', 10]])
  spool.close()
})
