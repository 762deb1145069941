import { closeSync } from 'node:fs'
import type { Molt } from '../fleet/discover.ts'
import { openHomeFile } from '../lib/safe-read.ts'
import { emptyStats, historyStatsOf, type HistoryStats } from './history-stats.ts'
import { recentChecksOf } from './history.ts'
import { HISTORY_REL, historyFile } from './paths.ts'
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
  // one descriptor for both passes: opened without following links (safe-fs.ts)
  const opened = openHomeFile(molt.home, HISTORY_REL)
  const statsOptions = { now: options.now, since: options.since }
  try {
    const stats = options.stats === false ? null : opened ? historyStatsOf(opened.fd, statsOptions) : emptyStats(statsOptions)
    const recent = opened ? recentChecksOf(opened.fd, options.limit) : { checks: [], skipped: 0 }
    // a history line leaves out the molt (the file is the molt's); the printed check has it, as everywhere
    const checks = recent.checks.map(({ timestamp, molt: _molt, ...rest }) => ({ timestamp, molt: molt.name, ...rest }))
    return { molt: molt.name, file, exists: opened !== null, generated_at: new Date(options.now).toISOString(), stats, recent: checks, recent_skipped: recent.skipped }
  } finally {
    if (opened) closeSync(opened.fd)
  }
}
