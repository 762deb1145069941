import type { AlertSettings, Dispatcher } from '../alert/deliver.ts'
import type { Molt } from '../fleet/discover.ts'
import type { NoticeSender, QueueingSender } from '../alert/fleet-queue.ts'
import type { FlushReport } from '../alert/fleet-flush.ts'
import { alertsDir, readAlertsFile } from '../alert/alerts-dir.ts'
import { OUTBOX_FILE } from '../alert/fleet-outbox.ts'

/**
 * The watch run's part in fleet-wide alerting (digests): hand notices to the fleet outbox, then
 * — when this run opened the window — wait for it to close and send for everyone; any later run
 * sends what a killed opener left behind. `waitMs` null: digests are off, notices go out directly.
 */
export interface FleetAlerting {
  baseDir: string
  waitMs: number | null
  host: string
  now(): number
  remaining(): number
  stderr(text: string): void
}

/**
 * The alert transports for notices about `molt`, with the links those carry (the fleet's host
 * name filled in). Loaded only when there is something to send: most runs have nothing to say.
 */
export async function openDispatcher(molt: Molt, alerting: { settings: AlertSettings; restartArgv: string[]; dashboardUrl: string | null }, fleet: FleetAlerting) {
  const { Dispatcher, channelsFor } = await import('../alert/deliver.ts')
  const { mailHost } = await import('../alert/message.ts')
  const { noticeActions } = await import('../alert/actions.ts')
  fleet.host ||= mailHost()
  const extra = noticeActions({ molt, baseDir: fleet.baseDir, restartArgv: alerting.restartArgv, dashboardUrl: alerting.dashboardUrl })
  const dispatcher = new Dispatcher({ molt, baseDir: fleet.baseDir, host: fleet.host, settings: alerting.settings, remaining: () => fleet.remaining() - 1000, stderr: fleet.stderr, extra })
  return { dispatcher, extra, channels: channelsFor(alerting.settings) }
}

export async function senderFor(dispatcher: Dispatcher, fleet: FleetAlerting, warnings: string[]): Promise<NoticeSender> {
  if (fleet.waitMs === null) return dispatcher
  const { openAlertsDir } = await import('../alert/alerts-dir.ts')
  const opened = openAlertsDir(fleet.baseDir)
  if ('error' in opened) {
    warnings.push(`${opened.error}; notices go out one by one`)
    return dispatcher
  }
  const { QueueingSender } = await import('../alert/fleet-queue.ts')
  return new QueueingSender(dispatcher, opened.dir, { waitMs: fleet.waitMs, now: fleet.now, remaining: fleet.remaining })
}

/**
 * After this run's deliveries. The process whose notice is the oldest waiting one waits for its
 * window to close and sends for everyone; a notice that arrived while another process was sending
 * may become the oldest, and then its own process waits for it. Whatever a killed process left
 * behind is sent by the next run of any molt (its window is long closed by then).
 */
export async function settleFleetOutbox(sender: NoticeSender | null, fleet: FleetAlerting): Promise<FlushReport | null> {
  if (fleet.waitMs === null) return null
  const queue = sender && 'queued' in sender ? (sender as QueueingSender) : null
  const mine = new Set(queue?.keys ?? [])
  const dir = alertsDir(fleet.baseDir)
  if (!mine.size && !hasWaiting(dir)) return null
  const { flushOutbox } = await import('../alert/fleet-flush.ts')
  const { fleetPicture } = await import('../alert/digest.ts')
  const { readOutbox, windowEnd } = await import('../alert/fleet-outbox.ts')
  const total: FlushReport = { sent: [], problems: [], warnings: [...(queue?.warnings ?? [])] }
  // keep 15 s of the budget for sending
  while (fleet.remaining() > 15_000) {
    const { outbox } = readOutbox(dir)
    const end = windowEnd(outbox, fleet.waitMs)
    if (end === null) break
    const oldest = outbox.entries.reduce((a, b) => (Date.parse(a.queued_at) <= Date.parse(b.queued_at) ? a : b))
    if (fleet.now() < end) {
      if (!mine.has(oldest.key)) break
      await Bun.sleep(Math.min(end - fleet.now(), fleet.remaining() - 15_000))
      continue
    }
    const report = await flushOutbox(dir, { ...fleet, waitMs: fleet.waitMs, picture: () => fleetPicture(fleet.baseDir) })
    total.sent.push(...report.sent)
    total.problems.push(...report.problems)
    total.warnings.push(...report.warnings)
    if (report.busy) {
      // another process is sending: once it is done, see whether our notices were in its batch
      await Bun.sleep(250)
      continue
    }
    break
  }
  return total
}

/** Anything in the outbox? Looked at without zod: most runs have nothing to do with it. */
function hasWaiting(dir: string): boolean {
  try {
    return !readAlertsFile(dir, OUTBOX_FILE)?.includes('"entries":[]')
  } catch {
    return false
  }
}
