import { existsSync } from 'node:fs'
import type { Molt } from '../fleet/discover.ts'
import { emptyStats, historyStats, type HistoryStats } from './history-stats.ts'
import { recentChecks } from './history.ts'
import { historyFile } from './paths.ts'
import type { HealthRecord } from './record.ts'

/** What `molt health history <name> --json` prints and the dashboard's history endpoint serves. */
export interface HistoryReport {
  molt: string
  file: string
  generated_at: string
  /** null when statistics were not asked for (--no-stats) */
  stats: HistoryStats | null
  recent: HealthRecord[]
  recent_skipped: number
}

export function moltHistory(molt: Molt, options: { now: number; since: number | null; limit: number; stats?: boolean }): HistoryReport & { exists: boolean } {
  const file = historyFile(molt.home)
  const exists = existsSync(file)
  const statsOptions = { now: options.now, since: options.since }
  const stats = options.stats === false ? null : exists ? historyStats(file, statsOptions) : emptyStats(statsOptions)
  const recent = exists ? recentChecks(file, options.limit) : { checks: [], skipped: 0 }
  return { molt: molt.name, file, exists, generated_at: new Date(options.now).toISOString(), stats, recent: recent.checks, recent_skipped: recent.skipped }
}
