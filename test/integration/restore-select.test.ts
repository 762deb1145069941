import { afterAll, beforeAll, expect, test } from 'bun:test'
import { spawnSync } from 'node:child_process'
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { constants as zlibConstants, deflateRawSync } from 'node:zlib'
import { readArchiveHead } from '../../src/archive/read.ts'
import { planSeekRead } from '../../src/archive/seek-read.ts'
import { parseSeekLine, readLocator, SEEK_HEAD_LINE, SEEK_LINE, seekLine, type MoltRange } from '../../src/archive/seek-index.ts'
import { addBulk, addText, gunzipAll, run, writeRichFleet } from '../helpers/archive.ts'
import { runCli } from '../helpers/cli.ts'
import { removeDir, tempDir } from '../helpers/fleet.ts'
import { readTree, treeDiff } from '../helpers/tree.ts'

// `restore --select` through the molt index (seek-index.ts, seek-read.ts): the same result as the
// full read, only the selected molt's part inflated, and an index that does not match is never trusted.
let root: string
let gz: string
let zst: string
/** bravo restored from a full read of the whole archive: the reference */
let reference: Map<string, import('../helpers/tree.ts').TreeEntry>
const MOLTS = [
  { name: 'alpha', port: 19001 },
  { name: 'bravo', port: 19021 },
  { name: 'delta', port: 19041 },
]

beforeAll(async () => {
  root = tempDir('clmnt-select-')
  const fleet = join(root, 'fleet')
  writeRichFleet(fleet, MOLTS)
  // each molt spans several 1 MiB compressed chunks
  for (const m of MOLTS) {
    addText(join(fleet, m.name), 40, 50_000)
    addBulk(join(fleet, m.name), 4, 200_000)
  }
  for (const [compression, dir] of [['gzip', 'gz'], ['zstd', 'zst']] as const) {
    const out = join(root, dir)
    mkdirSync(out)
    const backup = await runCli(['fleet', 'backup', '-d', fleet, '--output', out, '--compression', compression, '-q'])
    if (backup.code !== 0) throw new Error(backup.stderr)
    if (dir === 'gz') gz = join(out, readdirSync(out)[0]!)
    else zst = join(out, readdirSync(out)[0]!)
  }
  const full = await restore(gz, 'full', [])
  expect(full.code).toBe(0)
  reference = readTree(join(root, 'full', 'bravo'))
}, 240_000)
afterAll(() => removeDir(root))

async function restore(archive: string, into: string, extra: string[]) {
  const base = join(root, into)
  mkdirSync(base)
  return runCli(['fleet', 'restore', '-d', base, '--from', archive, '--yes', '--skip-users', '--skip-cron', ...extra])
}

/** The restored bravo against the full read's, .molt-info aside (it names the base dir and the time of the restore). */
function sameAsReference(into: string): string[] {
  return treeDiff(reference, readTree(join(root, into, 'bravo')), { ignore: (rel) => rel === '.molt-info' })
}

function seekRanges(archive: string, decompress: (path: string) => Uint8Array): MoltRange[] {
  const text = Buffer.from(decompress(archive)).toString('latin1')
  return text.split('\n').filter((l) => l.startsWith(SEEK_LINE)).map((l) => parseSeekLine(l)!)
}
const zstdAll = (path: string) => new Uint8Array(Bun.zstdDecompressSync(readFileSync(path)))

/** A copy of the archive with `length` bytes of a molt's compressed range overwritten. */
function damage(archive: string, out: string, range: MoltRange): void {
  const bytes = readFileSync(archive)
  bytes.fill(0x55, range.offset + Math.floor(range.length / 2), range.offset + Math.floor(range.length / 2) + 4096)
  writeFileSync(out, bytes)
}

