import { join } from 'node:path'
import type { Molt } from '../fleet/discover.ts'
import { findMolt } from '../fleet/discover.ts'
import { tryLock } from '../lib/lock.ts'
import { composeDigest, type FleetPicture } from './digest.ts'
import { Dispatcher } from './deliver.ts'
import { OUTBOX_FILE, OUTBOX_GIVE_UP_MS, groupEntries, pruneSentAs, readOutbox, resolveParent, windowEnd, writeOutbox, type OutboxEntry } from './fleet-outbox.ts'
import { lockAlertsFile } from './alerts-dir.ts'
import type { MailParts, RenderedNotice } from './message.ts'

/**
 * Send what waits in the fleet outbox once its window has closed. One sender at a time (a flush
 * lock, not waited for: whoever holds it sends for everyone); the outbox itself is locked only to
 * read and to write back, so watches keep handing notices over while a slow server is talked to.
 */
export interface FlushContext {
  baseDir: string
  host: string
  waitMs: number
  now(): number
  remaining(): number
  picture(): FleetPicture
  stderr(text: string): void
}

export interface FlushReport {
  /** one per message sent */
  sent: { channel: string; notices: number; subject: string; digest: boolean }[]
  problems: string[]
  warnings: string[]
  /** nothing was sent because the window is still open (ms left) */
  waiting_ms?: number
  /** another process is sending */
  busy?: boolean
}

export async function flushOutbox(dir: string, ctx: FlushContext): Promise<FlushReport> {
  const report: FlushReport = { sent: [], problems: [], warnings: [] }
  const flushing = tryLock(join(dir, 'flush.lock'), 'send the fleet outbox')
  if (!flushing.ok) return { ...report, busy: true }
  try {
    let due: OutboxEntry[] = []
    let parents: Map<string, string | null> = new Map()
    {
      const lock = await lockAlertsFile(dir, OUTBOX_FILE, 'flush', 10_000)
      if (!lock) return { ...report, problems: ['the fleet outbox stayed locked for 10 s'] }
      try {
        const { outbox, warning } = readOutbox(dir)
        if (warning) report.warnings.push(warning)
        const end = windowEnd(outbox, ctx.waitMs)
        if (end === null) return report
        if (ctx.now() < end) return { ...report, waiting_ms: end - ctx.now() }
        due = outbox.entries
        parents = new Map(due.map((e) => [e.key, resolveParent(outbox, e.channel, e.in_reply_to)]))
      } finally {
        lock.release()
      }
    }

    const done = new Map<string, { sent_as: string | null }>()
    const failed = new Map<string, string>()
    let picture: FleetPicture | null = null
    for (const group of groupEntries(due)) {
      const first = group[0]!
      const dispatcher = new Dispatcher({ molt: moltOf(ctx.baseDir, first.molt), baseDir: ctx.baseDir, host: ctx.host, settings: first.settings, remaining: () => ctx.remaining() - 1000, stderr: ctx.stderr })
      let rendered: RenderedNotice
      let parts: MailParts
      let title: string
      if (group.length === 1) {
        const parent = parents.get(first.key)
        rendered = { subject: first.subject, body: first.body }
        const headers: [string, string][] = [['X-Clmnt-Molt', first.molt], ['X-Clmnt-Notice', first.kind]]
        if (first.incident) headers.push(['X-Clmnt-Incident', first.incident])
        parts = { date: first.created_at, messageId: first.message_id, references: parent ? [parent] : [], headers }
        title = `clmnt health: ${first.molt} ${first.kind}`
      } else {
        picture ??= ctx.picture()
        rendered = composeDigest(group, picture, ctx.host, ctx.waitMs)
        const at = new Date(ctx.now()).toISOString()
        const references = [...new Set(group.map((e) => parents.get(e.key)).filter((p): p is string => Boolean(p)))]
        parts = { date: at, messageId: `<clmnt.digest.${at.replace(/[^0-9TZ]/g, '')}.${first.channel}@${ctx.host}>`, references: references.slice(0, 50), headers: [['X-Clmnt-Notice', 'digest'], ['X-Clmnt-Digest', String(group.length)]] }
        title = `clmnt health: digest of ${group.length} notices`
      }
      if (ctx.remaining() < 2000) {
        for (const e of group) failed.set(e.key, 'not tried: the run is out of time')
        continue
      }
      // a lone notice keeps the key a direct send would have used (its notice id)
      const key = group.length === 1 ? first.key.split('/')[1]! : parts.messageId.slice(1, -1)
      const outcome = await dispatcher.sendRendered(first.channel, rendered, parts, title, key)
      if (outcome.ok) {
        report.sent.push({ channel: `${first.channel} (${dispatcher.describe(first.channel)})`, notices: group.length, subject: rendered.subject, digest: group.length > 1 })
        for (const e of group) done.set(e.key, { sent_as: group.length > 1 ? parts.messageId : null })
      } else {
        for (const e of group) failed.set(e.key, outcome.error)
        report.problems.push(`${group.length > 1 ? `digest of ${group.length} notices` : `${first.kind} notice of ${first.molt}`} via ${dispatcher.describe(first.channel)} not delivered, will retry: ${outcome.error}`)
      }
    }

    const lock = await lockAlertsFile(dir, OUTBOX_FILE, 'flush', 10_000)
    if (!lock) return { ...report, problems: [...report.problems, 'the fleet outbox stayed locked for 10 s: what was sent may be sent again'] }
    try {
      const { outbox } = readOutbox(dir)
      const now = ctx.now()
      const at = new Date(now).toISOString()
      outbox.entries = outbox.entries.filter((e) => {
        const sent = done.get(e.key)
        if (sent) {
          if (sent.sent_as) outbox.sent_as[`${e.channel} ${e.message_id}`] = { id: sent.sent_as, at }
          return false
        }
        const error = failed.get(e.key)
        if (error !== undefined) {
          e.attempts += 1
          e.last_error = error
          if (now - Date.parse(e.queued_at) > OUTBOX_GIVE_UP_MS) {
            report.problems.push(`gave up on the ${e.kind} notice of ${e.molt} after ${e.attempts} attempts over a day: ${error}`)
            return false
          }
        }
        return true
      })
      pruneSentAs(outbox, now)
      writeOutbox(dir, outbox)
    } finally {
      lock.release()
    }
    return report
  } finally {
    flushing.lock.release()
  }
}

/** The molt whose settings the group was queued with (its own ~/.msmtprc may be the route). */
function moltOf(baseDir: string, name: string): Molt {
  try {
    return findMolt(baseDir, name).molt
  } catch {
    return { name, home: join(baseDir, name), port: null, portSource: null, created: null, inRegistry: false, hasMoltInfo: false, warnings: [] }
  }
}
