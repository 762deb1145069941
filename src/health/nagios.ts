import type { HealthRecord, HealthStatus } from './record.ts'
import { formatMs } from './render.ts'

/**
 * Nagios / Icinga plugin output: one line `CLMNT <STATE> - <text> | <perfdata>` and the plugin
 * exit code (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN). Performance data follows the plugin
 * guidelines: 'label'=value[unit];warn;crit;min;max, in seconds.
 */
export const NAGIOS_STATES = ['OK', 'WARNING', 'CRITICAL', 'UNKNOWN'] as const
export type NagiosCode = 0 | 1 | 2 | 3

export interface NagiosResult {
  code: NagiosCode
  line: string
}

// starting is OK within its grace period (not a failure, says so in the text); after it, it is unhealthy
const CODE_OF: Record<HealthStatus, NagiosCode> = { healthy: 0, starting: 0, unhealthy: 1, dead: 2, stopped: 2, unknown: 3 }

/** Nagios ranks CRITICAL over WARNING over UNKNOWN over OK when several things are summed up. */
const SEVERITY: Record<NagiosCode, number> = { 0: 0, 3: 1, 1: 2, 2: 3 }

export function nagiosCode(status: HealthStatus): NagiosCode {
  return CODE_OF[status]
}

/** One molt: `CLMNT OK - mybot healthy, 12 ms | 'response_time'=0.012s;;;0`. */
export function nagiosForMolt(record: HealthRecord, name = record.molt ?? '?'): NagiosResult {
  const code = nagiosCode(record.status)
  const detail = record.status === 'healthy' ? formatMs(record.response_time_ms) : (record.reason ?? '')
  const text = `${name} ${record.status}${detail ? `, ${detail}` : ''}`
  const perf = record.response_time_ms === null ? [] : [perfdata('response_time', record.response_time_ms)]
  return { code, line: line(code, text, perf) }
}

/** `--all`: the worst state wins; the text names the molts that are not healthy. */
export function nagiosForFleet(records: readonly HealthRecord[]): NagiosResult {
  if (!records.length) return nagiosUnknown('no molts found')
  let code: NagiosCode = 0
  for (const r of records) if (SEVERITY[nagiosCode(r.status)] > SEVERITY[code]) code = nagiosCode(r.status)
  const healthy = records.filter((r) => r.status === 'healthy').length
  const bad = records.filter((r) => r.status !== 'healthy').map((r) => `${r.molt} ${r.status}${r.reason ? ` (${r.reason})` : ''}`)
  const text = `${healthy}/${records.length} molts healthy${bad.length ? `; ${bad.join(', ')}` : ''}`
  const perf = [
    `'healthy'=${healthy};;;0;${records.length}`,
    ...records.filter((r) => r.response_time_ms !== null).map((r) => perfdata(`${r.molt}_response_time`, r.response_time_ms!)),
  ]
  return { code, line: line(code, text, perf) }
}

/** Could not check at all (bad option, unknown molt, unreadable files). */
export function nagiosUnknown(message: string): NagiosResult {
  return { code: 3, line: line(3, message, []) }
}

function perfdata(label: string, ms: number): string {
  const seconds = Number((ms / 1000).toFixed(4))
  return `'${label.replace(/'/g, "''")}'=${seconds}s;;;0`
}

/** The text part may not hold a '|' (it starts the perfdata) nor a line break (only the first line counts). */
function line(code: NagiosCode, text: string, perf: string[]): string {
  const clean = text.replace(/\|/g, '/').replace(/[\r\n]+/g, ' ').trim()
  return `CLMNT ${NAGIOS_STATES[code]} - ${clean}${perf.length ? ` | ${perf.join(' ')}` : ''}\n`
}