test('the archive is still one gzip member every reader reads whole, with one molt index line per molt', () => {
  const ranges = seekRanges(gz, gunzipAll)
  expect(ranges.map((r) => r.molt)).toEqual(['alpha', 'bravo', 'delta'])
  expect(readLocator(gz, 'gzip')).not.toBeNull()
  const members = run('tar', ['-tzf', gz]).split('\n').filter(Boolean)
  expect(run('bsdtar', ['-tzf', gz]).split('\n').filter(Boolean).length).toBe(members.length)
  expect(run('python3', ['-c', 'import sys, tarfile\nprint(sum(1 for _ in tarfile.open(sys.argv[1], "r|gz")))', gz]).trim()).toBe(String(members.length))
  expect(run('sh', ['-c', `busybox tar -tzf '${gz}' | wc -l`]).trim()).toBe(String(members.length))
  // sha256sum -c skips the #clmnt-seek lines like the other comments
  const x = join(root, 'x')
  mkdirSync(x)
  run('tar', ['-xzf', gz, '-C', x])
  expect(run('sha256sum', ['--strict', '-c', 'checksums.sha256'], { cwd: x })).not.toContain('FAILED')
}, 120_000)

test("each molt index line says where the molt's lines are in index.jsonl and checksums.sha256, and what files it has", () => {
  for (const [archive, decompress, flag] of [[gz, gunzipAll, '-z'], [zst, zstdAll, '--zstd']] as const) {
    const member = (name: string) => Buffer.from(run('sh', ['-c', `tar ${flag} -xOf '${archive}' ${name} | base64 -w0`]), 'base64')
    const index = member('index.jsonl')
    const sums = member('checksums.sha256')
    const ranges = seekRanges(archive, decompress)
    for (const r of ranges) {
      const l = r.lists!
      const own = index.subarray(l.index_offset, l.index_offset + l.index_length).toString('latin1').split('\n').slice(0, -1).map((line) => JSON.parse(line) as { molt: string; type: string; size: number })
      const all = index.toString('latin1').split('\n').slice(0, -1).map((line) => JSON.parse(line) as { molt: string; type: string; size: number })
      expect(own).toEqual(all.filter((row) => row.molt === r.molt))
      const files = own.filter((row) => row.type === 'file')
      expect([l.files, l.bytes]).toEqual([files.length, files.reduce((sum, row) => sum + row.size, 0)])
      const ownSums = sums.subarray(l.sums_offset, l.sums_offset + l.sums_length).toString('latin1').split('\n').slice(0, -1)
      expect(ownSums).toEqual(sums.toString('latin1').split('\n').filter((line) => line.slice(66).startsWith(`${r.molt}/`)))
    }
  }
}, 60_000)

test('--select bravo restores what the full read restores, reading only bravo: a damaged alpha does not matter', async () => {
  const selected = await restore(gz, 'one', ['--select', 'bravo'])
  expect(selected.code).toBe(0)
  expect(sameAsReference('one')).toEqual([])
  expect(readdirSync(join(root, 'one')).filter((n) => MOLTS.some((m) => m.name === n))).toEqual(['bravo'])

  const alpha = seekRanges(gz, gunzipAll)[0]!
  const damaged = join(root, 'damaged.tar.gz')
  damage(gz, damaged, alpha)
  const full = await restore(damaged, 'damaged-full', [])
  expect(full.code).toBe(1)
  const one = await restore(damaged, 'damaged-one', ['--select', 'bravo'])
  expect(one.stderr).not.toContain('molt index')
  expect(one.code).toBe(0)
  expect(sameAsReference('damaged-one')).toEqual([])
  // --only and --dry-run go through the index too
  const dry = await runCli(['fleet', 'restore', '-d', join(root, 'damaged-one'), '--from', damaged, '--select', 'bravo', '--only', 'config', '--force', '--dry-run', '--skip-users'])
  expect(dry.code).toBe(0)
}, 120_000)

