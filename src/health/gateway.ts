import { statSync } from 'node:fs'
import { readHomeFile } from '../lib/safe-fs.ts'
import { PID_MAX, processCwd, readProcess, type ProcessInfo, type ProcessTable } from '../lib/proc.ts'
import { systemUsers } from '../lib/users.ts'
import type { Molt } from '../fleet/discover.ts'
import { PID_REL } from './paths.ts'

export type GatewayState =
  | { state: 'running'; pid: number; via: 'pid-file' | 'process-scan' }
  /** a PID file that points at nothing usable: gone, not a gateway, another user's, or not a number */
  | { state: 'stale'; pid: number | null; reason: string }
  | { state: 'stopped' }

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
 * the process must also point at this molt: its port on the command line or its cwd inside the home.
 */
function isGatewayOf(proc: ProcessInfo, molt: Molt, owner: MoltOwner): boolean {
  if (proc.zombie || proc.uid !== owner.uid || !/openclaw/i.test(proc.cmdline)) return false
  if (owner.dedicated) return true
  if (molt.port !== null && new RegExp(`(^|[\\s=:])${molt.port}(\\s|$)`).test(proc.cmdline)) return true
  const cwd = processCwd(proc.pid)
  return cwd === molt.home || Boolean(cwd?.startsWith(`${molt.home}/`))
}

export function gatewayState(molt: Molt, processes: ProcessTable): GatewayState {
  const owner = moltOwner(molt)
  let text: string | null = null
  try {
    // the molt's own file: never followed, never blocking, capped (safe-fs.ts)
    text = readHomeFile(molt.home, PID_REL, { maxBytes: 4096 })
  } catch {}
  if (text !== null) {
    const trimmed = text.trim()
    if (!/^\d{1,7}$/.test(trimmed) || Number(trimmed) < 1 || Number(trimmed) > PID_MAX) {
      const orphan = owner ? findOrphan(molt, owner, processes) : null
      if (orphan) return { state: 'running', pid: orphan, via: 'process-scan' }
      return { state: 'stale', pid: null, reason: `gateway.pid holds no valid PID (${JSON.stringify(trimmed.slice(0, 20))})` }
    }
    const pid = Number(trimmed)
    const proc = readProcess(pid)
    if (proc && owner && isGatewayOf(proc, molt, owner)) return { state: 'running', pid, via: 'pid-file' }
    const orphan = owner ? findOrphan(molt, owner, processes) : null
    if (orphan) return { state: 'running', pid: orphan, via: 'process-scan' }
    if (!proc || proc.zombie) return { state: 'stale', pid, reason: `PID ${pid} from gateway.pid is not running` }
    return { state: 'stale', pid, reason: `PID ${pid} from gateway.pid is another process (not this molt's openclaw gateway)` }
  }
  const orphan = owner ? findOrphan(molt, owner, processes) : null
  return orphan ? { state: 'running', pid: orphan, via: 'process-scan' } : { state: 'stopped' }
}

/** A gateway running without (or despite) its PID file: found by scanning /proc once per run. */
function findOrphan(molt: Molt, owner: MoltOwner, processes: ProcessTable): number | null {
  for (const proc of processes.all()) {
    if (proc.pid !== process.pid && isGatewayOf(proc, molt, owner)) return proc.pid
  }
  return null
}
