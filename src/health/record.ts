import { legacyHttpStatus, legacyNumber, legacyString } from '../lib/legacy.ts'
import { lazySchema } from '../lib/schema.ts'

/**
 * The real gateway takes 20–60 s from start to ready on a busy host (its own health monitor gives
 * channels 60–120 s). Until then it is `starting`, which the watch does not count as a failure.
 */
export const DEFAULT_STARTUP_GRACE_MS = 120_000

/** `starting`: the gateway runs but is not ready yet, within its start-up grace: not a failure */
export const HEALTH_STATUSES = ['healthy', 'starting', 'unhealthy', 'dead', 'stopped', 'unknown'] as const
export type HealthStatus = (typeof HEALTH_STATUSES)[number]

/**
 * One check: the content of health-status.json and of each health-history.jsonl line.
 * Legacy files (bash toolkit) hold strings everywhere and call the time "last_check"; they are
 * read here, coerced to real types, and written back clean.
 */
export interface HealthRecord {
  timestamp: string
  molt?: string
  status: HealthStatus
  pid: number | null
  port: number | null
  http_status: number | null
  response_time_ms: number | null
  /** why it is not healthy, in words; null when healthy */
  reason?: string | null
}

export const healthRecordSchema = lazySchema((z) => {
  const int = (min: number, max: number) => z.preprocess(legacyNumber, z.number().int().min(min).max(max).nullable()).catch(null)
  return z.preprocess(
    (raw) => (raw && typeof raw === 'object' && !('timestamp' in raw) && 'last_check' in raw ? { ...raw, timestamp: (raw as { last_check: unknown }).last_check } : raw),
    z.object({
      timestamp: z.string().refine((t) => !Number.isNaN(Date.parse(t)), 'timestamp is not a date'),
      molt: z.preprocess(legacyString, z.string().nullable()).optional().transform((v) => v ?? undefined),
      status: z.preprocess((v) => (typeof v === 'string' ? v.trim().toLowerCase() : v), z.enum(HEALTH_STATUSES)).catch('unknown'),
      pid: int(1, 4_194_304),
      port: int(1, 65535),
      http_status: z.preprocess(legacyHttpStatus, z.number().nullable()),
      response_time_ms: z.preprocess(legacyNumber, z.number().min(0).nullable()).catch(null),
      reason: z.preprocess(legacyString, z.string().nullable()).optional(),
    }),
  )
})

/**
 * True when a parsed object already has the clean shape, so the (slower) schema can be skipped.
 * History statistics read ~100k lines; almost all of them were written by clmnt itself.
 */
export function isCleanRecord(raw: unknown): raw is HealthRecord {
  if (!raw || typeof raw !== 'object') return false
  const r = raw as Record<string, unknown>
  return (
    typeof r.timestamp === 'string' &&
    typeof r.status === 'string' &&
    (HEALTH_STATUSES as readonly string[]).includes(r.status) &&
    (r.pid === null || typeof r.pid === 'number') &&
    (r.port === null || typeof r.port === 'number') &&
    (r.http_status === null || typeof r.http_status === 'number') &&
    (r.response_time_ms === null || typeof r.response_time_ms === 'number')
  )
}

/** Parse one record from any JSON value; null when it is not a health record at all. */
export function toRecord(raw: unknown): { record: HealthRecord; legacy: boolean } | null {
  if (isCleanRecord(raw)) return { record: raw, legacy: false }
  const parsed = healthRecordSchema().safeParse(raw)
  return parsed.success ? { record: parsed.data as HealthRecord, legacy: true } : null
}

/** The line written to health-history.jsonl: the record without the molt name (the file is per molt). */
export function historyLine(record: HealthRecord): string {
  const { molt: _molt, ...line } = record
  return `${JSON.stringify(line)}\n`
}
