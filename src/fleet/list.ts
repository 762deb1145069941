import { gatewayState } from '../health/gateway.ts'
import type { HealthStatus } from '../health/record.ts'
import { readStatus } from '../health/status-file.ts'
import { ProcessTable } from '../lib/proc.ts'
import type { Molt } from './discover.ts'

/** One row of `molt list`: where a molt is, whether its gateway runs, and what the last check said. */
export interface MoltSummary {
  name: string
  port: number | null
  port_source: Molt['portSource']
  home: string
  gateway: 'running' | 'stale PID' | 'stopped' | 'unknown'
  pid: number | null
  health: HealthStatus | null
  checked_at: string | null
  age_seconds: number | null
}

export function summarizeMolts(molts: Molt[], now = Date.now(), processes = new ProcessTable()): MoltSummary[] {
  return molts.map((molt) => {
    const gateway = gatewayState(molt, processes)
    const { record } = readStatus(molt.home)
    const checked = record ? Date.parse(record.timestamp) : Number.NaN
    return {
      name: molt.name,
      port: molt.port,
      port_source: molt.portSource,
      home: molt.home,
      gateway: gateway.state === 'stale' ? 'stale PID' : gateway.state === 'unreadable' ? 'unknown' : gateway.state,
      pid: gateway.state === 'stopped' ? null : gateway.pid,
      health: record?.status ?? null,
      checked_at: Number.isNaN(checked) ? null : new Date(checked).toISOString(),
      age_seconds: Number.isNaN(checked) ? null : Math.max(0, Math.round((now - checked) / 1000)),
    }
  })
}
