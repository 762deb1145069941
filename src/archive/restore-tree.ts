import { lstatSync, mkdirSync } from 'node:fs'
import { posix } from 'node:path'
import { pathIn, shownName } from './byte-names.ts'
import type { Scope } from './member-policy.ts'
import type { MoltTally } from './restore-extract.ts'

/**
 * A molt's tree as an extraction builds it (restore-sink.ts): its folders, made in staging only by
 * the extraction itself and never through a symlink or a file, and its counts.
 */
export type Refuse = (molt: Scope, text: string) => never

export function newTally(): MoltTally {
  return { files: 0, bytes: 0, dirs: 0, symlinks: 0, byComponent: new Map(), deferred: [], dirsMade: new Set(['']), containers: new Map(), implicit: new Map(), kinds: new Map(), rootMtime: null, crontab: null }
}

export function count(tally: MoltTally, component: string, bytes: number): void {
  tally.files++
  tally.bytes += bytes
  const c = tally.byComponent.get(component) ?? { files: 0, bytes: 0 }
  c.files++
  c.bytes += bytes
  tally.byComponent.set(component, c)
}

/** Folders on the way to a member: only ones this extraction made, never through a symlink or a file. */
export function ensureParent(tally: MoltTally, home: string | null, rel: string, member: string, refuse: Refuse, molt: string): void {
  const parent = posix.dirname(rel)
  if (parent === '.' || tally.dirsMade.has(parent)) return
  ensureParent(tally, home, parent, member, refuse, molt)
  makeDir(tally, home, parent, member, refuse, molt)
  if (!tally.kinds.has(parent)) {
    tally.kinds.set(parent, 'directory')
    // a folder the archive has no member for gets what GNU tar gives it (0777 less the usual umask 022);
    // a member for it later sets its own mode and time
    if (!tally.containers.has(parent)) tally.implicit.set(parent, { rel: parent, mode: 0o755, mtime: Date.now() / 1000 })
  }
}

export function makeDir(tally: MoltTally, home: string | null, rel: string, member: string, refuse: Refuse, molt: string): void {
  if (tally.dirsMade.has(rel)) return
  if (home) {
    try {
      mkdirSync(pathIn(home, rel), { mode: 0o700 })
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      let what = 'something else'
      try {
        const st = lstatSync(pathIn(home, rel))
        what = st.isSymbolicLink() ? 'a symlink' : st.isDirectory() ? 'a folder' : 'a file'
      } catch {}
      refuse(molt, `member ${shownName(member)}: ${shownName(rel)} is already ${what} (${code}), not a folder to put it in: refused (a member may not go through a symlink)`)
    }
  }
  tally.dirsMade.add(rel)
  const container = tally.containers.get(rel)
  if (container) tally.deferred.push(container)
}
