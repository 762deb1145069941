import { lchownSync, linkSync, lstatSync, mkdirSync, readdirSync, unlinkSync, type Stats } from 'node:fs'
import { join } from 'node:path'
import { pathIn } from './byte-names.ts'
import { componentOf, type Component } from './layout.ts'
import type { MoltTally } from './restore-extract.ts'

/**
 * What a restore keeps of a home it replaces: everything outside the restored components (shell
 * files, ssh keys, with --only the untouched components such as Maildir). Kept entries
 * are hard links into the new tree, made before the exchange (cloneKept) and brought up to date
 * right after it (catchUpKept), so mail delivered while the restore ran is not lost with the old home.
 */
export class KeepFailure extends Error {}

/** kept entry (relative to the home, byte string) → the inode linked */
export type KeptLinks = Map<string, number>

/**
 * Carry over, as hard links, what the old home holds outside the restored components. A restored
 * component's folder is replaced as a whole. Folders are made in staging; nothing is copied, and
 * nothing in the old home changes. gateway.pid is dropped: that gateway is gone.
 */
export function cloneKept(liveHome: string, stage: string, tally: MoltTally, restored: ReadonlySet<Component>, links: KeptLinks): void {
  walkKept(liveHome, stage, restored, {
    dir(rel, st, there) {
      if (there) return
      mkdirSync(pathIn(stage, rel), { mode: 0o700 })
      lchownSync(pathIn(stage, rel), st.uid, st.gid)
      tally.deferred.push({ rel, mode: st.mode & 0o7777, mtime: st.mtimeMs / 1000 })
    },
    entry(rel, st) {
      linkSync(pathIn(liveHome, rel), pathIn(stage, rel))
      links.set(rel, st.ino)
    },
  })
}

/**
 * After the exchange the old home is no longer live: what appeared in it since cloneKept (a mail
 * delivered into Maildir/new) is linked into the new home, and what left it (a mail moved to cur/)
 * leaves the new home too — only when the new home still holds the very inode cloneKept linked.
 */
export function catchUpKept(oldHome: string, liveHome: string, restored: ReadonlySet<Component>, links: KeptLinks): { added: number; removed: number } {
  let added = 0
  let removed = 0
  const seen = new Set<string>()
  walkKept(oldHome, liveHome, restored, {
    dir(rel, st, there) {
      if (there) return
      try {
        mkdirSync(pathIn(liveHome, rel), { mode: st.mode & 0o7777 })
        lchownSync(pathIn(liveHome, rel), st.uid, st.gid)
      } catch {}
    },
    entry(rel) {
      try {
        linkSync(pathIn(oldHome, rel), pathIn(liveHome, rel))
        added++
      } catch {}
    },
    present(rel) {
      seen.add(rel)
    },
  })
  for (const [rel, ino] of links) {
    if (seen.has(rel)) continue
    try {
      if (lstatSync(pathIn(liveHome, rel)).ino !== ino) continue
      unlinkSync(pathIn(liveHome, rel))
      removed++
    } catch {}
  }
  return { added, removed }
}

interface Visit {
  /** a folder of `from` outside the restored components; `there`: `to` has one already */
  dir(rel: string, st: Stats, there: boolean): void
  /** anything else of `from` that `to` lacks */
  entry(rel: string, st: Stats): void
  /** every non-folder entry of `from` outside the restored components */
  present?(rel: string): void
}

function walkKept(from: string, to: string, restored: ReadonlySet<Component>, visit: Visit): void {
  try {
    if (!lstatSync(from).isDirectory()) return
  } catch {
    return
  }
  const stack = ['']
  while (stack.length) {
    const rel = stack.pop()!
    let names: string[]
    try {
      // names as bytes: a Latin-1 file name of the old home is kept under its own bytes
      names = readdirSync(pathIn(from, rel), { encoding: 'buffer' }).map((n) => n.toString('latin1'))
    } catch (error) {
      throw new KeepFailure(`cannot read ${join(from, rel)} to keep what the backup does not hold: ${(error as NodeJS.ErrnoException).code}`)
    }
    for (const entry of names) {
      const child = rel ? `${rel}/${entry}` : entry
      if (child === '.openclaw/gateway.pid') continue
      let st: Stats
      try {
        st = lstatSync(pathIn(from, child))
      } catch {
        continue // gone meanwhile
      }
      const component = componentOf(child, st.isDirectory())
      if (component && restored.has(component)) continue
      let there: Stats | null = null
      try {
        there = lstatSync(pathIn(to, child))
      } catch {}
      if (st.isDirectory()) {
        if (there && !there.isDirectory()) continue // the archive put something else there: it wins
        visit.dir(child, st, there !== null)
        stack.push(child)
        continue
      }
      visit.present?.(child)
      if (!there) visit.entry(child, st)
    }
  }
}
