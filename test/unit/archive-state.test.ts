import { expect, test } from 'bun:test'
import { rmSync } from 'node:fs'
import { compareEntries, comparePaths, ParentState } from '../../src/archive/parent-state.ts'
import { identityOf, nsText, parseStateLine, stateLine, stateLineSchema, type StateEntry } from '../../src/archive/state-file.ts'
import { tempDir } from '../helpers/fleet.ts'

// state.jsonl: what --incremental compares with, read fast (by hand) and by the schema alike
const entry: StateEntry = { molt: 'alpha', rel: 'Maildir/cur/caf\xe9', kind: 'f', size: 812, mode: 0o600, mtime: '1764921600.123456789', ctime: '1764921600.000000001', ino: 4711, held: true, sha256: '' }

test('a line round-trips, names as latin1 text of their bytes included', () => {
  const line = stateLine(entry)
  expect(line.endsWith('\n')).toBe(true)
  expect(parseStateLine(line.trimEnd())).toEqual(entry)
  expect(stateLineSchema().safeParse(JSON.parse(line)).success).toBe(true)
})

test("a file left to the chain carries its digest; a line of 9 fields (before digests were recorded) still reads, with none", () => {
  const carried: StateEntry = { ...entry, held: false, sha256: 'ab'.repeat(32) }
  expect(parseStateLine(stateLine(carried).trimEnd())).toEqual(carried)
  expect(stateLineSchema().safeParse(JSON.parse(stateLine(carried))).success).toBe(true)
  const old = '["alpha","x","f",1,"0644","1.000000000","1.000000000",1,0]'
  expect(parseStateLine(old)).toMatchObject({ held: false, sha256: '' })
  expect(stateLineSchema().safeParse(JSON.parse(old)).success).toBe(true)
})

test('nanosecond times are exact, before 1970 too', () => {
  expect(nsText(1764921600123456789n)).toBe('1764921600.123456789')
  expect(nsText(-1500000000n)).toBe('-1.500000000')
  expect(nsText(5, 7)).toBe('5.000000007')
})

test('identity: a change of size, mode, mtime, ctime or inode is a change', () => {
  const base = identityOf(entry)
  for (const change of [{ size: 813 }, { mode: 0o644 }, { mtime: '1764921600.123456780' }, { ctime: '1764921601.000000001' }, { ino: 4712 }]) expect(identityOf({ ...entry, ...change })).not.toBe(base)
  const carried: StateEntry = { ...entry, held: false }
  expect(identityOf(carried)).toBe(base)
})

test.each([
  ['not JSON', '{'],
  ['too short', '["alpha","x","f",1,"0644","1.000000000","1.000000000",1]'],
  ['unknown kind', '["alpha","x","p",1,"0644","1.000000000","1.000000000",1,1]'],
  ['negative size', '["alpha","x","f",-1,"0644","1.000000000","1.000000000",1,1]'],
  ['decimal mode', '["alpha","x","f",1,"644","1.000000000","1.000000000",1,1]'],
  ['time without nanoseconds', '["alpha","x","f",1,"0644","1","1.000000000",1,1]'],
  ['held neither 0 nor 1', '["alpha","x","f",1,"0644","1.000000000","1.000000000",1,2]'],
  ['no molt', '["","x","f",1,"0644","1.000000000","1.000000000",1,1]'],
  ['a digest that is not sha256 hex', '["alpha","x","f",1,"0644","1.000000000","1.000000000",1,0,"ABC"]'],
  ['eleven fields', '["alpha","x","f",1,"0644","1.000000000","1.000000000",1,0,"",1]'],
])('refused, by the fast check and the schema alike: %s', (_, row) => {
  expect(typeof parseStateLine(row)).toBe('string')
  let raw: unknown = null
  try {
    raw = JSON.parse(row)
  } catch {}
  if (raw !== null) expect(stateLineSchema().safeParse(raw).success).toBe(false)
})

test('walk order: a folder before what it holds, names as strings of their bytes — the order collect.ts plans in', () => {
  // depth-first, each folder's names sorted: what planMolt visits
  const tree = ['', '.openclaw', '.openclaw/a-b', '.openclaw/a', '.openclaw/a/x', '.openclaw/ab', 'Maildir', 'Maildir/\xe9t\xe9', 'Maildir/cur', 'Maildir/cur/1:2,S']
  const walked = ['', '.openclaw', '.openclaw/a', '.openclaw/a/x', '.openclaw/a-b', '.openclaw/ab', 'Maildir', 'Maildir/cur', 'Maildir/cur/1:2,S', 'Maildir/\xe9t\xe9']
  expect([...tree].sort(comparePaths)).toEqual(walked)
  expect(compareEntries('alpha', 'z', 'bravo', '')).toBeLessThan(0)
})

test("a parent's state out of walk order is refused as it is read (the backup becomes a full one)", () => {
  const dir = tempDir('clmnt-state-')
  const state = new ParentState(dir)
  try {
    state.add({ ...entry, rel: 'Maildir/cur' })
    state.add({ ...entry, rel: 'Maildir/cur/1' })
    expect(() => state.add({ ...entry, rel: 'Maildir/cur' })).toThrow('its state.jsonl is not in walk order at "alpha/Maildir/cur"')
    expect([...state.entries()].map((e) => [e.rel, e.identity, e.held])).toEqual([
      ['Maildir/cur', identityOf(entry), true],
      ['Maildir/cur/1', identityOf(entry), true],
    ])
  } finally {
    state.close()
    rmSync(dir, { recursive: true })
  }
})