test('zstd: the same, one frame per molt boundary', async () => {
  const ranges = seekRanges(zst, zstdAll)
  expect(ranges.map((r) => r.molt)).toEqual(['alpha', 'bravo', 'delta'])
  expect(run('sh', ['-c', `tar --zstd -tf '${zst}' | wc -l`]).trim()).toBe(run('sh', ['-c', `tar -tzf '${gz}' | wc -l`]).trim())
  const damaged = join(root, 'damaged.tar.zst')
  damage(zst, damaged, ranges[2]!)
  const one = await restore(damaged, 'zst-one', ['--select', 'bravo'])
  expect(one.code).toBe(0)
  expect(sameAsReference('zst-one')).toEqual([])
}, 120_000)

test('a recompressed archive (gunzip | gzip) has no index: read whole, same result', async () => {
  const recompressed = join(root, 'recompressed.tar.gz')
  run('sh', ['-c', `gzip -dc '${gz}' | gzip -1 > '${recompressed}'`])
  expect(readLocator(recompressed, 'gzip')).toBeNull()
  const result = await restore(recompressed, 'recompressed', ['--select', 'bravo'])
  expect(result.code).toBe(0)
  expect(sameAsReference('recompressed')).toEqual([])
}, 120_000)

/** Overwrite `before` in the tar with `after`, padded with spaces to its length (no tar header changes). */
function replaceLine(tar: Buffer, before: string, after: string): void {
  expect(after.length).toBeLessThanOrEqual(before.length)
  const at = tar.indexOf(before, 0, 'latin1')
  expect(at).toBeGreaterThan(0)
  tar.write(after.padEnd(before.length, ' '), at, 'latin1')
}

const trailerOf = (tar: Buffer) => {
  const trailer = Buffer.alloc(8)
  trailer.writeUInt32LE(Bun.hash.crc32(tar) >>> 0, 0)
  trailer.writeUInt32LE(tar.length % 2 ** 32, 4)
  return trailer
}
const LIST_CHUNK_FIELD = /,"(index_chunk|sums_chunk|index_data|index_end_chunk|sums_data|sums_end_chunk)": *\d+/g
/** raw deflate ending in a sync flush (byte-aligned, not final): the next part can start there with an empty window */
const deflatePart = (bytes: Uint8Array) => deflateRawSync(bytes, { finishFlush: zlibConstants.Z_SYNC_FLUSH })

/**
 * The archive with its tail (index.jsonl, checksums.sha256) rewritten: `edit` changes the molt
 * index lines (padded with spaces to their old length, so no tar header changes). The head and the
 * molts' compressed bytes stay as they are; the tail is compressed again in its two chunks (the molt
 * index lines start the second: the locator's fourth number says where), with a correct trailer.
 */
function withEditedIndex(out: string, edit: (ranges: MoltRange[]) => void): void {
  const tar = Buffer.from(gunzipAll(gz))
  const ranges = seekRanges(gz, gunzipAll)
  const edited = ranges.map((r) => ({ ...r, lists: r.lists && { ...r.lists } }))
  edit(edited)
  for (let i = 0; i < ranges.length; i++) replaceLine(tar, seekLine(ranges[i]!).trimEnd(), seekLine(edited[i]!).trimEnd())
  writeTail(out, tar)
}

/**
 * gz with its tail compressed again from `tar` (edited in place, same length) in its two chunks; the
 * locator's lines offset follows. The list chunks are gone with it: their places come out of the
 * molt index lines (an archive written before them).
 */
function writeTail(out: string, tar: Buffer): void {
  for (const line of tar.toString('latin1').split('\n')) {
    if (!line.startsWith('#clmnt-seek')) continue
    const without = line.replace(LIST_CHUNK_FIELD, '')
    if (without !== line) replaceLine(tar, line, without)
  }
  const { tailOffset, tailTarOffset, lines } = readLocator(gz, 'gzip')!.locator
  const first = deflatePart(tar.subarray(tailTarOffset, lines!.tarOffset))
  const head = Buffer.from(readFileSync(gz).subarray(0, tailOffset))
  head.write((tailOffset + first.length).toString(16).padStart(16, '0'), head.indexOf('clmnt-seek 2 ') + 13 + 3 * 17, 'latin1')
  writeFileSync(out, Buffer.concat([head, first, deflateRawSync(tar.subarray(lines!.tarOffset)), trailerOf(tar)]))
  // still a sound archive for GNU tar, with the same members
  expect(run('sh', ['-c', `tar -tzf '${out}' | wc -l`])).toBe(run('sh', ['-c', `tar -tzf '${gz}' | wc -l`]))
}

