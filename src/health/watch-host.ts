import type { Dispatcher } from '../alert/deliver.ts'
import type { NoticeSender, QueueingSender } from '../alert/fleet-queue.ts'
import { alertsDir, openAlertsDir, readAlertsFile } from '../alert/alerts-dir.ts'
import type { RenderedNotice } from '../alert/message.ts'
import { hostProblems, readHost } from '../host/checks.ts'
import { HOST_FILE, updateHostIncidents, type HostChange } from '../host/incidents.ts'
import { stamp } from './watch-notices.ts'
import { stoppedWatchers, updateWatchers, watcherNotice, type WatcherChanges } from './watchers.ts'

/**
 * The watch run's host checks: every run looks (statfs, /proc/meminfo); a new host problem, or
 * one that cleared, is reported once for the whole host (host.json under its lock), through the
 * fleet outbox like any notice.
 */
export async function checkHost(baseDir: string, now: number, limits: { diskFreeMin: number; memoryUsedMax: number }): Promise<HostChange[]> {
  const problems = hostProblems(readHost(baseDir), limits)
  if (!problems.length) {
    // nothing wrong and nothing open: no lock, no write
    const text = (() => {
      try {
        return readAlertsFile(alertsDir(baseDir), HOST_FILE)
      } catch {
        return null
      }
    })()
    if (!text || /"open":\s*\{\s*\}/.test(text)) return []
  }
  const opened = openAlertsDir(baseDir)
  if ('error' in opened) return []
  return updateHostIncidents(opened.dir, problems, now)
}

/** Other molts' watches that stopped running (or this one, back): null when nothing changed. */
export async function checkWatchers(baseDir: string, self: string, now: number): Promise<WatcherChanges | null> {
  const opened = openAlertsDir(baseDir)
  if ('error' in opened) return null
  const { discoverFleet } = await import('../fleet/discover.ts')
  const { readWatchState } = await import('./watch-state.ts')
  const molts = discoverFleet(baseDir).molts.filter((m) => m.name !== self)
  const stopped = stoppedWatchers(molts, now, (m) => {
    try {
      return readWatchState(m.home).state?.interval_minutes ?? 5
    } catch {
      return 5
    }
  })
  const changes = await updateWatchers(opened.dir, self, stopped, now)
  return changes.stopped.length || changes.resumed.length ? changes : null
}

export function hostNotice(change: HostChange, host: string, clmnt: string): RenderedNotice {
  if (change.kind === 'host') {
    return {
      subject: `[Claw Mountain] host ${host}: ${change.summary}`,
      body: `Host ${host}: ${change.summary}.\n\n${change.detail}\n\nOne alert per host incident; a notice follows when it clears.\n\nWhat to run next:\n  ${clmnt} doctor\n  df -h\n  free -m\n`,
    }
  }
  return {
    subject: `[Claw Mountain] host ${host}: OK again (${change.summary.replace(/ \(.*\)$/, '')} cleared)`,
    body: `Host ${host}: the problem "${change.summary}" reported at ${change.since.slice(0, 16).replace('T', ' ')} UTC has cleared.\n`,
  }
}

/** Where this run's fleet notices go, and what their text needs. */
export interface FleetNoticeOut {
  sender: NoticeSender
  dispatcher: Dispatcher
  channels: string[]
  /** this machine's name, for subjects and Message-IDs */
  host: string
  /** how to call clmnt in "what to run next" */
  clmnt: string
  problems: string[]
}

/** The host's changes and the watchers', each told once for the whole fleet; returns the subjects sent. */
export async function sendHostNotices(out: FleetNoticeOut, changes: HostChange[], watchers: WatcherChanges | null, now: () => number): Promise<string[]> {
  const subjects: string[] = []
  for (const change of changes) {
    const at = new Date(now()).toISOString()
    const rendered = hostNotice(change, out.host, out.clmnt)
    await sendFleetNotice(out.sender, out.dispatcher, out.channels, { key: `host/${change.key}/${change.kind}/${change.since}`, kind: change.kind, rendered, messageId: `<clmnt.host.${change.kind}.${stamp(change.since)}@${out.host}>`, at }, out.problems)
    subjects.push(rendered.subject)
  }
  if (watchers) {
    const at = new Date(now()).toISOString()
    const rendered = watcherNotice(watchers, out.host, out.clmnt)
    if (rendered) {
      await sendFleetNotice(out.sender, out.dispatcher, out.channels, { key: `watchers/${at}`, kind: watchers.stopped.length ? 'watcher-stopped' : 'watcher-resumed', rendered, messageId: `<clmnt.watchers.${stamp(at)}@${out.host}>`, at }, out.problems)
      subjects.push(rendered.subject)
    }
  }
  return subjects
}

/**
 * A notice of the fleet (host, watchers, silence) over this run's channels: into the fleet outbox
 * when it is in use, else directly. `title` names the agent turn of a webhook; `what` the notice in problems.
 */
export async function sendFleetNotice(sender: NoticeSender, dispatcher: Dispatcher, channels: string[], notice: { key: string; kind: string; rendered: RenderedNotice; messageId: string; at: string; title?: string; what?: string }, problems: string[]): Promise<boolean> {
  let ok = true
  for (const channel of channels) {
    if (channel !== 'stderr' && 'entry' in sender) {
      const queue = sender as QueueingSender
      const entry = queue.entry(channel as 'email' | 'webhook', { key: `${notice.key}/${channel}`, kind: notice.kind, incident: null, rendered: notice.rendered, summary: notice.rendered.subject.replace(/^\[Claw Mountain\] /, ''), message_id: notice.messageId, in_reply_to: null, created_at: notice.at })
      if (await queue.queue(entry)) continue
    }
    const outcome = await dispatcher.sendRendered(channel as 'email', notice.rendered, { date: notice.at, messageId: notice.messageId, references: [], headers: [['X-Clmnt-Notice', notice.kind]] }, notice.title ?? `clmnt: ${notice.kind}`, notice.messageId.slice(1, -1))
    if (!outcome.ok) {
      ok = false
      problems.push(`${notice.what ?? `the ${notice.kind} notice`} was not delivered via ${channel}: ${outcome.error}`)
    }
  }
  return ok
}
