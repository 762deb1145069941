import { closeSync, readdirSync, readSync } from 'node:fs'
import { inHomeDir } from '../lib/safe-fs.ts'
import { PID_MAX } from '../lib/proc.ts'

/**
 * The real OpenClaw gateway writes no gateway.pid: it owns its state directory through lock files,
 * `~/.openclaw/tmp/openclaw-<uid>/gateway.<hash>.lock` (and `gateway.state.lock`), JSON with its
 * `pid`, `createdAt`, `port`, `stateDir` and `startTime` (the owner's start in clock ticks after
 * boot, which tells the owner from a later process that got the same PID). A clean stop removes
 * them; a crash or SIGKILL leaves them behind (the next start reclaims them). See the package's
 * docs/gateway/gateway-lock.md.
 *
 * Not a zod schema: this is the gateway's file, not ours, and clmnt reads two fields of it on every
 * cron run; anything that is not the expected shape is simply not a lock.
 */
export interface GatewayLock {
  /** relative to the molt home, for messages */
  file: string
  pid: number
  createdAt: string | null
  startTime: number | null
  port: number | null
  stateDir: string | null
}

const LOCK_NAME = /^gateway\.[A-Za-z0-9_-]{1,64}\.lock$/
const MAX_LOCK_BYTES = 64 * 1024

/**
 * The gateway's locks in a molt home, newest first. Read as every file of a molt home is (safe-fs.ts):
 * no link followed on the way or at the end, only regular files of the molt's user or root, capped.
 * A folder or file that is anything else is no lock.
 */
export function readGatewayLocks(home: string, uid: number): GatewayLock[] {
  const dirRel = `.openclaw/tmp/openclaw-${uid}`
  try {
    return inHomeDir(home, `${dirRel}/-`, {}, (dir) => {
      const locks: GatewayLock[] = []
      // the open folder itself is listed: its path could have been swapped for a link since
      for (const name of readdirSync(`/proc/self/fd/${dir.fd}`).filter((n) => LOCK_NAME.test(n))) {
        let text: string
        try {
          const { fd, stats } = dir.openRead(name)
          try {
            if (stats.size > MAX_LOCK_BYTES) continue
            const buf = Buffer.alloc(stats.size)
            text = buf.toString('utf8', 0, readSync(fd, buf, 0, buf.length, 0))
          } finally {
            closeSync(fd)
          }
        } catch {
          continue
        }
        const lock = parseLock(text, `${dirRel}/${name}`)
        if (lock) locks.push(lock)
      }
      return locks.sort((a, b) => (b.createdAt ?? '').localeCompare(a.createdAt ?? ''))
    })
  } catch {
    return []
  }
}

export function parseLock(text: string, file: string): GatewayLock | null {
  let raw: unknown
  try {
    raw = JSON.parse(text) // the gateway pads the file with blanks after the JSON: JSON.parse allows that
  } catch {
    return null
  }
  if (!raw || typeof raw !== 'object') return null
  const r = raw as Record<string, unknown>
  const pid = r.pid
  if (typeof pid !== 'number' || !Number.isInteger(pid) || pid < 1 || pid > PID_MAX) return null
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null)
  const str = (v: unknown) => (typeof v === 'string' ? v : null)
  return { file, pid, createdAt: str(r.createdAt), startTime: num(r.startTime), port: num(r.port), stateDir: str(r.stateDir) }
}
