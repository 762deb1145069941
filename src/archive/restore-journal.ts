import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync } from 'node:fs'
import { join } from 'node:path'
import { readRegistry, writeRegistry, type RegistryEntry } from '../fleet/registry.ts'
import { writeFileAtomic } from '../lib/atomic.ts'
import { ClmntError } from '../lib/errors.ts'
import { readCrontab, writeCrontab } from '../schedule/crontab.ts'
import { inodeOf, pathExists, removeTree, syncDir } from './restore-fs.ts'

/**
 * The staging folder of a restore, `<base-dir>/.clmnt-restore-<pid>-<ms>/` (0700, same file
 * system as the homes), and its journal: what a run killed at any moment had done, so the next
 * run can finish it or undo it.
 *
 *   journal.json     written atomically before every step that touches something live
 *   stage/<molt>/    the extracted (then checked, then fixed) home, until it is exchanged in
 *   old/<molt>/      the home it replaced, until the end (or kept with --keep-old)
 *   cron/<molt>      the crontab to install, already rewritten for this host
 *   global/<file>    molts.json and clmnt.json from the archive
 *
 * The commit point of a molt is the exchange of stage/<molt> with its home: the journal records
 * the inode of the new home first, so afterwards the home's inode tells which tree is in place.
 */
export const STAGING_PREFIX = '.clmnt-restore-'
export const STAGING_NAME = /^\.clmnt-restore-\d+-\d+$/
/** where --keep-old puts replaced homes: `<base-dir>/.clmnt-restore-old/<time>/<molt>` */
export const KEEP_OLD_DIR = '.clmnt-restore-old'
const JOURNAL = 'journal.json'

export type JournalPhase = 'extracting' | 'swapping' | 'finishing'
export type JournalMoltState = 'pending' | 'committing' | 'committed' | 'failed'

export interface JournalMolt {
  state: JournalMoltState
  target: string
  /** a home was there before (it goes to old/<molt>) */
  existed: boolean
  /** inode of stage/<molt>: once the home has it, the molt is restored */
  new_ino: number | null
  /** the entry molts.json gets */
  registry: RegistryEntry
  /** cron/<molt> holds a crontab to install for `user` */
  crontab: boolean
  user: string | null
}

export interface Journal {
  version: 1
  pid: number
  started: string
  archive: string
  base_dir: string
  phase: JournalPhase
  keep_old: boolean
  molts: Record<string, JournalMolt>
}

export class Staging {
  constructor(
    readonly dir: string,
    public journal: Journal,
  ) {}

  static create(baseDir: string, archive: string, keepOld: boolean, now = new Date()): Staging {
    const dir = join(baseDir, `${STAGING_PREFIX}${process.pid}-${now.getTime()}`)
    mkdirSync(dir, { mode: 0o700 })
    const staging = new Staging(dir, { version: 1, pid: process.pid, started: now.toISOString(), archive, base_dir: baseDir, phase: 'extracting', keep_old: keepOld, molts: {} })
    for (const sub of ['stage', 'old', 'cron', 'global']) mkdirSync(join(dir, sub), { mode: 0o700 })
    staging.save()
    return staging
  }

  stage(molt: string): string {
    return join(this.dir, 'stage', molt)
  }
  old(molt: string): string {
    return join(this.dir, 'old', molt)
  }
  cron(molt: string): string {
    return join(this.dir, 'cron', molt)
  }
  global(file: string): string {
    return join(this.dir, 'global', file)
  }

  save(): void {
    writeFileAtomic(join(this.dir, JOURNAL), `${JSON.stringify(this.journal, null, 2)}\n`, { mode: 0o600 })
  }

  setMolt(name: string, patch: Partial<JournalMolt>): void {
    this.journal.molts[name] = { ...this.journal.molts[name]!, ...patch }
    this.save()
  }

  remove(): void {
    removeTree(this.dir)
  }
}

export function readJournal(dir: string): Journal | null {
  try {
    const journal = JSON.parse(readFileSync(join(dir, JOURNAL), 'utf8')) as Journal
    return journal && journal.version === 1 && typeof journal.molts === 'object' ? journal : null
  } catch {
    return null
  }
}

/** Staging folders of dead runs (the caller holds the fleet lock, so no live run owns one). */
export function findStaleStaging(baseDir: string): { path: string; journal: Journal | null }[] {
  let names: string[] = []
  try {
    names = readdirSync(baseDir)
  } catch {}
  return names
    .filter((name) => STAGING_NAME.test(name))
    .sort()
    .map((name) => ({ path: join(baseDir, name), journal: readJournal(join(baseDir, name)) }))
}

/** "extracting (nothing live was touched)" … for the plan and the recovery message. */
export function describeStale(stale: { path: string; journal: Journal | null }): string {
  const j = stale.journal
  if (!j) return `${stale.path}: an interrupted restore without a readable journal`
  const committed = Object.entries(j.molts).filter(([, m]) => m.state === 'committing' || m.state === 'committed').map(([n]) => n)
  const what = j.phase === 'extracting' ? 'it was still extracting: nothing live was touched' : `it was swapping molts in${committed.length ? ` (${committed.join(', ')})` : ''}`
  return `${stale.path}: left by restore PID ${j.pid} of ${j.started}; ${what}`
}