/**
 * The archive as clmnt wrote it before the molt index lines had a chunk of their own (locator
 * version 1, no #clmnt-seek-head line): every chunk compressed again at the same tar offsets, the
 * lines rewritten with the new compressed offsets (the header is shorter).
 */
function asVersion1(out: string): void {
  const tar = Buffer.from(gunzipAll(gz))
  const { tailTarOffset } = readLocator(gz, 'gzip')!.locator
  const ranges = seekRanges(gz, gunzipAll)
  const headLine = tar.toString('latin1').split('\n').find((l) => l.startsWith(SEEK_HEAD_LINE))!
  replaceLine(tar, headLine, '#')
  const cuts = [0, ...ranges.map((r) => r.tar_offset), tailTarOffset]
  const parts = cuts.slice(0, -1).map((from, i) => deflatePart(tar.subarray(from, cuts[i + 1])))
  const comment = (offsets: number[]) => Buffer.from(`clmnt-seek 1 ${offsets.map((n) => n.toString(16).padStart(16, '0')).join(' ')}\0`, 'latin1')
  const header = Buffer.concat([Buffer.from([0x1f, 0x8b, 0x08, 0x10, 0, 0, 0, 0, 0x00, 0x03]), comment([0, 0, 0])])
  const starts: number[] = []
  let at = header.length
  for (const part of parts) {
    starts.push(at)
    at += part.length
  }
  const moved = ranges.map((r, i) => ({ ...r, offset: starts[i + 1]!, length: (starts[i + 2] ?? at) - starts[i + 1]! }))
  for (let i = 0; i < ranges.length; i++) replaceLine(tar, seekLine(ranges[i]!).trimEnd(), seekLine(moved[i]!).trimEnd())
  const v1 = Buffer.concat([Buffer.from([0x1f, 0x8b, 0x08, 0x10, 0, 0, 0, 0, 0x00, 0x03]), comment([at, tailTarOffset, tar.length])])
  writeFileSync(out, Buffer.concat([v1, ...parts, deflateRawSync(tar.subarray(tailTarOffset)), trailerOf(tar)]))
}

test('a molt index of version 1 (no chunk of its own for the lines, no head line): the tail is read, the molt still read alone, same result', async () => {
  const out = join(root, 'version1.tar.gz')
  asVersion1(out)
  expect(run('sh', ['-c', `tar -tzf '${out}' | wc -l`])).toBe(run('sh', ['-c', `tar -tzf '${gz}' | wc -l`]))
  const found = readLocator(out, 'gzip')!
  expect(found.locator.lines).toBeNull()
  const manifest = (await readArchiveHead(out)).manifest
  const plan = await planSeekRead(out, 'gzip', manifest, new Set(['bravo']))
  expect(plan.read).not.toBeNull()
  expect(plan.read!.stateSkipped).toBe(false)
  const result = await restore(out, 'version1', ['--select', 'bravo'])
  expect(result.stderr).not.toContain('molt index')
  expect(result.code).toBe(0)
  expect(sameAsReference('version1')).toEqual([])
  // a damaged alpha does not matter: only bravo's range is inflated
  const damaged = join(root, 'version1-damaged.tar.gz')
  damage(out, damaged, seekRanges(out, gunzipAll)[0]!)
  expect((await restore(damaged, 'version1-damaged', ['--select', 'bravo'])).code).toBe(0)
  expect(sameAsReference('version1-damaged')).toEqual([])
}, 120_000)

