import { lstatSync } from 'node:fs'
import { join } from 'node:path'
import type { Molt } from '../fleet/discover.ts'
import { moltOwner } from '../health/gateway.ts'
import { gatewayLogCandidates } from '../health/gateway-log.ts'
import { LOG_MAX_BYTES } from './checks.ts'

/** Log files of the molts over the size limit: what doctor lists and the dashboard shows (seed 002). */
export interface LargeLog {
  molt: string
  path: string
  bytes: number
}

/**
 * The molts' log files over `maxBytes`: the gateway's log, the watch's and the restarts'. lstat
 * only (a link is not followed, a FIFO not opened): one call per file, fine for 500 molts.
 */
export function largeLogs(molts: Molt[], maxBytes = LOG_MAX_BYTES): LargeLog[] {
  const big: LargeLog[] = []
  for (const molt of molts) {
    const paths = [...gatewayLogCandidates(molt.home, moltOwner(molt)), join(molt.home, '.molt-state', 'health.log'), join(molt.home, '.molt-state', 'restart.log')]
    for (const path of paths) {
      try {
        const st = lstatSync(path)
        if (st.isFile() && st.size > maxBytes) big.push({ molt: molt.name, path, bytes: st.size })
      } catch {}
    }
  }
  return big
}
