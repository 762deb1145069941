import type { z } from 'zod'
import type { Owner } from '../lib/atomic.ts'
import { legacyBoolean, legacyNumber, legacyString, readHomeJsonState } from '../lib/legacy.ts'
import { inHomeDir } from '../lib/safe-fs.ts'
import { lazySchema } from '../lib/schema.ts'
import { WATCH_STATE_REL, watchStateFile } from './paths.ts'
import { HEALTH_STATUSES } from './record.ts'
import { CHANNELS, initialState, NOTICE_KINDS, type WatchFile } from './watch.ts'

/**
 * health-watch-state.json: what `health watch` remembers between cron runs. The first fields are
 * what `status` needs and what the bash toolkit wrote too ("null" strings, 0/1 for booleans and
 * even `"alert_sent": ,`); version 2 adds the incident, flapping and the outbox of notices
 * (see watch.ts). A damaged nested part is dropped rather than failing the whole file: the watch
 * must carry on from whatever it finds.
 */
export const watchStateSchema = lazySchema((z) => {
  const time = z.string().refine((t) => !Number.isNaN(Date.parse(t)), 'not a time')
  const nullableTime = time.nullable().optional().default(null).catch(null)
  const text = z.string().nullable().optional().default(null).catch(null)
  const count = z.number().int().min(0).optional().default(0).catch(0)
  const status = z.enum(HEALTH_STATUSES).catch('unknown')
  /** keeps the valid elements of an array, drops the rest */
  const validItems = <T extends z.ZodType>(item: T) =>
    z.array(z.unknown()).transform((items) => items.flatMap((i) => {
      const parsed = item.safeParse(i)
      return parsed.success ? [parsed.data as z.output<T>] : []
    })).catch([])

  const restart = z.object({
    attempt: z.number().int().min(1),
    at: time,
    command: z.string(),
    user: text,
    exit_code: z.number().int().nullable().optional().default(null).catch(null),
    signal: text,
    error: text,
    duration_ms: z.number().min(0).catch(0),
    output: z.string().catch(''),
    result: status.nullable().optional().default(null),
  })
  const incident = z.object({
    id: time,
    first_status: status,
    first_reason: text,
    estimated: z.boolean().catch(false).default(false),
    down_at: nullableTime,
    down_notice: text,
    down_notified_at: nullableTime,
    reminders: count,
    last_reminder_at: nullableTime,
    restarts: validItems(restart).default([]),
    restart_failed_notice: text,
  })
  const notice = z.object({
    id: z.string().regex(/^[A-Za-z0-9._-]{1,120}$/),
    kind: z.enum(NOTICE_KINDS),
    created_at: time,
    incident: text,
    in_reply_to: z.string().regex(/^[A-Za-z0-9._-]{1,120}$/).nullable().optional().default(null).catch(null),
    facts: z.record(z.string(), z.union([z.string(), z.number(), z.null()])).catch({}),
    attempts: count,
    last_attempt_at: nullableTime,
    last_error: text,
    delivered: z.partialRecord(z.enum(CHANNELS), z.string()).catch({}),
    failed: z.partialRecord(z.enum(CHANNELS), z.string()).catch({}),
  })
  return z.looseObject({
    consecutive_failures: z.preprocess((v) => legacyNumber(v) ?? 0, z.number().int().min(0)).catch(0),
    last_check: z.preprocess(legacyString, z.string().nullable()).optional().default(null),
    last_status: z.preprocess(legacyString, z.string().nullable()).optional().default(null),
    last_success: z.preprocess(legacyString, z.string().nullable()).optional().default(null),
    alert_sent: z.preprocess(legacyBoolean, z.boolean()).optional().default(false),
    /** minutes between scheduled runs, set by `health setup`; lets `status` say when a record is stale */
    interval_minutes: z.preprocess(legacyNumber, z.number().int().min(1).max(1440).nullable()).optional().default(null).catch(null),
    // version 2 (absent in the bash toolkit's files)
    version: z.literal(2).optional().catch(undefined),
    phase: z.enum(['up', 'pending', 'down']).optional().catch(undefined),
    threshold: z.number().int().min(1).max(64).optional().catch(undefined),
    recent: z.string().regex(/^[SF]{0,20}$/).optional().catch(undefined),
    incident: incident.nullable().optional().catch(null),
    flapping: z.object({ since: time, notice: z.string(), notified_at: nullableTime }).nullable().optional().catch(null),
    last_restart_at: nullableTime,
    starting_since: nullableTime,
    last_incident: z.object({
      id: time,
      first_status: status,
      first_reason: text,
      ended_at: time,
      duration_ms: z.number().min(0),
      down_notified_at: nullableTime,
      restarts: count,
    }).nullable().optional().catch(null),
    outbox: validItems(notice).optional(),
    alert_config: z.string().nullable().optional().catch(null),
  })
})

