import { statSync } from 'node:fs'
import { join } from 'node:path'
import { readHomeFile } from '../lib/safe-read.ts'
import { PID_MAX, processAgeMs, processCwd, processStartTicks, readProcess, type ProcessInfo, type ProcessTable } from '../lib/proc.ts'
import { systemUsers } from '../lib/users.ts'
import type { Molt } from '../fleet/discover.ts'
import { readGatewayLocks, type GatewayLock } from './gateway-lock.ts'
import { PID_REL } from './paths.ts'
import { DEFAULT_STARTUP_GRACE_MS } from './record.ts'

export type GatewayState =
  /** lock-file: the real gateway's own lock; pid-file: the bash toolkit's gateway.pid; process-scan: found in /proc */
  | { state: 'running'; pid: number; via: 'lock-file' | 'pid-file' | 'process-scan' }
  /** a lock or PID file that points at nothing usable: gone, not a gateway, another user's, or not a number */
  | { state: 'stale'; pid: number | null; reason: string }
  | { state: 'stopped' }
  /** gateway.pid cannot be read (a 0700 home of another user) and no process of the molt was found: nobody can tell */
  | { state: 'unreadable'; pid: null; reason: string }

export interface MoltOwner {
  uid: number
  gid: number
  /** true when a Linux user of the molt's own name owns the home: its processes are the molt's */
  dedicated: boolean
}

/** The molt's user is whoever owns its home; that is also who gets the files we create there. */
export function moltOwner(molt: Molt): MoltOwner | null {
  try {
    const st = statSync(molt.home)
    return { uid: st.uid, gid: st.gid, dedicated: systemUsers().get(molt.name)?.uid === st.uid }
  } catch {
    return null
  }
}

/**
 * PID reuse is real: a live PID only counts when it is an openclaw process of the molt's user.
 * With a dedicated user that is enough. When several molts share a user (demo fleets, dev hosts),
 * the process must also point at this molt: its port on the command line, its cwd inside the
 * home, or (for the gateway's own lock) the lock's state dir and port being this molt's.
 */
function isGatewayOf(proc: ProcessInfo, molt: Molt, owner: MoltOwner, lock?: GatewayLock): boolean {
  if (proc.zombie || proc.uid !== owner.uid || !/openclaw/i.test(proc.cmdline)) return false
  if (lock?.startTime != null && processStartTicks(proc.pid) !== lock.startTime) return false
  if (owner.dedicated) return true
  if (lock && lock.stateDir === join(molt.home, '.openclaw') && (lock.port === null || lock.port === molt.port)) return true
  if (molt.port !== null && new RegExp(`(^|[\\s=:])${molt.port}(\\s|$)`).test(proc.cmdline)) return true
  const cwd = processCwd(proc.pid)
  return cwd === molt.home || Boolean(cwd?.startsWith(`${molt.home}/`))
}

/**
 * Where the gateway's PID comes from, in order: the real gateway's lock file, the bash toolkit's
 * gateway.pid, then a scan of /proc. A lock or PID file naming a process that is gone makes the molt
 * `dead` (crashed, killed); nothing at all makes it `stopped` (a clean stop removes the locks).
 */
export function gatewayState(molt: Molt, processes: ProcessTable): GatewayState {
  const owner = moltOwner(molt)
  const lock = owner ? (readGatewayLocks(molt.home, owner.uid)[0] ?? null) : null
  if (lock && owner) {
    const proc = readProcess(lock.pid)
    if (proc && isGatewayOf(proc, molt, owner, lock)) return { state: 'running', pid: lock.pid, via: 'lock-file' }
  }
  let text: string | null = null
  let denied = false
  try {
    // the molt's own file: never followed, never blocking, capped (safe-fs.ts)
    text = readHomeFile(molt.home, PID_REL, { maxBytes: 4096 })
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    denied = code === 'EACCES' || code === 'EPERM'
  }
  let stale: GatewayState | null = null
  if (text !== null) {
    const trimmed = text.trim()
    if (!/^\d{1,7}$/.test(trimmed) || Number(trimmed) < 1 || Number(trimmed) > PID_MAX) {
      stale = { state: 'stale', pid: null, reason: `gateway.pid holds no valid PID (${JSON.stringify(trimmed.slice(0, 20))})` }
    } else {
      const pid = Number(trimmed)
      const proc = readProcess(pid)
      if (proc && owner && isGatewayOf(proc, molt, owner)) return { state: 'running', pid, via: 'pid-file' }
      stale = !proc || proc.zombie
        ? { state: 'stale', pid, reason: `PID ${pid} from gateway.pid is not running` }
        : { state: 'stale', pid, reason: `PID ${pid} from gateway.pid is another process (not this molt's openclaw gateway)` }
    }
  }
  const orphan = owner ? findOrphan(molt, owner, processes) : null
  if (orphan) return { state: 'running', pid: orphan, via: 'process-scan' }
  // the gateway's own lock speaks before the bash toolkit's file
  if (lock) {
    const proc = readProcess(lock.pid)
    const why = !proc || proc.zombie ? 'is not running (the gateway crashed or was killed)' : 'is another process now (not this molt\'s openclaw gateway)'
    return { state: 'stale', pid: lock.pid, reason: `PID ${lock.pid} from the gateway lock ${lock.file} ${why}` }
  }
  // "stopped" would be a guess: the PID file may be there, behind a home we may not enter
  if (!stale && denied) return { state: 'unreadable', pid: null, reason: 'permission denied: cannot read gateway.pid in a home of another user: run as root' }
  return stale ?? { state: 'stopped' }
}

/**
 * A gateway running without (or despite) its lock and PID files: found by scanning /proc once per
 * run. Only gateway processes count, not the helpers they start (OpenClaw's spawn broker and SQLite
 * workers run from the same package): the real one retitles itself `openclaw-gateway`, older ones
 * and the bash toolkit ran `openclaw gateway …`.
 *
 * Before that, in the first seconds of `openclaw gateway run` (more on a busy host), OpenClaw's CLI
 * is titled plain `openclaw` while it loads and has not named its command yet, and there is no lock
 * yet either. Read as "stopped", a watch would raise DOWN and restart a gateway that is starting.
 * A young bare `openclaw` of the molt therefore counts as its gateway (`starting`); the CLI names
 * every command within seconds (`openclaw-status`, …), so an older bare one (its chat UI) is not.
 */
function findOrphan(molt: Molt, owner: MoltOwner, processes: ProcessTable): number | null {
  for (const proc of processes.all()) {
    if (proc.pid === process.pid || !isGatewayOf(proc, molt, owner)) continue
    if (GATEWAY_COMMAND.test(proc.cmdline)) return proc.pid
    if (CLI_NOT_NAMED_YET.test(proc.cmdline) && (processAgeMs(proc.pid) ?? Infinity) < DEFAULT_STARTUP_GRACE_MS) return proc.pid
  }
  return null
}

const GATEWAY_COMMAND = /openclaw\S*[\s-]gateway\b/i
const CLI_NOT_NAMED_YET = /^openclaw$/
