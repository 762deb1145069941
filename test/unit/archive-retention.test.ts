import { expect, test } from 'bun:test'
import { archivesToPrune, blankListing, chainGap, type BackupListing } from '../../src/archive/list.ts'

// --keep judges archives by what their manifest says: host, base dir, time
const HOST = 'claw1'
const BASE = '/srv/fleet'
function archive(file: string, created: string, over: Partial<BackupListing> = {}): BackupListing {
  const l = blankListing({ file, path: `/b/${file}`, status: 'ok', size: 1, mtimeMs: 0 })
  return { ...l, created, sort_ms: Date.parse(created), hostname: HOST, base_dir: BASE, ...over }
}
const scope = (keep: number, justWritten: string) => ({ keep, hostname: HOST, baseDir: BASE, justWritten })
const names = (ls: BackupListing[]) => ls.map((l) => l.file).sort()

const a1 = archive('fleet-2026-01-01-000000.tar.gz', '2026-01-01T00:00:00Z')
const a2 = archive('fleet-2026-01-02-000000.tar.gz', '2026-01-02T00:00:00Z')
const a3 = archive('fleet-2026-01-03-000000.tar.gz', '2026-01-03T00:00:00Z')
const now = archive('fleet-2026-01-04-000000.tar.gz', '2026-01-04T00:00:00Z')

test.each<[string, BackupListing[], number, string[]]>([
  ['the oldest beyond N go', [a1, a2, a3, now], 2, [a1.file, a2.file]],
  ['keep 1 keeps only the new one', [a1, a2, a3, now], 1, [a1.file, a2.file, a3.file]],
  ['nothing to do', [a3, now], 5, []],
  // an old archive whose manifest is dated in the future: it may take a place, never the new one's
  ['a future-dated older archive never pushes out the one just written', [a1, archive('fleet-2020-01-01-000000.tar.gz', '2099-01-01T00:00:00Z'), now], 2, [a1.file]],
  ['another fleet in the same folder is never touched', [a1, archive('fleet-2025-01-01-000000.tar.gz', '2025-01-01T00:00:00Z', { base_dir: '/srv/other' }), now], 1, [a1.file]],
  ['another host is never touched', [a1, archive('fleet-2025-01-01-000000.tar.gz', '2025-01-01T00:00:00Z', { hostname: 'claw2' }), now], 1, [a1.file]],
  ['an archive that does not say its base dir is never touched', [a1, archive('fleet-2025-01-01-000000.tar.gz', '2025-01-01T00:00:00Z', { base_dir: null }), now], 1, [a1.file]],
  ['a broken, legacy or unfinished file is never touched', [a1, archive('fleet-2025-01-01-000000.tar.gz', '2025-01-01T00:00:00Z', { status: 'corrupt' }), archive('fleet-2025-01-02-000000.tar.gz', '2025-01-02T00:00:00Z', { status: 'legacy' }), now], 1, [a1.file]],
  ['a file named otherwise is never touched', [a1, archive('mine.tar.gz', '2025-01-01T00:00:00Z'), now], 1, [a1.file]],
])('%s', (_, listings, keep, expected) => {
  expect(names(archivesToPrune(listings, scope(keep, now.file)))).toEqual(expected.sort())
})

// chains: a kept incremental archive needs its parents up to its full one
const inc = (file: string, created: string, parent: string) => archive(file, created, { kind: 'incremental', parent })
const full1 = archive('fleet-2026-02-01-000000.tar.gz', '2026-02-01T00:00:00Z', { kind: 'full' })
const i1 = inc('fleet-2026-02-02-000000.tar.gz', '2026-02-02T00:00:00Z', full1.file)
const i2 = inc('fleet-2026-02-03-000000.tar.gz', '2026-02-03T00:00:00Z', i1.file)
const full2 = archive('fleet-2026-02-04-000000.tar.gz', '2026-02-04T00:00:00Z', { kind: 'full' })
const i3 = inc('fleet-2026-02-05-000000.tar.gz', '2026-02-05T00:00:00Z', full2.file)

test.each<[string, BackupListing[], number, string, string[]]>([
  ['the parents of the one just written stay, beyond N', [full1, i1, i2], 1, i2.file, []],
  ['the parents of a kept one stay; an older chain no kept archive needs goes', [full1, i1, i2, full2, i3], 2, i3.file, [full1.file, i1.file, i2.file]],
  ['keep 3 keeps full2, i3 and i2 — and i2 needs i1 and full1', [full1, i1, i2, full2, i3], 3, i3.file, []],
  ['a parent on the bucket (from its completion marker) counts the same', [full1, i1, i2, full2], 1, full2.file, [full1.file, i1.file, i2.file]],
])('chains: %s', (_, listings, keep, justWritten, expected) => {
  expect(names(archivesToPrune(listings, scope(keep, justWritten)))).toEqual(expected.sort())
})

// list-backups: an incremental archive whose chain is not whole beside it is said to be broken
test.each<[string, BackupListing, BackupListing[], string | null]>([
  ['a whole chain', i2, [full1, i1, i2], null],
  ['a full archive has no chain to break', full1, [full1], null],
  ['its parent missing', i1, [i1, i2], `broken chain: its parent ${full1.file} is missing from /b`],
  ['an archive further up missing', i2, [i1, i2], `broken chain: its chain needs ${full1.file}, which is missing from /b`],
  ['its parent there but damaged', i2, [full1, { ...i1, status: 'corrupt' }, i2], `broken chain: its parent ${i1.file} is corrupt in /b`],
  ['a parent still being written', i2, [full1, { ...i1, status: 'incomplete' }, i2], `broken chain: its parent ${i1.file} is incomplete in /b`],
  ['a loop', inc('a.tar.gz', '2026-02-02T00:00:00Z', 'b.tar.gz'), [inc('a.tar.gz', '2026-02-02T00:00:00Z', 'b.tar.gz'), inc('b.tar.gz', '2026-02-01T00:00:00Z', 'a.tar.gz')], 'broken chain: its chain of parents loops at a.tar.gz'],
])('%s', (_, listing, listings, expected) => {
  expect(chainGap(listing, listings, '/b')).toBe(expected)
})
