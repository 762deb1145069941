import { closeSync, constants, fstatSync, lstatSync, mkdirSync, openSync, readSync } from 'node:fs'
import { join } from 'node:path'
import { writeFileAtomic } from '../lib/atomic.ts'
import { tryLock, type Lock } from '../lib/lock.ts'

/**
 * `<base-dir>/.clmnt-alerts/`: the fleet's alerting files that no single molt owns (the shared
 * outbox of digests, silences, host and watcher incidents). 0700 and used only when it belongs to
 * the user running clmnt: a folder another user owns could feed us forged notices, so the fleet
 * features then step aside (notices go out one by one, as before) and the caller says so.
 */
export const ALERTS_DIR = '.clmnt-alerts'

export function alertsDir(baseDir: string): string {
  return join(baseDir, ALERTS_DIR)
}

/** The folder, created when missing; null (with why) when it cannot be trusted or made. */
export function openAlertsDir(baseDir: string, create = true): { dir: string } | { error: string } {
  const dir = alertsDir(baseDir)
  try {
    const st = lstatSync(dir)
    if (!st.isDirectory()) return { error: `${dir} is not a folder` }
    if (st.uid !== process.geteuid?.()) return { error: `${dir} belongs to uid ${st.uid}, not to this user: fleet-wide alerting (digests, silences) is off for this run` }
    return { dir }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') return { error: `cannot use ${dir}: ${(error as NodeJS.ErrnoException).code}` }
  }
  if (!create) return { error: `${dir} does not exist` }
  try {
    mkdirSync(dir, { mode: 0o700 })
    return { dir }
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'EEXIST') return openAlertsDir(baseDir, false)
    return { error: `cannot create ${dir}: ${code ?? (error as Error).message}` }
  }
}

/** A file of the folder: text, or null when absent. Never follows a link, never blocks on a FIFO. */
export function readAlertsFile(dir: string, name: string): string | null {
  let fd: number
  try {
    fd = openSync(join(dir, name), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null
    throw error
  }
  try {
    const st = fstatSync(fd)
    if (!st.isFile()) throw new Error(`${join(dir, name)} is not a regular file`)
    const buf = Buffer.alloc(st.size)
    let at = 0
    while (at < st.size) {
      const n = readSync(fd, buf, at, st.size - at, at)
      if (n === 0) break
      at += n
    }
    return buf.subarray(0, at).toString('utf8')
  } finally {
    closeSync(fd)
  }
}

export function writeAlertsFile(dir: string, name: string, text: string): void {
  writeFileAtomic(join(dir, name), text, { mode: 0o600 })
}

/** The lock of one file of the folder, waited for up to `waitMs` (its holders keep it for milliseconds). */
export async function lockAlertsFile(dir: string, name: string, command: string, waitMs: number): Promise<Lock | null> {
  const end = performance.now() + waitMs
  for (;;) {
    const attempt = tryLock(join(dir, `${name}.lock`), command)
    if (attempt.ok) return attempt.lock
    if (performance.now() >= end) return null
    await Bun.sleep(25)
  }
}

/**
 * The open incidents of `.clmnt-alerts/host.json` or `watchers.json` ({key: {since}}), read
 * without their lock (they are replaced atomically); none when absent or unreadable.
 */
export function openIncidents(baseDir: string, name: 'host.json' | 'watchers.json'): Record<string, { since: string }> {
  const opened = openAlertsDir(baseDir, false)
  if ('error' in opened) return {}
  try {
    const raw = JSON.parse(readAlertsFile(opened.dir, name) ?? 'null') as { version?: number; open?: Record<string, { since?: unknown }> } | null
    if (raw?.version !== 1 || !raw.open || typeof raw.open !== 'object') return {}
    return Object.fromEntries(Object.entries(raw.open).filter(([, v]) => typeof v?.since === 'string').map(([k, v]) => [k, { since: v.since as string }]))
  } catch {
    return {}
  }
}
