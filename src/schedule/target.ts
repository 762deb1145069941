import { statSync } from 'node:fs'
import { InputError, UsageError, quote } from '../lib/errors.ts'
import { systemUsers, userByUid, type UserEntry } from '../lib/users.ts'
import { stateDir } from '../health/paths.ts'

/** The user whose crontab (or systemd user manager) runs a molt's watch. */
export interface ScheduleTarget {
  user: string
  uid: number
  gid: number
  /** from /etc/passwd: where that user's systemd looks for ~/.config/systemd/user */
  home: string
  /** `crontab -u` argument; undefined: the invoking user's own crontab (-u is for root only) */
  crontabArg?: string
  /** why this user, in words */
  reason: string
}

const USER_NAME = /^[a-z_][a-z0-9_-]{0,31}\$?$/

/**
 * `--crontab-user` when given; else, as root, the molt's own Linux user when it exists; else the
 * invoking user.
 */
export function scheduleTarget(molt: string, override?: string): ScheduleTarget {
  const uid = process.getuid?.() ?? -1
  const users = systemUsers()
  const self = userByUid(uid)
  const own = (reason: string): ScheduleTarget => ({ user: self?.name ?? `uid ${uid}`, uid, gid: self?.gid ?? process.getgid?.() ?? -1, home: self?.home ?? process.env.HOME ?? '', reason })
  const other = (u: UserEntry, reason: string): ScheduleTarget => ({ user: u.name, uid: u.uid, gid: u.gid, home: u.home, crontabArg: u.name, reason })
  if (override !== undefined) {
    if (!USER_NAME.test(override)) throw new UsageError(`invalid value ${quote(override)} for --crontab-user: not a Linux user name`)
    const u = users.get(override)
    if (!u) throw new InputError(`--crontab-user ${quote(override)}: no such user in /etc/passwd`)
    if (u.uid === uid) return own('--crontab-user')
    if (uid !== 0) throw new UsageError(`--crontab-user ${override} needs root: only root may edit another user's crontab`)
    return other(u, '--crontab-user')
  }
  const moltUser = uid === 0 ? users.get(molt) : undefined
  if (moltUser && moltUser.uid !== uid) return other(moltUser, "the molt's own user")
  return own(uid === 0 ? `no Linux user named ${molt}: root's own` : 'the invoking user')
}

/**
 * Can `target` write the molt's .molt-state (or create it in the home)? Owner, primary group and
 * other bits only — a supplementary group may still allow it, so a "no" is a warning, not a refusal.
 */
export function canWriteState(target: ScheduleTarget, home: string): boolean {
  if (target.uid === 0) return true
  for (const dir of [stateDir(home), home]) {
    let st
    try {
      st = statSync(dir)
    } catch {
      continue
    }
    const bits = st.uid === target.uid ? 0o200 : st.gid === target.gid ? 0o020 : 0o002
    return (st.mode & bits) !== 0
  }
  return false
}
