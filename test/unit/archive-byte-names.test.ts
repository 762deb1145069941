import { expect, test } from 'bun:test'
import { join } from 'node:path'
import { bytesOf, pathIn } from '../../src/archive/byte-names.ts'
import { formatCount } from '../../src/archive/format.ts'

test('pathIn: the folder as UTF-8, the name as its bytes, whichever folder came before', () => {
  const plain = (dir: string, rel: string) => (rel === '' ? Buffer.from(dir) : Buffer.concat([Buffer.from(join(dir, '/')), bytesOf(rel)]))
  // an ASCII folder, a folder with é (two bytes in UTF-8), a folder written with a trailing slash; names with bytes ≥ 0x80
  const dirs = ['/srv/fleet/.stage/alpha', '/srv/flotte-\u00e9t\u00e9/alpha', '/srv/fleet/', '/srv/\u{1f980}/x']
  const rels = ['Maildir/cur/1:2,S', 'caf\xe9', '\xff\xfe/\x80', '', '.openclaw/agents/main']
  // in turn, so the kept prefix changes between calls and is used twice in a row
  for (const dir of [...dirs, ...dirs.slice().reverse()]) {
    for (const rel of rels) expect(pathIn(dir, rel).equals(plain(dir, rel))).toBe(true)
  }
  expect(pathIn('/srv/flotte-\u00e9t\u00e9', 'caf\xe9')).toEqual(Buffer.from([...Buffer.from('/srv/flotte-\u00e9t\u00e9/'), 0x63, 0x61, 0x66, 0xe9]))
})

test('formatCount groups thousands as en-US does', () => {
  for (const n of [0, 7, 999, 1000, 39180, 1234567, -1234, -999, 2 ** 53 - 1, 1.5, 1234.5]) expect(formatCount(n)).toBe(n.toLocaleString('en-US'))
})