test('version 2: the molt index lines and state.jsonl are chunks of their own; a one-molt read passes the state and the lists over until the molts are read', async () => {
  const found = readLocator(gz, 'gzip')!
  expect(found.locator.lines).not.toBeNull()
  const tar = Buffer.from(gunzipAll(gz))
  // the locator's lines chunk starts at the head line, inside checksums.sha256
  expect(tar.subarray(found.locator.lines!.tarOffset, found.locator.lines!.tarOffset + SEEK_HEAD_LINE.length).toString('latin1')).toBe(SEEK_HEAD_LINE)
  const manifest = (await readArchiveHead(gz)).manifest
  const plan = await planSeekRead(gz, 'gzip', manifest, new Set(['bravo']))
  expect(plan.read!.stateSkipped).toBe(true)
  // the whole read of the same content (recompressed: no molt index) checks one sha256 more: state.jsonl's
  const whole = join(root, 'state-whole.tar.gz')
  run('sh', ['-c', `gzip -dc '${gz}' | gzip -1 > '${whole}'`])
  const verified = (stdout: string) => Number(/([\d,]+) sha256 verified/.exec(stdout)![1]!.replace(/,/g, ''))
  const seek = await restore(gz, 'state-seek', ['--select', 'bravo'])
  const read = await restore(whole, 'state-whole', ['--select', 'bravo'])
  expect([seek.code, read.code]).toEqual([0, 0])
  // and index.jsonl's: read through its list chunks, it is not there whole (its lines are compared one by one)
  expect(verified(seek.stdout)).toBe(verified(read.stdout) - 2)
  expect(sameAsReference('state-seek')).toEqual([])
}, 120_000)

test('version 2: a head line that does not tile the head is found out: read whole, same result', async () => {
  const out = join(root, 'head-line.tar.gz')
  const tar = Buffer.from(gunzipAll(gz))
  const headLine = tar.toString('latin1').split('\n').find((l) => l.startsWith(SEEK_HEAD_LINE))!
  const head = JSON.parse(headLine.slice(SEEK_HEAD_LINE.length)) as Record<string, number>
  // global/ said to start before the state
  replaceLine(tar, headLine, `${SEEK_HEAD_LINE}${JSON.stringify({ ...head, global_offset: head.state_offset! - 1 })}`)
  writeTail(out, tar)
  const result = await restore(out, 'head-line', ['--select', 'bravo'])
  expect(result.stderr).toContain("the archive's molt index does not match its content (its head places do not tile the head)")
  expect(result.code).toBe(0)
  expect(sameAsReference('head-line')).toEqual([])
}, 120_000)

test('a molt index pointing at another molt is found out before anything is written: read whole, same result', async () => {
  const out = join(root, 'pointing.tar.gz')
  withEditedIndex(out, (r) => {
    // bravo's line says it is where delta is (and the other way round)
    for (const key of ['offset', 'tar_offset', 'length', 'tar_length'] as const) [r[1]![key], r[2]![key]] = [r[2]![key], r[1]![key]]
  })
  const result = await restore(out, 'pointing', ['--select', 'bravo'])
  expect(result.stderr).toContain("the archive's molt index does not match its content")
  expect(result.code).toBe(0)
  expect(sameAsReference('pointing')).toEqual([])
  // verify says it too (the content is sound: exit 0); of the original archive it says nothing of the kind
  const verify = await runCli(['fleet', 'verify', out])
  expect(verify.code).toBe(0)
  expect(verify.stdout + verify.stderr).toContain('restore --select will read the whole archive')
  const good = await runCli(['fleet', 'verify', gz])
  expect(good.code).toBe(0)
  expect(good.stdout + good.stderr).not.toContain('molt index')
}, 120_000)

test('a molt index with a wrong length refuses with one line, never restores something else', async () => {
  const out = join(root, 'length.tar.gz')
  withEditedIndex(out, (r) => {
    // the boundary between bravo and delta moved by one tar block: it still tiles, bravo still starts right
    r[1]!.tar_length += 512
    r[2]!.tar_offset += 512
    r[2]!.tar_length -= 512
  })
  const result = await restore(out, 'length', ['--select', 'bravo'])
  expect(result.code).toBe(1)
  expect(result.stderr).toContain('the molt index does not match the archive: molt bravo inflates to')
  expect(readdirSync(join(root, 'length')).filter((n) => n === 'bravo')).toEqual([])
  // the whole-archive read of the same file restores it right
  const full = await restore(out, 'length-full', [])
  expect(full.code).toBe(0)
  expect(sameAsReference('length-full')).toEqual([])
}, 120_000)

