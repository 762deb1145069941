import { DEFAULT_DIGEST_WAIT_MS, parseDigestWait, readFleetConfig } from '../fleet/config.ts'
import type { Logger } from '../lib/log.ts'

/**
 * While the dashboard runs it is one more watcher of the watches: once a minute it looks for a
 * watch that stopped (doctor/watcher-notice.ts) and sends the one "watcher stopped" notice, unless
 * a watch or doctor already did. Off the request path; one look at a time.
 */
export const WATCHDOG_EVERY_MS = 60_000
const BUDGET_MS = 55_000

export function startWatchdog(baseDir: string, everyMs: number, log?: Logger): { stop(): Promise<void> } {
  let running: Promise<void> | null = null
  let lastProblem = ''
  const look = () => {
    if (running) return
    running = (async () => {
      const { notifyStoppedWatchers } = await import('../doctor/watcher-notice.ts')
      const { config } = readFleetConfig(baseDir)
      const waitMs = typeof config.digest_wait === 'string' ? parseDigestWait(config.digest_wait) ?? null : DEFAULT_DIGEST_WAIT_MS
      const result = await notifyStoppedWatchers({ baseDir, config, now: Date.now, waitMs, budgetMs: BUDGET_MS, stderr: (text) => log?.warn(text.trimEnd()) })
      if (result.subject) log?.info(`dashboard: sent "${result.subject}"`)
      for (const warning of result.warnings) log?.warn(`dashboard: ${warning}`)
      const problem = result.problems.join('; ')
      if (problem && problem !== lastProblem) log?.error(`dashboard: ${problem}`)
      lastProblem = problem
    })()
      .catch((error) => {
        const problem = `cannot look for stopped watches: ${(error as Error).message}`
        if (problem !== lastProblem) log?.warn(`dashboard: ${problem}`)
        lastProblem = problem
      })
      .finally(() => (running = null))
  }
  look()
  const timer = setInterval(look, everyMs)
  timer.unref?.()
  return {
    async stop() {
      clearInterval(timer)
      await running
    },
  }
}
