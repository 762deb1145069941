import { readFileSync } from 'node:fs'

export interface UserEntry {
  name: string
  uid: number
  gid: number
  home: string
}

let cache: Map<string, UserEntry> | undefined

/**
 * Linux users from /etc/passwd, parsed (no `getent`/`id` process per lookup); cached for the
 * process unless `fresh` (restore creates users and must see them).
 */
export function systemUsers(options: { fresh?: boolean } = {}): Map<string, UserEntry> {
  if (cache && !options.fresh) return cache
  cache = new Map()
  let text = ''
  try {
    text = readFileSync('/etc/passwd', 'utf8')
  } catch {}
  for (const line of text.split('\n')) {
    const [name, , uid, gid, , home] = line.split(':')
    if (!name || uid === undefined || gid === undefined) continue
    cache.set(name, { name, uid: Number(uid), gid: Number(gid), home: home ?? '' })
  }
  return cache
}

export function userByUid(uid: number): UserEntry | undefined {
  for (const user of systemUsers().values()) if (user.uid === uid) return user
  return undefined
}
