import type { Channel, Notice, WatchFile } from './watch-types.ts'

/**
 * The outbox: notices wait here until a transport accepts them, keeping their Message-ID (id) and
 * Date (created_at) across retries. Plain functions over the state, as the rest of watch.ts.
 */
export type DeliveryOutcome = { ok: true } | { ok: false; permanent: boolean; error: string }

/** Notices that still have a channel to try, oldest first. */
export function dueNotices(state: WatchFile, channels: readonly Channel[]): Notice[] {
  return state.outbox.filter((n) => channels.some((c) => !n.delivered[c] && !n.failed[c]))
}

export function recordDelivery(previous: WatchFile, id: string, channel: Channel, outcome: DeliveryOutcome, now: number): WatchFile {
  const s = structuredClone(previous)
  const notice = s.outbox.find((n) => n.id === id)
  if (!notice) return s
  notice.last_attempt_at = iso(now)
  if (outcome.ok) {
    const first = !wasDelivered(notice)
    notice.delivered[channel] = iso(now)
    if (first && s.incident?.down_notice === id) s.incident.down_notified_at = iso(now)
    if (first && s.flapping?.notice === id) s.flapping.notified_at = iso(now)
  } else {
    notice.last_error = `${channel}: ${outcome.error}`
    if (outcome.permanent) notice.failed[channel] = outcome.error
  }
  s.alert_sent = alertSent(s)
  return s
}

/** Count one delivery round for each notice tried (called once per run, not per channel). */
export function countAttempt(previous: WatchFile, ids: readonly string[]): WatchFile {
  const s = structuredClone(previous)
  for (const n of s.outbox) if (ids.includes(n.id)) n.attempts += 1
  return s
}

/**
 * A permanent failure is not retried with the same settings; once the settings change (an
 * operator fixed the password, the address, the mailer), every waiting notice is tried again.
 */
export function retryAfterSettingsChange(previous: WatchFile, fingerprint: string): WatchFile {
  if (previous.alert_config === fingerprint) return previous
  const s = structuredClone(previous)
  s.alert_config = fingerprint
  for (const notice of s.outbox) notice.failed = {}
  return s
}

/**
 * Remove the notices every channel has taken, or that at least one channel took while the rest
 * refused them for good. A notice no channel could take stays, waiting for better settings.
 */
export function settleOutbox(previous: WatchFile, channels: readonly Channel[]): { state: WatchFile; done: Notice[] } {
  const s = structuredClone(previous)
  const done = s.outbox.filter((n) => channels.some((c) => n.delivered[c]) && channels.every((c) => n.delivered[c] || n.failed[c]))
  s.outbox = s.outbox.filter((n) => !done.includes(n))
  return { state: s, done }
}

export function wasDelivered(notice: Notice): boolean {
  return Object.keys(notice.delivered).length > 0
}

export function alertSent(s: WatchFile): boolean {
  return Boolean(s.incident?.down_notified_at) || Boolean(s.flapping?.notified_at)
}

export function iso(ms: number): string {
  return new Date(ms).toISOString()
}
