import { expect, test } from 'bun:test'
import { byteName } from '../../src/archive/byte-names.ts'
import { encodeHeader, plainIndexLine, writtenIndexLine } from '../../src/archive/restore-index.ts'
import { indexLine, indexLineSchema, indexLinkBytes, indexPathBytes, nameKey, parseIndex, parseIndexLine, type IndexEntry } from '../../src/archive/index-file.ts'

const latin1Name = new Uint8Array([...Buffer.from('alpha/Maildir/.caf'), 0xe9]) // "café" in Latin-1: not UTF-8

test.each<[string, IndexEntry, Record<string, unknown>]>([
  ['a file', { path: 'alpha/x', type: 'file', mode: 0o640, size: 3, mtime: '1700000000.5', molt: 'alpha' }, { path: 'alpha/x', type: 'file', mode: '0640', size: 3, mtime: '1700000000.5', molt: 'alpha' }],
  ['a folder loses its slash', { path: 'alpha/Maildir/', type: 'dir', mode: 0o700, size: 0, mtime: '1700000000', molt: 'alpha' }, { path: 'alpha/Maildir', type: 'dir', mode: '0700', size: 0, mtime: '1700000000', molt: 'alpha' }],
  ['a symlink', { path: 'alpha/l', type: 'symlink', mode: 0o777, size: 0, mtime: '1', link: 'x', molt: 'alpha' }, { path: 'alpha/l', type: 'symlink', mode: '0777', size: 0, mtime: '1', link: 'x', molt: 'alpha' }],
  ['a sparse file', { path: 'alpha/img', type: 'file', mode: 0o600, size: 1 << 30, mtime: '1', sparse: true, molt: 'alpha' }, { path: 'alpha/img', type: 'file', mode: '0600', size: 1 << 30, mtime: '1', sparse: true, molt: 'alpha' }],
  ['the manifest', { path: 'manifest.json', type: 'file', mode: 0o600, size: 9, mtime: '1', molt: null }, { path: 'manifest.json', type: 'file', mode: '0600', size: 9, mtime: '1', molt: null }],
  ['setuid bits kept', { path: 'a', type: 'file', mode: 0o4755, size: 0, mtime: '1', molt: null }, { path: 'a', type: 'file', mode: '04755', size: 0, mtime: '1', molt: null }],
])('%s: written and read back', (_, entry, expected) => {
  const line = indexLine(entry)
  expect(line.endsWith('\n')).toBe(true)
  expect(JSON.parse(line)).toEqual(expected)
  expect(parseIndexLine(line.trimEnd())).toEqual(expected as never)
})

test('names that are not UTF-8 go as base64 of their bytes, and come back byte for byte', () => {
  const line = indexLine({ path: latin1Name, type: 'dir', mode: 0o700, size: 0, mtime: '1', molt: 'alpha' })
  const parsed = parseIndexLine(line.trimEnd())
  if (typeof parsed === 'string') throw new Error(parsed)
  expect(parsed.path).toBeUndefined()
  expect(Buffer.from(indexPathBytes(parsed))).toEqual(Buffer.from(latin1Name))
  expect(nameKey(indexPathBytes(parsed))).toBe(nameKey(latin1Name))
  // bytes that are valid UTF-8 are written as text
  const utf8 = indexLine({ path: new TextEncoder().encode('alpha/é'), type: 'symlink', mode: 0o777, size: 0, mtime: '1', link: latin1Name, molt: 'alpha' })
  const back = parseIndexLine(utf8.trimEnd())
  if (typeof back === 'string') throw new Error(back)
  expect(back.path).toBe('alpha/é')
  expect(Buffer.from(indexLinkBytes(back)!)).toEqual(Buffer.from(latin1Name))
  expect(nameKey('alpha/é')).toBe(nameKey(new TextEncoder().encode('alpha/é')))
})

test.each([
  ['not JSON', '{', 'not JSON'],
  ['both names', '{"path":"a","path_b64":"YQ==","type":"file","mode":"0644","size":0,"mtime":"1","molt":null}', 'exactly one of path and path_b64'],
  ['no name', '{"type":"file","mode":"0644","size":0,"mtime":"1","molt":null}', 'exactly one of path and path_b64'],
  ['decimal mode', '{"path":"a","type":"file","mode":"644","size":0,"mtime":"1","molt":null}', 'octal'],
  ['a symlink without target', '{"path":"a","type":"symlink","mode":"0777","size":0,"mtime":"1","molt":null}', 'without a link target'],
  ['a file with a target', '{"path":"a","type":"file","mode":"0644","size":0,"mtime":"1","link":"b","molt":null}', 'with a link target'],
  ['a sized folder', '{"path":"a","type":"dir","mode":"0755","size":5,"mtime":"1","molt":null}', 'size 0'],
  ['an unknown key', '{"path":"a","type":"file","mode":"0644","size":0,"mtime":"1","molt":null,"uid":0}', 'uid'],
  ['a bad mtime', '{"path":"a","type":"file","mode":"0644","size":0,"mtime":"yesterday","molt":null}', 'decimal seconds'],
])('%s is refused', (_, row, reason) => {
  const parsed = parseIndexLine(row)
  expect(typeof parsed).toBe('string')
  expect(parsed as string).toContain(reason)
})

