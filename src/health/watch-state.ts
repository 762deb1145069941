import type { z } from 'zod'
import { legacyBoolean, legacyNumber, legacyString, readJsonState } from '../lib/legacy.ts'
import { lazySchema } from '../lib/schema.ts'
import { watchStateFile } from './paths.ts'

/**
 * health-watch-state.json: what `health watch` remembers between cron runs. This is the read side
 * that `status` needs; the watch keeps more (incident, delivery) and passes unknown fields through.
 * The bash toolkit wrote "null" strings, 0/1 for booleans and even `"alert_sent": ,`.
 */
export const watchStateSchema = lazySchema((z) =>
  z.looseObject({
    consecutive_failures: z.preprocess((v) => legacyNumber(v) ?? 0, z.number().int().min(0)).catch(0),
    last_check: z.preprocess(legacyString, z.string().nullable()).optional().default(null),
    last_status: z.preprocess(legacyString, z.string().nullable()).optional().default(null),
    last_success: z.preprocess(legacyString, z.string().nullable()).optional().default(null),
    alert_sent: z.preprocess(legacyBoolean, z.boolean()).optional().default(false),
    /** minutes between scheduled runs, set by `health setup`; lets `status` say when a record is stale */
    interval_minutes: z.preprocess(legacyNumber, z.number().int().min(1).max(1440).nullable()).optional().default(null).catch(null),
  }),
)

export type WatchState = z.infer<ReturnType<typeof watchStateSchema>>

export interface WatchStateRead {
  state: WatchState | null
  warning?: string
}

export function readWatchState(home: string): WatchStateRead {
  const path = watchStateFile(home)
  const { raw, warning } = readJsonState(path)
  if (raw === undefined) return { state: null, warning: warning && `${warning}; ignoring it` }
  const parsed = watchStateSchema().safeParse(raw)
  if (!parsed.success) return { state: null, warning: `${path} is not a watch state; ignoring it` }
  return { state: parsed.data }
}