test('a molt index without list places (archives written before they were added): the lists are read whole, same result', async () => {
  const out = join(root, 'older.tar.gz')
  withEditedIndex(out, (r) => {
    for (const range of r) range.lists = null
  })
  const manifest = (await readArchiveHead(out)).manifest
  const plan = await planSeekRead(out, 'gzip', manifest, new Set(['bravo']))
  expect(plan.read?.regions).toBeNull()
  expect((await planSeekRead(gz, 'gzip', manifest, new Set(['bravo']))).read?.regions).not.toBeNull()
  // the molts not read are accounted for from index.jsonl, the same as from the molt index
  expect(plan.read?.skipped).toEqual((await planSeekRead(gz, 'gzip', manifest, new Set(['bravo']))).read!.skipped)
  const result = await restore(out, 'older', ['--select', 'bravo'])
  expect(result.stderr).not.toContain('molt index')
  expect(result.code).toBe(0)
  expect(sameAsReference('older')).toEqual([])
}, 120_000)

test("a molt index that leaves one of the molt's lines out refuses: a member is never let through unchecked", async () => {
  const out = join(root, 'lists.tar.gz')
  withEditedIndex(out, (r) => {
    // the boundary between bravo's checksum lines and delta's moved 10 bytes back: bravo's last line is cut
    r[1]!.lists!.sums_length -= 10
    r[2]!.lists!.sums_offset -= 10
    r[2]!.lists!.sums_length += 10
  })
  const result = await restore(out, 'lists', ['--select', 'bravo'])
  expect(result.code).toBe(1)
  // the cut line names no member; the member it named is in no line read
  expect(result.stderr).toContain('restore refused: "bravo/Maildir/": listed in checksums.sha256 but missing from the archive (and 1 more problem(s)')
  expect(readdirSync(join(root, 'lists')).filter((n) => n === 'bravo')).toEqual([])
}, 120_000)

test('a locator that points elsewhere is found out: read whole, same result', async () => {
  const out = join(root, 'locator.tar.gz')
  const bytes = readFileSync(gz)
  const found = readLocator(gz, 'gzip')!
  // the tail offset, one digit changed
  const at = bytes.indexOf(Buffer.from('clmnt-seek 2 ')) + 13 + 15
  bytes[at] = bytes[at] === 0x30 ? 0x31 : 0x30
  writeFileSync(out, bytes)
  expect(readLocator(out, 'gzip')!.locator.tailOffset).not.toBe(found.locator.tailOffset)
  const result = await restore(out, 'locator', ['--select', 'bravo'])
  expect(result.stderr).toContain("the archive's molt index does not match its content")
  expect(result.code).toBe(0)
  expect(sameAsReference('locator')).toEqual([])
}, 120_000)

/**
 * gz with its molt index lines edited in place (same length): only their chunk, the last, is
 * compressed again; every other chunk, the list chunks too, stays where the lines say it is.
 */
function withEditedLines(out: string, edit: (line: string) => string): void {
  const tar = Buffer.from(gunzipAll(gz))
  const { lines } = readLocator(gz, 'gzip')!.locator
  for (const line of tar.subarray(lines!.tarOffset).toString('latin1').split('\n')) {
    if (line.startsWith('#clmnt-seek')) replaceLine(tar, line, edit(line))
  }
  writeFileSync(out, Buffer.concat([readFileSync(gz).subarray(0, lines!.offset), deflateRawSync(tar.subarray(lines!.tarOffset)), trailerOf(tar)]))
  expect(run('sh', ['-c', `tar -tzf '${out}' | wc -l`])).toBe(run('sh', ['-c', `tar -tzf '${gz}' | wc -l`]))
}

