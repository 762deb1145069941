import type { Channel, Notice } from '../health/watch-types.ts'
import type { DeliveryOutcome } from '../health/watch-outbox.ts'
import type { Dispatcher } from './deliver.ts'
import { queueEntry, type OutboxEntry, type Queued } from './fleet-outbox.ts'
import { messageId, type RenderedNotice } from './message.ts'

/**
 * Stands in for the Dispatcher during a watch run when digests are on: mail and webhook notices
 * are handed to the fleet outbox (fleet-outbox.ts) instead of being sent by this process; the
 * stderr channel (cron's MAILTO) still goes out at once. A channel that cannot work with these
 * settings is refused here, as the Dispatcher would; an outbox that cannot be written sends directly.
 */
export interface NoticeSender {
  render(notice: Notice): RenderedNotice
  describe(channel: Channel): string
  send(notice: Notice, channel: Channel): Promise<DeliveryOutcome>
}

export class QueueingSender implements NoticeSender {
  readonly queued: Queued[] = []
  /** outbox keys of what this run handed over */
  readonly keys: string[] = []
  readonly warnings: string[] = []

  constructor(
    private readonly dispatcher: Dispatcher,
    private readonly dir: string,
    private readonly options: { waitMs: number; now(): number; remaining(): number },
  ) {}

  render(notice: Notice): RenderedNotice {
    return this.dispatcher.render(notice)
  }

  describe(channel: Channel): string {
    return channel === 'stderr' ? 'stderr' : `the fleet outbox for ${this.dispatcher.describe(channel)}`
  }

  async send(notice: Notice, channel: Channel): Promise<DeliveryOutcome> {
    if (channel === 'stderr') return this.dispatcher.send(notice, channel)
    const problem = this.dispatcher.problem(channel)
    if (problem) return { ok: false, permanent: true, error: problem }
    const { molt, host } = this.dispatcher.context
    const rendered = this.render(notice)
    const reason = notice.kind === 'down' && typeof notice.facts.reason === 'string' ? `: ${notice.facts.reason}` : ''
    const entry = this.entry(channel, {
      key: `${molt.name}/${notice.id}/${channel}`,
      kind: notice.kind,
      incident: notice.incident,
      rendered,
      summary: `${rendered.subject.replace(/^\[Claw Mountain\] (molt )?/, '')}${reason}`,
      message_id: messageId(notice, molt.name, host),
      in_reply_to: notice.in_reply_to ? messageId({ id: notice.in_reply_to }, molt.name, host) : null,
      created_at: notice.created_at,
    })
    const queued = await this.queue(entry)
    if (queued) return { ok: true }
    this.warnings.push(`sending the ${notice.kind} notice directly`)
    return this.dispatcher.send(notice, channel)
  }

  /** Hand over a prepared entry; false (with a warning) when the outbox cannot be written. */
  async queue(entry: OutboxEntry): Promise<boolean> {
    const queued = await queueEntry(this.dir, entry, this.options.waitMs, this.options.now(), Math.max(1000, Math.min(120_000, this.options.remaining() - 30_000)))
    if ('error' in queued) {
      this.warnings.push(queued.error)
      return false
    }
    this.queued.push(queued)
    this.keys.push(entry.key)
    return true
  }

  /** An outbox entry of this run's molt and settings. */
  entry(channel: 'email' | 'webhook', e: { key: string; kind: string; incident: string | null; rendered: RenderedNotice; summary: string; message_id: string; in_reply_to: string | null; created_at: string }): OutboxEntry {
    const { molt, settings } = this.dispatcher.context
    return {
      key: e.key,
      molt: molt.name,
      kind: e.kind,
      incident: e.incident,
      channel,
      group: JSON.stringify([channel, this.dispatcher.describe(channel), channel === 'email' ? settings.emails : settings.notifyMolt, settings.from?.address ?? null]),
      settings,
      subject: e.rendered.subject,
      body: e.rendered.body,
      summary: e.summary.slice(0, 200),
      message_id: e.message_id,
      in_reply_to: e.in_reply_to,
      created_at: e.created_at,
      queued_at: new Date(this.options.now()).toISOString(),
      attempts: 0,
      last_error: null,
    }
  }
}
