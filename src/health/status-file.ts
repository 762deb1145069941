import type { Owner } from '../lib/atomic.ts'
import { readHomeJsonState } from '../lib/legacy.ts'
import { inHomeDir } from '../lib/safe-fs.ts'
import { STATUS_REL, statusFile } from './paths.ts'
import { toRecord, type HealthRecord } from './record.ts'

export interface StatusRead {
  record: HealthRecord | null
  /** written by the bash toolkit (strings for numbers …); rewritten clean by the next check */
  legacy: boolean
  /** why there is no record, when the file exists but cannot be used */
  warning?: string
}

export function readStatus(home: string): StatusRead {
  const path = statusFile(home)
  const { raw, warning } = readHomeJsonState(home, STATUS_REL)
  if (raw === undefined) return { record: null, legacy: false, warning: warning && `${warning}; no data` }
  const parsed = toRecord(raw)
  if (!parsed) return { record: null, legacy: false, warning: `${path} is not a health record; no data` }
  return { record: parsed.record, legacy: parsed.legacy }
}

export function writeStatus(home: string, record: HealthRecord, owner?: Owner): void {
  inHomeDir(home, STATUS_REL, { owner, create: true }, (dir, name) => dir.writeAtomic(name, `${JSON.stringify(record, null, 2)}\n`))
}
