import { lstatSync, readdirSync, type Stats } from 'node:fs'

/**
 * Mail keeps moving while a backup runs: mbsync and the MUA rename `new/X` to `cur/X:2,S` and
 * `cur/X:2,S` to `cur/X:2,RS`. A file listed at planning and gone when read has usually only been
 * renamed. So, once the writer is past a Maildir folder's cur/ and new/ and something there
 * vanished, it lists both again and archives every message whose unique name (the part before
 * ':') it has not archived yet: a message that stayed on the host is in the archive under its old
 * or its new name.
 */
export interface MaildirPlace {
  /** the folder holding cur/ and new/ (relative to the home) */
  dir: string
  key: string
}

const MESSAGE = /^(.*)\/(cur|new)\/([^/]+)$/

/** For `…/cur/<name>` or `…/new/<name>`: its Maildir folder and the message's unique name. */
export function maildirPlace(rel: string): MaildirPlace | null {
  const match = MESSAGE.exec(rel)
  if (!match) return null
  const name = match[3]!
  const colon = name.indexOf(':')
  return { dir: match[1]!, key: colon >= 0 ? name.slice(0, colon) : name }
}

/** Is `rel` inside (or one of) the cur/ and new/ folders of `dir`? */
export function withinMessages(rel: string, dir: string): boolean {
  for (const sub of ['cur', 'new']) {
    const folder = `${dir}/${sub}`
    if (rel === folder || rel.startsWith(`${folder}/`)) return true
  }
  return false
}

export class MaildirTracker {
  dir: string | null = null
  keys = new Set<string>()
  vanished = 0

  /** Start tracking `dir` (what was tracked before must have been rescanned by the caller). */
  enter(dir: string): void {
    this.dir = dir
    this.keys.clear()
    this.vanished = 0
  }
}

/**
 * The messages of cur/ and new/ of a Maildir folder not archived yet (by unique name), as
 * [rel, lstat] pairs; `pathOf` turns a rel into the fs path (latin1 text of bytes).
 */
export function unarchivedMessages(dir: string, keys: ReadonlySet<string>, pathOf: (rel: string) => Buffer): [string, Stats][] {
  const found: [string, Stats][] = []
  for (const sub of ['cur', 'new']) {
    let names: string[]
    try {
      names = (readdirSync(pathOf(`${dir}/${sub}`), { encoding: 'buffer' }) as Buffer[]).map((b) => b.toString('latin1')).sort()
    } catch {
      continue
    }
    for (const name of names) {
      const rel = `${dir}/${sub}/${name}`
      if (keys.has(maildirPlace(rel)!.key)) continue
      try {
        const st = lstatSync(pathOf(rel))
        if (st.isFile()) found.push([rel, st])
      } catch {}
    }
  }
  return found
}
