import type { Molt } from '../fleet/discover.ts'
import { mapLimit } from '../lib/pool.ts'
import { ProcessTable } from '../lib/proc.ts'
import { moltOwner } from './gateway.ts'
import { appendHistory } from './history.ts'
import { probeMolt } from './probe.ts'
import type { HealthRecord } from './record.ts'
import { writeStatus } from './status-file.ts'

export interface CheckOptions {
  timeoutMs: number
  /** false: probe only, write nothing (--no-record) */
  record: boolean
  /** not ready within this long after the gateway's start is `starting`, not a failure */
  startupGraceMs?: number
}

export interface CheckResult {
  record: HealthRecord
  /** the check ran but its files could not be written */
  writeError?: string
}

/** Probe one molt and record the result: status file (atomic) + one history line. */
export async function checkMolt(molt: Molt, options: CheckOptions, processes = new ProcessTable()): Promise<CheckResult> {
  const record = await probeMolt(molt, { timeoutMs: options.timeoutMs, processes, startupGraceMs: options.startupGraceMs })
  if (!options.record) return { record }
  try {
    const owner = moltOwner(molt) ?? undefined
    writeStatus(molt.home, record, owner)
    appendHistory(molt.home, record, owner)
    return { record }
  } catch (error) {
    return { record, writeError: `${molt.name}: could not record the check: ${(error as Error).message}` }
  }
}

/** Every molt at once, at most `concurrency` probes in flight, so 10 hung gateways cost one timeout, not ten. */
export async function checkMolts(molts: Molt[], options: CheckOptions, concurrency = 16): Promise<CheckResult[]> {
  const processes = new ProcessTable()
  return mapLimit(molts, concurrency, (molt) => checkMolt(molt, options, processes))
}
