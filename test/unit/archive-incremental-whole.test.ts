import { afterEach, beforeEach, expect, test } from 'bun:test'
import { join } from 'node:path'
import { decodeEntry, KIND_DIR, KIND_SYMLINK, planFleet } from '../../src/archive/collect.ts'
import { applyParent } from '../../src/archive/incremental.ts'
import { ParentState } from '../../src/archive/parent-state.ts'
import { Spool } from '../../src/archive/spool.ts'
import { nsText, parseStateLine, type StateEntry } from '../../src/archive/state-file.ts'
import { discoverFleet } from '../../src/fleet/discover.ts'
import { writeRichFleet } from '../helpers/archive.ts'
import { removeDir, tempDir } from '../helpers/fleet.ts'

// --incremental leaves to the chain only what a digest vouches for: a file the parent's state
// lists but its checksum list does not (not archived whole), or one it carried without a digest
// (9-field lines, a chain built on such a parent), is stored again even when unchanged.
let dir: string
let base: string
beforeEach(() => {
  dir = tempDir()
  base = join(dir, 'fleet')
  writeRichFleet(base, [{ name: 'alpha', port: 19001 }])
})
afterEach(() => removeDir(dir))

const DIGEST = 'ab'.repeat(32)

test('an unchanged file is left to the chain only with a digest: held with its sum, or carried with one; held without a sum, or carried without one, is stored', () => {
  const planSpool = new Spool(dir)
  const parent = new ParentState(dir)
  try {
    const plan = planFleet(base, discoverFleet(base).molts, { excludeMaildir: false, excludeLogs: false, crontab: false, spool: planSpool })
    // the parent: the host as planned now (every file unchanged); the first four files say the four cases
    const cases: [held: boolean, sha256: string][] = [
      [true, DIGEST], // held, listed in its checksums.sha256 (withChecksums gave the digest)
      [true, ''], // held by the state only: unreadable, vanished, damaged
      [false, DIGEST], // carried, with the digest its chain recorded
      [false, ''], // carried without a digest: a 9-field line, or carried from a parent that lacked it
    ]
    const files: string[] = []
    for (const raw of planSpool.lines()) {
      const e = decodeEntry(raw)
      const kind = e.kind === KIND_DIR ? 'd' : e.kind === KIND_SYMLINK ? 'l' : 'f'
      const [held, sha256] = kind === 'f' ? (cases[files.length] ?? [true, DIGEST]) : [true, '']
      if (kind === 'f') files.push(e.rel)
      const entry: StateEntry = { molt: 'alpha', rel: e.rel, kind, size: e.size, mode: e.mode, mtime: nsText(e.mtimeSec, e.mtimeNsec), ctime: nsText(BigInt(e.ctimeNs)), ino: e.ino, held, sha256 }
      parent.add(entry)
    }
    expect(files.length).toBeGreaterThan(cases.length)
    const [held, missed, carried, unvouched] = files as [string, string, string, string]
    const cut = applyParent(plan, parent, dir)
    try {
      const state = new Map<string, StateEntry>()
      for (const line of cut.state.lines()) {
        const e = parseStateLine(Buffer.from(line).toString('latin1'))
        if (typeof e !== 'string') state.set(e.rel, e)
      }
      expect(files.slice(0, 4).map((rel) => [rel, state.get(rel)!.held, state.get(rel)!.sha256])).toEqual([
        [held, false, DIGEST],
        [missed, true, ''],
        [carried, false, DIGEST],
        [unvouched, true, ''],
      ])
      // the rest (held with a sum) are left to the chain; the two without a digest go in
      expect(cut.carried.files).toBe(files.length - 2)
      expect(cut.plan.files - plan.global.length).toBe(2)
      const stored = [...cut.plan.spool!.lines()].map((raw) => decodeEntry(raw)).filter((e) => e.kind !== KIND_DIR && e.kind !== KIND_SYMLINK)
      expect(stored.map((e) => e.rel)).toEqual([missed, unvouched])
      cut.plan.spool!.close()
    } finally {
      cut.state.close()
    }
  } finally {
    parent.close()
    planSpool.close()
  }
})
