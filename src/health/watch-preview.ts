import type { Molt } from '../fleet/discover.ts'
import { checkMolt } from './check.ts'
import type { HealthRecord } from './record.ts'
import { decide, upgradeState } from './watch.ts'
import type { WatchRunOptions } from './watch-run.ts'
import { readWatchState } from './watch-state.ts'
import type { Channel, NoticeKind, Phase } from './watch-types.ts'

/**
 * `health watch --dry-run`: the check and the state machine's decision, with nothing recorded,
 * sent, restarted or locked — what the next scheduled run would do right now.
 */
export interface WatchPreview {
  molt: string
  dry_run: true
  record: HealthRecord
  from: Phase
  to: Phase
  consecutive_failures: number
  /** notices this check would queue, and the channels they would go to */
  would_send: { kind: NoticeKind; channels: Channel[] }[]
  /** undelivered notices already waiting: a real run would retry them */
  waiting: number
  would_restart: boolean
  warnings: string[]
}

export async function previewWatch(molt: Molt, options: Pick<WatchRunOptions, 'timeoutMs' | 'decide' | 'alerts' | 'now'>): Promise<WatchPreview> {
  const now = options.now ?? Date.now
  const read = readWatchState(molt.home)
  const state = upgradeState(read.state, options.decide.threshold, now())
  const { record } = await checkMolt(molt, { timeoutMs: options.timeoutMs, record: false })
  const decision = decide(state, record, now(), options.decide)
  const { channelsFor } = await import('../alert/deliver.ts')
  const channels = channelsFor(options.alerts)
  return {
    molt: molt.name,
    dry_run: true,
    record,
    from: decision.from,
    to: decision.state.phase,
    consecutive_failures: decision.state.consecutive_failures,
    would_send: decision.queued.map((n) => ({ kind: n.kind, channels })),
    waiting: state.outbox.length,
    would_restart: decision.restart !== null,
    warnings: read.warning ? [read.warning] : [],
  }
}