export type WatchState = z.infer<ReturnType<typeof watchStateSchema>>

export interface WatchStateRead {
  state: WatchState | null
  warning?: string
}

const isTime = (v: unknown) => typeof v === 'string' && !Number.isNaN(Date.parse(v))
const isTimeOrNull = (v: unknown) => v === null || isTime(v)

/**
 * A version-2 state as clmnt writes it for a molt with nothing going on (no incident, nothing
 * waiting): used as is, so the cron path of a healthy molt never loads zod. Anything else takes
 * the schema.
 */
export function isQuietWatchState(raw: unknown): raw is WatchFile {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return false
  const r = raw as Record<string, unknown>
  const past = r.last_incident as Record<string, unknown> | null | undefined
  return (
    r.version === 2 &&
    Number.isInteger(r.consecutive_failures) && (r.consecutive_failures as number) >= 0 &&
    isTimeOrNull(r.last_check) && (r.last_status === null || typeof r.last_status === 'string') && isTimeOrNull(r.last_success) &&
    typeof r.alert_sent === 'boolean' &&
    (r.interval_minutes === null || (Number.isInteger(r.interval_minutes) && (r.interval_minutes as number) >= 1 && (r.interval_minutes as number) <= 1440)) &&
    (r.phase === 'up' || r.phase === 'pending' || r.phase === 'down') &&
    Number.isInteger(r.threshold) && (r.threshold as number) >= 1 && (r.threshold as number) <= 64 &&
    typeof r.recent === 'string' && /^[SF]{0,20}$/.test(r.recent) &&
    r.incident === null && r.flapping === null && isTimeOrNull(r.last_restart_at) && (r.starting_since === undefined || isTimeOrNull(r.starting_since)) &&
    Array.isArray(r.outbox) && r.outbox.length === 0 && (r.alert_config === null || typeof r.alert_config === 'string') &&
    (past === null || (typeof past === 'object' && isTime(past.id) && isTime(past.ended_at) && typeof past.duration_ms === 'number' &&
      typeof past.first_status === 'string' && (HEALTH_STATUSES as readonly string[]).includes(past.first_status) &&
      (past.first_reason === null || typeof past.first_reason === 'string') && isTimeOrNull(past.down_notified_at) && Number.isInteger(past.restarts)))
  )
}

export function readWatchState(home: string): WatchStateRead {
  const path = watchStateFile(home)
  const { raw, warning } = readHomeJsonState(home, WATCH_STATE_REL)
  if (raw === undefined) return { state: null, warning: warning && `${warning}; ignoring it` }
  if (isQuietWatchState(raw)) return { state: raw as unknown as WatchState }
  const parsed = watchStateSchema().safeParse(raw)
  if (!parsed.success) return { state: null, warning: `${path} is not a watch state; ignoring it` }
  return { state: parsed.data }
}

/** Atomic: a crash at any point leaves the old state or the new, both parseable. Fields in a fixed order. */
export function writeWatchState(home: string, state: WatchFile, owner?: Owner): void {
  const ordered = Object.fromEntries([...Object.keys(initialState(1)), ...Object.keys(state)].map((key) => [key, state[key]]))
  inHomeDir(home, WATCH_STATE_REL, { owner, create: true }, (dir, name) => dir.writeAtomic(name, `${JSON.stringify(ordered, null, 2)}\n`))
}