test('parseIndex numbers the bad lines and keeps the good ones', () => {
  const text = indexLine({ path: 'a', type: 'file', mode: 0o644, size: 1, mtime: '1', molt: null }) + 'oops\n'
  const parsed = parseIndex(text)
  expect(parsed.lines).toHaveLength(1)
  expect(parsed.bad).toEqual(['line 2: not JSON'])
})

test('the hand check of common lines says what the schema says, line for line (mutations of every field)', () => {
  const bases: Record<string, unknown>[] = [
    { path: 'alpha/Maildir/cur/1:2,S', type: 'file', mode: '0600', size: 812, mtime: '1764921600.123456789', molt: 'alpha' },
    { path: 'alpha/.openclaw/link', type: 'symlink', mode: '0777', size: 0, mtime: '1764921600', link: 'workspace', molt: 'alpha' },
    { path: 'alpha/h', type: 'hardlink', mode: '0644', size: 0, mtime: '-5', link: 'alpha/x', molt: 'alpha' },
    { path: 'manifest.json', type: 'file', mode: '0600', size: 9, mtime: '1', molt: null },
    { path: 'alpha/d', type: 'dir', mode: '04755', size: 0, mtime: '1.5', molt: 'alpha' },
  ]
  const values: unknown[] = [undefined, null, '', 'x', 'a/b', 0, -1, 1.5, 3, 2 ** 53, '0644', '644', '08888', '1', '-1', '1.', '1.1234567890', 'file', 'dir', 'symlink', 'hardlink', 'fifo', true, false, [], {}, 'YQ==']
  const keys = ['path', 'type', 'mode', 'size', 'mtime', 'link', 'molt', 'path_b64', 'link_b64', 'sparse', 'uid', '__proto__']
  let compared = 0
  for (const base of bases) {
    for (const key of keys) {
      for (const value of values) {
        const line: Record<string, unknown> = { ...base }
        if (value === undefined) delete line[key]
        else Object.defineProperty(line, key, { value, enumerable: true, writable: true, configurable: true })
        const row = JSON.stringify(line)
        const schema = indexLineSchema().safeParse(JSON.parse(row))
        const parsed = parseIndexLine(row)
        if (schema.success) expect(parsed).toEqual(schema.data)
        else expect(typeof parsed).toBe('string')
        compared++
      }
    }
  }
  expect(compared).toBe(bases.length * keys.length * values.length)
})

test('the in-place check of an index line agrees with the line a backup writes, and takes no line one byte off', () => {
  const cases: [string, Parameters<typeof encodeHeader>[0]][] = [
    ['alpha/Maildir/cur/1700000000.M1P2.host:2,S', { type: 'file', mode: 0o600, size: 1234, mtime: '1700000000.123456789', molt: 'alpha', link: '' }],
    ['alpha/.openclaw', { type: 'dir', mode: 0o700, size: 0, mtime: '1700000000', molt: 'alpha', link: '' }],
    ['global/molts.json', { type: 'file', mode: 0o4755, size: 0, mtime: '-5', molt: null, link: '' }],
    ['alpha/"quoted"', { type: 'file', mode: 0o644, size: 1, mtime: '1', molt: 'alpha', link: '' }],
    ['alpha/back\\slash', { type: 'file', mode: 0o644, size: 1, mtime: '1', molt: 'alpha', link: '' }],
    ['alpha/caf\xe9', { type: 'file', mode: 0o644, size: 1, mtime: '1', molt: 'alpha', link: '' }],
    ['alpha/link', { type: 'symlink', mode: 0o777, size: 0, mtime: '1', molt: 'alpha', link: 'x' }],
  ]
  for (const [name, facts] of cases) {
    const header = encodeHeader(facts)
    const written = writtenIndexLine(name, facts)!
    const plain = plainIndexLine(name, header)
    // the names JSON escapes, latin-1 bytes and links are left to writtenIndexLine; a plain line is its own bytes (lines are read as latin1)
    expect(plain === null ? null : byteName(written) === plain).toBe(/^[\x20-\x7e]+$/.test(name) && !/["\\]/.test(name) && facts.type !== 'symlink' ? true : null)
  }
})