/** A molt index line's field set to `value`, as wide as it was. */
const setField = (line: string, key: string, value: (old: number) => number) => line.replace(new RegExp(`"${key}":( *)(\\d+)`), (_, pad: string, n: string) => `"${key}":${String(value(Number(n))).padStart(pad.length + n.length)}`)

test("list chunks: each molt's lines start a chunk of their own in both lists; a one-molt read inflates only its own, the others' are holes", async () => {
  const ranges = seekRanges(gz, gunzipAll)
  expect(ranges.every((r) => r.chunks !== null)).toBe(true)
  const manifest = (await readArchiveHead(gz)).manifest
  const plan = await planSeekRead(gz, 'gzip', manifest, new Set(['bravo']))
  expect(plan.read!.listHoles).toBe(true)
  // the lines of alpha and delta damaged where they are compressed: bravo does not read them
  const damaged = join(root, 'lists-damaged.tar.gz')
  const bytes = readFileSync(gz)
  for (const r of [ranges[0]!, ranges[2]!]) {
    for (const chunk of [r.chunks!.index_chunk, r.chunks!.sums_chunk]) bytes.fill(0x55, chunk + 4, chunk + 40)
  }
  writeFileSync(damaged, bytes)
  expect(spawnSync('sh', ['-c', `tar -tzf '${damaged}' > /dev/null`]).status).not.toBe(0)
  const one = await restore(damaged, 'lists-damaged', ['--select', 'bravo'])
  expect(one.stderr).not.toContain('molt index')
  expect(one.code).toBe(0)
  expect(sameAsReference('lists-damaged')).toEqual([])
  // all of them: nothing to leave out, the lists are read whole (and index.jsonl hashed)
  expect((await planSeekRead(gz, 'gzip', manifest, new Set(['alpha', 'bravo', 'delta']))).read!.listHoles).toBe(false)
  // zstd: frames of their own
  expect((await planSeekRead(zst, 'zstd', manifest, new Set(['bravo']))).read!.listHoles).toBe(true)
  const zstOne = await restore(zst, 'lists-zst', ['--select', 'bravo'])
  expect(zstOne.code).toBe(0)
  expect(sameAsReference('lists-zst')).toEqual([])
}, 120_000)

test('list chunks out of order are found out before anything is written: the archive is read whole, same result', async () => {
  const out = join(root, 'lists-order.tar.gz')
  // bravo's index lines said to start after delta's
  withEditedLines(out, (line) => (line.includes('"molt":"bravo"') ? setField(line, 'index_chunk', (n) => n + 10_000_000) : line))
  const result = await restore(out, 'lists-order', ['--select', 'bravo'])
  expect(result.stderr).toContain("the archive's molt index does not match its content (its list chunks are not in order)")
  expect(result.code).toBe(0)
  expect(sameAsReference('lists-order')).toEqual([])
  const verify = await runCli(['fleet', 'verify', out, '--json'])
  expect(verify.stdout).toContain('its list chunks are not in order')
}, 120_000)

test('a list chunk that points elsewhere refuses with one line, nothing restored; the whole read restores it right', async () => {
  const out = join(root, 'lists-moved.tar.gz')
  // bravo's checksum lines said to start 3 bytes later: still in order, but not a chunk start
  withEditedLines(out, (line) => (line.includes('"molt":"bravo"') ? setField(line, 'sums_chunk', (n) => n + 3) : line))
  const result = await restore(out, 'lists-moved', ['--select', 'bravo'])
  expect(result.code).toBe(1)
  expect(result.stderr).toContain('the molt index does not match the archive: a part of the lists')
  expect(result.stderr.split('\n').filter((line) => line.startsWith('error'))).toEqual([expect.stringContaining('nothing was changed')])
  expect(readdirSync(join(root, 'lists-moved')).filter((n) => n === 'bravo')).toEqual([])
  const full = await restore(out, 'lists-moved-full', [])
  expect(full.code).toBe(0)
  expect(sameAsReference('lists-moved-full')).toEqual([])
}, 120_000)
