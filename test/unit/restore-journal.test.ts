import { afterEach, beforeEach, expect, test } from 'bun:test'
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { exchangePaths, inodeOf } from '../../src/archive/restore-fs.ts'
import { findStaleStaging, recoverStale, Staging } from '../../src/archive/restore-journal.ts'
import { planRestore } from '../../src/archive/restore-plan.ts'
import { removeDir, tempDir } from '../helpers/fleet.ts'
import { moltFiles, writeFleetArchive } from '../helpers/hostile.ts'

// What the next run makes of a staging folder left by a restore killed at each step of a swap.
let base: string
let staging: Staging
const home = () => join(base, 'alpha')
const content = () => readFileSync(join(home(), 'which'), 'utf8')

beforeEach(() => {
  base = tempDir('clmnt-journal-')
  mkdirSync(home())
  writeFileSync(join(home(), 'which'), 'old')
  staging = Staging.create(base, '/x.tar.gz', false)
  mkdirSync(staging.stage('alpha'))
  writeFileSync(join(staging.stage('alpha'), 'which'), 'new')
  staging.journal.phase = 'swapping'
  staging.journal.molts.alpha = { state: 'committing', target: home(), existed: true, new_ino: inodeOf(staging.stage('alpha')), registry: { name: 'alpha', port: 19001, home: home() }, crontab: false, user: null }
  staging.save()
})
afterEach(() => removeDir(base))

const recover = (keepOld = false) => {
  if (keepOld) {
    staging.journal.keep_old = true
    staging.save()
  }
  const [stale] = findStaleStaging(base)
  const lines: string[] = []
  const out = recoverStale(stale!, base, (l) => lines.push(l))
  expect(existsSync(staging.dir)).toBe(false)
  return { ...out, lines }
}

test('killed before the exchange: the old home stays, the staged one goes', () => {
  expect(recover()).toMatchObject({ restored: [], rolledBack: ['alpha'] })
  expect(content()).toBe('old')
  expect(existsSync(join(base, 'molts.json'))).toBe(false)
})

test('killed right after the exchange: the new home stays, molts.json gains it, the old one is removed', () => {
  exchangePaths(staging.stage('alpha'), home(), staging.old('alpha'))
  expect(recover()).toMatchObject({ restored: ['alpha'], rolledBack: [] })
  expect(content()).toBe('new')
  expect(JSON.parse(readFileSync(join(base, 'molts.json'), 'utf8')).molts.alpha).toMatchObject({ port: 19001, home: home() })
})

test('killed after the old home was moved to old/ (--keep-old): it is kept under .clmnt-restore-old', () => {
  exchangePaths(staging.stage('alpha'), home(), staging.old('alpha'))
  renameSync(staging.stage('alpha'), staging.old('alpha'))
  recover(true)
  expect(content()).toBe('new')
  const [stamp] = readdirSync(join(base, '.clmnt-restore-old'))
  expect(readFileSync(join(base, '.clmnt-restore-old', stamp!, 'alpha', 'which'), 'utf8')).toBe('old')
})

test('killed inside the three-rename fallback (no home for a moment): the old home is put back', () => {
  renameSync(home(), staging.old('alpha'))
  expect(recover()).toMatchObject({ restored: [], rolledBack: ['alpha'] })
  expect(content()).toBe('old')
})

test('killed while extracting: only the staging folder goes', () => {
  staging.journal.phase = 'extracting'
  staging.journal.molts = {}
  staging.save()
  recover()
  expect(content()).toBe('old')
})

test('no readable journal but replaced homes inside: refused, nothing removed', () => {
  renameSync(home(), staging.old('alpha'))
  rmSync(join(staging.dir, 'journal.json'))
  const [stale] = findStaleStaging(base)
  expect(() => recoverStale(stale!, base, () => {})).toThrow(/holds replaced homes \(alpha\) but no readable journal/)
  expect(existsSync(staging.old('alpha'))).toBe(true)
})

test('not root and no --skip-users: the plan carries the reason a real run cannot start', async () => {
  const archive = join(base, 'a.tar.gz')
  writeFleetArchive(archive, { baseDir: base, molts: [{ name: 'bravo', port: 19021, files: moltFiles('bravo', 19021, base) }] })
  const getuid = process.getuid
  process.getuid = () => 1000
  try {
    const plan = await planRestore({ baseDir: base, archive })
    expect(plan.blockers).toEqual(['creating users and giving files to them needs root: run as root, or add --skip-users to restore the files owned by you'])
    expect((await planRestore({ baseDir: base, archive, skipUsers: true })).blockers).toEqual([])
  } finally {
    process.getuid = getuid
  }
})
