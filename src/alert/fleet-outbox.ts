import type { z } from 'zod'
import type { AlertSettings } from './deliver.ts'
import { lazySchema } from '../lib/schema.ts'
import { lockAlertsFile, readAlertsFile, writeAlertsFile } from './alerts-dir.ts'

/**
 * The fleet's shared outbox (`.clmnt-alerts/outbox.json`): each molt's watch is its own cron
 * process, so a storm's notices meet here. A watch hands its notice over (for the molt that
 * counts as delivered, the way a local mail queue takes a message) and the first process past the
 * window (windowEnd) sends everything waiting, per channel and recipients: one notice as itself, several
 * as one digest. The outbox then retries what a transport refused, and remembers which digest
 * carried which notice, so later notices of an incident still thread under it.
 */
export const OUTBOX_FILE = 'outbox.json'
/** a mail server down for a day must not grow the file without end */
export const OUTBOX_MAX_ENTRIES = 500
export const OUTBOX_GIVE_UP_MS = 24 * 3_600_000
/** how long a Message-ID → digest mapping is kept: longer than any incident worth threading */
export const SENT_AS_KEEP_MS = 30 * 86_400_000

export interface OutboxEntry {
  /** molt/notice/channel: a notice handed over twice (a retried run) is kept once */
  key: string
  molt: string
  kind: string
  incident: string | null
  channel: 'email' | 'webhook'
  /** entries with the same group go out together (channel, transport, recipients) */
  group: string
  settings: AlertSettings
  subject: string
  body: string
  /** one line for the digest's overview */
  summary: string
  message_id: string
  in_reply_to: string | null
  created_at: string
  queued_at: string
  attempts: number
  last_error: string | null
}

export interface OutboxFile {
  version: 1
  entries: OutboxEntry[]
  /** "<channel> <Message-ID of a notice>" → the Message-ID of the digest that carried it there */
  sent_as: Record<string, { id: string; at: string }>
}

export const outboxSchema = lazySchema((z) => {
  const time = z.string().refine((t) => !Number.isNaN(Date.parse(t)))
  const settings = z.object({
    emails: z.array(z.string()),
    mailer: z.enum(['auto', 'msmtp', 'smtp']),
    msmtpConfig: z.string().nullable(),
    smtpUrl: z.string().nullable(),
    from: z.object({ name: z.string().nullable().optional(), address: z.string() }).nullable(),
    notifyMolt: z.string().nullable(),
  })
  const entry = z.object({
    key: z.string(),
    molt: z.string(),
    kind: z.string(),
    incident: z.string().nullable(),
    channel: z.enum(['email', 'webhook']),
    group: z.string(),
    settings,
    subject: z.string(),
    body: z.string(),
    summary: z.string(),
    message_id: z.string().regex(/^<[^<>\s]+@[^<>\s]+>$/),
    in_reply_to: z.string().regex(/^<[^<>\s]+@[^<>\s]+>$/).nullable(),
    created_at: time,
    queued_at: time,
    attempts: z.number().int().min(0),
    last_error: z.string().nullable(),
  })
  return z.object({
    version: z.literal(1),
    entries: z.array(z.unknown()).transform((items) => items.flatMap((i) => {
      const parsed = entry.safeParse(i)
      return parsed.success ? [parsed.data as OutboxEntry] : []
    })),
    sent_as: z.record(z.string(), z.object({ id: z.string(), at: time })).catch({}),
  })
})

export type OutboxFileParsed = z.infer<ReturnType<typeof outboxSchema>>

export function emptyOutbox(): OutboxFile {
  return { version: 1, entries: [], sent_as: {} }
}

/** A damaged file is started afresh (with a warning): alerting must carry on. */
export function readOutbox(dir: string): { outbox: OutboxFile; warning?: string } {
  const text = readAlertsFile(dir, OUTBOX_FILE)
  if (text === null) return { outbox: emptyOutbox() }
  try {
    const parsed = outboxSchema().safeParse(JSON.parse(text))
    if (parsed.success) return { outbox: parsed.data as OutboxFile }
  } catch {}
  return { outbox: emptyOutbox(), warning: `${dir}/${OUTBOX_FILE} is damaged; starting a new outbox` }
}

export function writeOutbox(dir: string, outbox: OutboxFile): void {
  writeAlertsFile(dir, OUTBOX_FILE, `${JSON.stringify(outbox)}\n`)
}

export interface Queued {
  /** this entry opened the window (nothing else was waiting): its process sends when it closes */
  opener: boolean
  /** when the window of the oldest waiting entry closes */
  window_end: number
}

/**
 * Hand one notice over. Holders keep the lock for milliseconds (nobody talks to a server under
 * it), so a long wait only happens on a host too loaded to run its watches on time: waiting is
 * then better than splitting the storm (`lockWaitMs`, bounded by the run's budget).
 */
export async function queueEntry(dir: string, entry: OutboxEntry, waitMs: number, now: number, lockWaitMs = 30_000): Promise<Queued | { error: string }> {
  // zod loads before the lock is taken: in a storm, twenty processes queue one after the other
  outboxSchema()
  const lock = await lockAlertsFile(dir, OUTBOX_FILE, `queue ${entry.key}`, lockWaitMs)
  if (!lock) return { error: `the fleet outbox stayed locked for ${Math.round(lockWaitMs / 1000)} s` }
  try {
    // the time it joined the outbox, not when it began to wait for the lock: the window counts from here
    entry.queued_at = new Date(Math.max(now, Date.now())).toISOString()
    const { outbox } = readOutbox(dir)
    const opener = outbox.entries.length === 0
    if (!outbox.entries.some((e) => e.key === entry.key)) outbox.entries.push(entry)
    while (outbox.entries.length > OUTBOX_MAX_ENTRIES) outbox.entries.shift()
    writeOutbox(dir, outbox)
    return { opener, window_end: windowEnd(outbox, waitMs) ?? Date.parse(entry.queued_at) }
  } catch (error) {
    return { error: `cannot write the fleet outbox: ${(error as Error).message}` }
  } finally {
    lock.release()
  }
}

/** a storm keeps the window open while its notices keep coming, up to this many waits */
export const WINDOW_MAX_WAITS = 4

/**
 * The window closes once no notice came for `waitMs` (a lone alert waits exactly that long), and
 * at the latest WINDOW_MAX_WAITS waits after the first: a storm on a slow host still ends in one digest.
 */
export function windowEnd(outbox: OutboxFile, waitMs: number): number | null {
  if (!outbox.entries.length) return null
  const times = outbox.entries.map((e) => Date.parse(e.queued_at))
  return Math.min(Math.min(...times) + WINDOW_MAX_WAITS * waitMs, Math.max(...times) + waitMs)
}

/** Entries that go out together, oldest first. */
export function groupEntries(entries: OutboxEntry[]): OutboxEntry[][] {
  const groups = new Map<string, OutboxEntry[]>()
  for (const e of entries) groups.set(e.group, [...(groups.get(e.group) ?? []), e])
  return [...groups.values()]
}

/** A parent that went out inside a digest is that digest now. */
export function resolveParent(outbox: OutboxFile, channel: string, id: string | null): string | null {
  if (!id) return null
  return outbox.sent_as[`${channel} ${id}`]?.id ?? id
}

export function pruneSentAs(outbox: OutboxFile, now: number): void {
  for (const [key, value] of Object.entries(outbox.sent_as)) if (now - Date.parse(value.at) > SENT_AS_KEEP_MS) delete outbox.sent_as[key]
}