export interface MoltFinish {
  molt: string
  /** the home now in place is the restored one */
  restored: boolean
  cron: string | null
  kept: string | null
  problems: string[]
}

/**
 * What both a finishing run and a recovering one do once molts are committed: molts.json gains
 * their entries, their crontabs go in, and the homes they replaced are removed or kept.
 */
export function finishCommitted(staging: Staging, baseDir: string, log: (line: string) => void): MoltFinish[] {
  const j = staging.journal
  const results: MoltFinish[] = []
  const committed: string[] = []
  for (const [name, m] of Object.entries(j.molts)) {
    if (m.state !== 'committing' && m.state !== 'committed') continue
    const restored = m.new_ino !== null && inodeOf(m.target) === m.new_ino
    if (restored) committed.push(name)
    results.push({ molt: name, restored, cron: null, kept: null, problems: [] })
  }
  const byName = new Map(results.map((r) => [r.molt, r]))
  if (committed.length) {
    const { registry, warning } = readRegistry(baseDir)
    if (warning && existsSync(join(baseDir, 'molts.json'))) {
      for (const name of committed) byName.get(name)!.problems.push(`molts.json not updated: ${warning}`)
    } else {
      const next = registry ?? { version: '1', molts: {} }
      for (const name of committed) next.molts[name] = { ...next.molts[name], ...j.molts[name]!.registry }
      writeRegistry(baseDir, next)
    }
  }
  for (const name of committed) {
    const m = j.molts[name]!
    const r = byName.get(name)!
    if (m.crontab && m.user) r.cron = installCrontab(staging.cron(name), m.user, r.problems)
  }
  // the replaced homes: kept with --keep-old, removed otherwise
  const keepRoot = join(baseDir, KEEP_OLD_DIR, j.started.replace(/[:.]/g, '-'))
  for (const r of results) {
    const m = j.molts[r.molt]!
    if (!m.existed) continue
    for (const where of [staging.stage(r.molt), staging.old(r.molt)]) {
      const ino = inodeOf(where)
      if (ino === null || ino === m.new_ino) continue
      if (!r.restored) continue
      if (j.keep_old) {
        mkdirSync(keepRoot, { recursive: true, mode: 0o700 })
        renameSync(where, join(keepRoot, r.molt))
        r.kept = join(keepRoot, r.molt)
      } else {
        log(`removing the replaced home of ${r.molt}`)
        removeTree(where)
      }
    }
  }
  return results
}

/** Put the archived crontab (already rewritten for this host) in place of the user's. */
function installCrontab(file: string, user: string, problems: string[]): string | null {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch {
    problems.push('crontab text missing from the staging folder: not installed')
    return null
  }
  const before = readCrontab(user)
  if (before.ok && before.text === text) return 'unchanged'
  const written = writeCrontab(text, user)
  if (!written.ok) {
    problems.push(`crontab not installed: ${written.error}`)
    return null
  }
  return 'installed'
}

/**
 * Finish or undo a dead run, then remove its staging folder. Molts whose new home was exchanged
 * in stay restored (and get their molts.json entry and crontab); every other molt keeps, or gets
 * back, its old home.
 */
export function recoverStale(stale: { path: string; journal: Journal | null }, baseDir: string, log: (line: string) => void): { restored: string[]; rolledBack: string[] } {
  const out = { restored: [] as string[], rolledBack: [] as string[] }
  const j = stale.journal
  if (!j) {
    const old = join(stale.path, 'old')
    let held: string[] = []
    try {
      held = readdirSync(old)
    } catch {}
    if (held.length) {
      throw new ClmntError(`${stale.path} holds replaced homes (${held.join(', ')}) but no readable journal: cannot tell what to do with them; inspect it and move or remove it by hand, then run again`, 1)
    }
    removeTree(stale.path)
    return out
  }
  const staging = new Staging(stale.path, j)
  if (j.phase !== 'extracting') {
    for (const [name, m] of Object.entries(j.molts)) {
      if (m.state !== 'committing' && m.state !== 'committed') continue
      if (m.new_ino !== null && inodeOf(m.target) === m.new_ino) {
        out.restored.push(name)
        continue
      }
      // not exchanged in; after the fallback's first rename the old home waits in old/<molt>
      if (m.existed && !pathExists(m.target) && pathExists(staging.old(name))) {
        renameSync(staging.old(name), m.target)
        syncDir(baseDir)
      }
      out.rolledBack.push(name)
      log(`${name}: its restore had not completed; the home it had before is in place`)
    }
    for (const r of finishCommitted(staging, baseDir, log)) {
      if (r.restored) log(`${r.molt}: restored by the interrupted run; ${r.cron === 'installed' ? 'crontab installed, ' : ''}molts.json updated${r.kept ? `, old home kept in ${r.kept}` : ''}`)
      for (const p of r.problems) log(`${r.molt}: ${p}`)
    }
  }
  staging.remove()
  syncDir(baseDir)
  return out
}
