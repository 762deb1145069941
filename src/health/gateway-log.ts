import { closeSync, readSync, type Stats } from 'node:fs'
import { openHomeFile, openRegularFile } from '../lib/safe-read.ts'
import { join } from 'node:path'
import { readOpenclawConfig } from '../fleet/openclaw-config.ts'

/**
 * Where a molt's gateway writes its log, best first: `logging.file` of its openclaw.json; the
 * gateway's default daily file (/tmp/openclaw/openclaw-YYYY-MM-DD.log, or the per-uid fallback
 * the gateway uses when that folder belongs to another user); the bash toolkit's gateway.log.
 * Only files of the home's owner count, and the /tmp ones only when the molt has a user of its
 * own: /tmp/openclaw is shared by every molt on the host.
 */
export function gatewayLogCandidates(home: string, owner: LogOwner | null, now = new Date()): string[] {
  const day = `${now.getFullYear()}-${String(now.getMonth() + 1).padStart(2, '0')}-${String(now.getDate()).padStart(2, '0')}`
  const paths: string[] = []
  try {
    const file = (readOpenclawConfig(home) as { logging?: { file?: unknown } } | null)?.logging?.file
    if (typeof file === 'string' && file.startsWith('/')) paths.push(file)
  } catch {}
  if (owner?.dedicated) paths.push(join('/tmp', 'openclaw', `openclaw-${day}.log`), join('/tmp', `openclaw-${owner.uid}`, `openclaw-${day}.log`))
  paths.push(join(home, '.openclaw', 'gateway.log'))
  return paths
}

export interface LogOwner {
  uid: number
  /** the molt runs as a user of its own */
  dedicated: boolean
}

export interface GatewayLogTail {
  path: string
  lines: string[]
}

/**
 * The last lines of the first candidate that is a regular file of the molt's user. The molt's
 * user may plant a link or a FIFO there, and this runs as root: one inside the home is opened from
 * the home without following links, one elsewhere without following its last component, and
 * either is judged by fstat before it is read (safe-fs.ts). Reads at most the last 64 KiB; lines
 * come back on one line each, at most 240 characters.
 */
export function tailGatewayLog(home: string, owner: LogOwner | null, count = 10): GatewayLogTail | null {
  for (const path of gatewayLogCandidates(home, owner)) {
    let fd: number
    let st: Stats
    try {
      const inHome = path.startsWith(`${home}/`) ? openHomeFile(home, path.slice(home.length + 1)) : openRegularFile(path)
      if (!inHome) continue
      ;({ fd, stats: st } = inHome)
    } catch {
      continue
    }
    try {
      if (!st.isFile() || (owner && st.uid !== owner.uid)) continue
      const size = Math.min(st.size, 64 * 1024)
      const buf = Buffer.alloc(size)
      if (size) readSync(fd, buf, 0, size, st.size - size)
      const lines = buf.toString('utf8').split('\n')
      if (st.size > size) lines.shift()
      const kept = lines.map(readable).filter((l) => l !== '').slice(-count)
      return { path, lines: kept }
    } finally {
      closeSync(fd)
    }
  }
  return null
}

/** A JSON log record (the gateway's format) as "time level message"; anything else as it is. */
function readable(line: string): string {
  let text = line.trim()
  if (text.startsWith('{')) {
    try {
      const r = JSON.parse(text) as Record<string, unknown>
      const time = r.time ?? r.ts ?? r.timestamp
      const level = (r._meta as { logLevelName?: unknown } | undefined)?.logLevelName ?? r.level
      const message = r.msg ?? r.message ?? r['0'] ?? r['1']
      if (message !== undefined) text = [time, level, typeof message === 'string' ? message : JSON.stringify(message)].filter((v) => v !== undefined).join(' ')
    } catch {}
  }
  text = text.replace(/[\x00-\x1f\x7f]+/g, ' ')
  return text.length > 240 ? `${text.slice(0, 239)}…` : text
}
