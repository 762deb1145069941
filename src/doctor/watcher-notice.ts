import { openAlertsDir, openIncidents } from '../alert/alerts-dir.ts'
import type { FleetConfig } from '../fleet/config.ts'
import { findMolt } from '../fleet/discover.ts'
import { DEFAULT_RESTART_COMMAND, splitCommand } from '../health/restart.ts'
import { checkWatchers } from '../health/watch-host.ts'
import type { WatcherChanges } from '../health/watchers.ts'
import { watchAlertSettings } from './alert.ts'
import type { DoctorContext } from './context.ts'
import { fail, few, ok, skip, warn, type Finding } from './types.ts'

/**
 * Who watches the watcher, from outside the watches: when cron stopped, no watch is left to say
 * so, but the dashboard (while it runs) and `doctor` still can. They look exactly as a watch run
 * does — the same stoppedWatchers rule, the same incident in `.clmnt-alerts/watchers.json`,
 * changed under its lock — so whichever of the dashboard, doctor and the next watch sees a stopped
 * watcher first sends the one "watcher stopped" notice (and later the one "watch runs again"), the
 * others find the incident open and send nothing. The notice is the watch's (watcherNotice), over
 * the channels of clmnt.json, through the fleet outbox when digests are on.
 */
export interface WatcherNoticeOptions {
  baseDir: string
  config: FleetConfig
  now(): number
  /** the digest wait (clmnt.json's digest_wait), or null: digests off */
  waitMs: number | null
  /** time left for sending */
  budgetMs: number
  stderr(text: string): void
  host?: string
}

export interface WatcherNoticeResult {
  /** what this look opened or closed; null: nothing changed (or it could not look) */
  changes: WatcherChanges | null
  /** the notice's subject when one went out (or was handed to the outbox) */
  subject: string | null
  problems: string[]
  warnings: string[]
}

export async function notifyStoppedWatchers(options: WatcherNoticeOptions): Promise<WatcherNoticeResult> {
  const result: WatcherNoticeResult = { changes: null, subject: null, problems: [], warnings: [] }
  const opened = openAlertsDir(options.baseDir, false)
  // no folder yet: no watch with notices ever ran here, and no incident to open without one
  if ('error' in opened) return result
  const started = Date.now()
  const remaining = () => options.budgetMs - (Date.now() - started)
  // '' is no molt: no watch of its own closes an incident here, only watches that run again
  const changes = await checkWatchers(options.baseDir, '', options.now())
  const { openDispatcher, senderFor, sendHostNotices, settleFleetOutbox } = await loadSending()
  const fleet = { baseDir: options.baseDir, waitMs: options.waitMs, host: options.host ?? '', now: options.now, remaining, stderr: options.stderr }
  if (!changes) {
    // what a stopped watch left in the outbox is sent by whoever still runs
    const flushed = await settleFleetOutbox(null, { ...fleet, host: fleet.host || (await import('../alert/message.ts')).mailHost() })
    if (flushed) result.problems.push(...flushed.problems)
    return result
  }
  result.changes = changes
  // the molt the notice is about: its msmtprc is the one its own watch would have used
  const molt = findMolt(options.baseDir, changes.stopped[0]?.molt ?? changes.resumed[0]!).molt
  const settings = watchAlertSettings(null, options.config, options.baseDir)
  const restartArgv = splitCommand(options.config.restart_cmd ?? DEFAULT_RESTART_COMMAND)
  const { dispatcher, extra, channels } = await openDispatcher(molt, { settings, restartArgv, dashboardUrl: options.config.dashboard?.url ?? null }, fleet)
  const sender = await senderFor(dispatcher, fleet, result.warnings)
  // the watch's own notice, sent as a watch run sends it
  const [subject] = await sendHostNotices({ sender, dispatcher, channels, host: fleet.host, clmnt: String(extra.clmnt), problems: result.problems }, [], changes, options.now)
  if (!subject) return result
  result.subject = subject
  const flushed = await settleFleetOutbox(sender, fleet)
  if (flushed) {
    result.problems.push(...flushed.problems)
    result.warnings.push(...flushed.warnings)
  }
  return result
}

async function loadSending() {
  const { openDispatcher, senderFor, settleFleetOutbox } = await import('../health/watch-fleet.ts')
  const { sendHostNotices } = await import('../health/watch-host.ts')
  return { openDispatcher, senderFor, sendHostNotices, settleFleetOutbox }
}

/**
 * doctor's look at the watches of the whole fleet: which stopped (no run for 3 intervals), and
 * the notice — sent now by this run, or already by a watch or the dashboard (its incident is open).
 */
export async function watcherFindings(ctx: DoctorContext): Promise<Finding[]> {
  const id = 'monitoring.watchers'
  const title = 'watches of the fleet'
  if (!ctx.baseDir || !ctx.fleet) return [skip(id, title, 'no base dir')]
  if (!ctx.config) return [skip(id, title, 'clmnt.json is unusable')]
  const baseDir = ctx.baseDir.dir
  const { stoppedWatchers, lastWatchRun } = await import('../health/watchers.ts')
  const { readWatchState } = await import('../health/watch-state.ts')
  const watched = ctx.fleet.molts.filter((m) => lastWatchRun(m.home) !== null)
  if (!watched.length) return [skip(id, title, 'no watch has run yet')]
  const config = ctx.config.config
  // doctor does not wait for a digest window: it sends at once (or not at all when digests are off)
  const waitMs = config.digest_wait === 'off' ? null : 0
  const sent = await notifyStoppedWatchers({ baseDir, config, now: Date.now, waitMs, budgetMs: 30_000, stderr: (text) => process.stderr.write(text.endsWith('\n') ? text : `${text}\n`) })
  const stopped = stoppedWatchers(watched, ctx.now, (m) => {
    try {
      return readWatchState(m.home).state?.interval_minutes ?? 5
    } catch {
      return 5
    }
  })
  const problems = sent.problems.length ? `; sending failed: ${sent.problems.join('; ')}` : ''
  if (!stopped.length) {
    const resumed = sent.changes?.resumed.length ? `; "watch runs again" sent for ${sent.changes.resumed.join(', ')}` : ''
    return [(problems ? warn : ok)(id, title, `all ${watched.length} watch(es) ran within 3 of their intervals${resumed}${problems}`, 'fix the alert route (see above)')]
  }
  const open = openIncidents(baseDir, 'watchers.json')
  const names = stopped.map((s) => `${s.molt} (last ${s.last_run.slice(0, 16).replace('T', ' ')} UTC, every ${s.interval_minutes} min)`)
  const notice = sent.subject && sent.changes?.stopped.length
    ? '"watcher stopped" notice sent now'
    : stopped.every((s) => open[s.molt]) ? `"watcher stopped" notice already sent (${open[stopped[0]!.molt]!.since.slice(0, 16).replace('T', ' ')} UTC)` : 'no notice yet'
  return [fail(id, title, `no watch run for 3 intervals: ${few(names, 3)}; ${notice}${problems}`, `is cron running (systemctl status cron)? ${stopped.length === 1 ? `clmnt molt health setup ${stopped[0]!.molt} --status` : 'clmnt molt health setup --all --status'}`)]
}
