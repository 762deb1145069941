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
    private readonly options: { waitMs: number; now(): number },
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
    const { molt, host, settings } = this.dispatcher.context
    const rendered = this.render(notice)
    const now = new Date(this.options.now()).toISOString()
    const reason = notice.kind === 'down' && typeof notice.facts.reason === 'string' ? `: ${notice.facts.reason}` : ''
    const entry: OutboxEntry = {
      key: `${molt.name}/${notice.id}/${channel}`,
      molt: molt.name,
      kind: notice.kind,
      incident: notice.incident,
      channel,
      group: JSON.stringify([channel, this.dispatcher.describe(channel), channel === 'email' ? settings.emails : settings.notifyMolt, settings.from?.address ?? null]),
      settings,
      subject: rendered.subject,
      body: rendered.body,
      summary: `${rendered.subject.replace(/^\[Claw Mountain\] (molt )?/, '')}${reason}`.slice(0, 200),
      message_id: messageId(notice, molt.name, host),
      in_reply_to: notice.in_reply_to ? messageId({ id: notice.in_reply_to }, molt.name, host) : null,
      created_at: notice.created_at,
      queued_at: now,
      attempts: 0,
      last_error: null,
    }
    const queued = await queueEntry(this.dir, entry, this.options.waitMs, this.options.now())
    if ('error' in queued) {
      this.warnings.push(`${queued.error}; sending the ${notice.kind} notice directly`)
      return this.dispatcher.send(notice, channel)
    }
    this.queued.push(queued)
    this.keys.push(entry.key)
    return { ok: true }
  }
}
