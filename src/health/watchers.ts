import { lstatSync } from 'node:fs'
import { lockAlertsFile, readAlertsFile, writeAlertsFile } from '../alert/alerts-dir.ts'
import type { Molt } from '../fleet/discover.ts'
import { watchStateFile } from './paths.ts'

/**
 * Who watches the watcher: every watch run also looks at when the other molts' watches last ran
 * (the mtime of their watch state, which each run rewrites) and opens a "watcher stopped"
 * incident for a molt with no run for WATCHER_STALE_INTERVALS intervals; its own next run closes
 * it. `.clmnt-alerts/watchers.json`, changed under its lock, so N watches report a stopped cron once.
 */
export const WATCHERS_FILE = 'watchers.json'
export const WATCHER_STALE_INTERVALS = 3

export interface StoppedWatcher {
  molt: string
  last_run: string
  interval_minutes: number
}

/** When the molt's watch last ran (its state file's mtime, the link itself when it is one); null: never. */
export function lastWatchRun(home: string): number | null {
  try {
    return lstatSync(watchStateFile(home)).mtimeMs
  } catch {
    return null
  }
}

/** No run for WATCHER_STALE_INTERVALS intervals: the molt's watch stopped. */
export function watcherStopped(lastRun: number, intervalMinutes: number, now: number): boolean {
  return now - lastRun >= WATCHER_STALE_INTERVALS * intervalMinutes * 60_000
}

/** Molts whose watch has not run for N intervals (a molt never watched is not counted). */
export function stoppedWatchers(molts: Molt[], now: number, intervalOf: (molt: Molt) => number): StoppedWatcher[] {
  const stopped: StoppedWatcher[] = []
  for (const molt of molts) {
    const mtime = lastWatchRun(molt.home)
    // cheap test first: no interval is shorter than a minute
    if (mtime === null || !watcherStopped(mtime, 1, now)) continue
    const interval = intervalOf(molt)
    if (watcherStopped(mtime, interval, now)) stopped.push({ molt: molt.name, last_run: new Date(mtime).toISOString(), interval_minutes: interval })
  }
  return stopped
}

export interface WatcherChanges {
  stopped: StoppedWatcher[]
  resumed: string[]
}

/** Open incidents for newly stopped watchers; close this molt's, since it runs. */
export async function updateWatchers(dir: string, self: string, stopped: StoppedWatcher[], now: number): Promise<WatcherChanges> {
  const text = (() => {
    try {
      return readAlertsFile(dir, WATCHERS_FILE)
    } catch {
      return null
    }
  })()
  // nothing stopped and nothing open: no lock, no write (the common case)
  if (!stopped.length && (!text || /"open":\s*\{\s*\}/.test(text))) return { stopped: [], resumed: [] }
  const lock = await lockAlertsFile(dir, WATCHERS_FILE, 'watchers', 10_000)
  if (!lock) return { stopped: [], resumed: [] }
  try {
    let file: { version: 1; open: Record<string, { since: string; last_run: string }> } = { version: 1, open: {} }
    try {
      const raw = JSON.parse(readAlertsFile(dir, WATCHERS_FILE) ?? 'null')
      if (raw?.version === 1 && raw.open && typeof raw.open === 'object') file = raw
    } catch {}
    const changes: WatcherChanges = { stopped: [], resumed: [] }
    for (const s of stopped) {
      if (file.open[s.molt]) continue
      file.open[s.molt] = { since: new Date(now).toISOString(), last_run: s.last_run }
      changes.stopped.push(s)
    }
    // a watch that runs again closes its incident (this run's own, and any whose state is fresh again)
    for (const name of Object.keys(file.open)) {
      if (name === self || !stopped.some((s) => s.molt === name)) {
        delete file.open[name]
        changes.resumed.push(name)
      }
    }
    if (changes.stopped.length || changes.resumed.length) writeAlertsFile(dir, WATCHERS_FILE, `${JSON.stringify(file, null, 2)}\n`)
    return changes
  } finally {
    lock.release()
  }
}

export function watcherNotice(changes: WatcherChanges, host: string, clmnt: string): { subject: string; body: string } | null {
  if (changes.stopped.length) {
    const names = changes.stopped.map((s) => s.molt)
    const lines = changes.stopped.map((s) => `  ${s.molt}: last watch run ${s.last_run.slice(0, 16).replace('T', ' ')} UTC (every ${s.interval_minutes} min)`)
    return {
      subject: `[Claw Mountain] watcher stopped on ${host}: no watch run for ${WATCHER_STALE_INTERVALS} intervals (${names.length > 5 ? `${names.slice(0, 5).join(', ')} and ${names.length - 5} more` : names.join(', ')})`,
      body: `No \`health watch\` run for ${WATCHER_STALE_INTERVALS} intervals or more — nothing is checking these molts and no alert would come:\n\n${lines.join('\n')}\n\nIs cron running (systemctl status cron), and the schedule still in place?\n\nWhat to run next:\n  ${clmnt} molt health setup ${names[0]} --status\n  ${clmnt} doctor ${names[0]}\n`,
    }
  }
  if (changes.resumed.length) {
    return { subject: `[Claw Mountain] watch runs again on ${host}: ${changes.resumed.join(', ')}`, body: `The watch of ${changes.resumed.join(', ')} runs again.\n` }
  }
  return null
}
