import type { HealthStatus } from './record.ts'

const COLOURS: Record<HealthStatus | 'pending', number> = {
  healthy: 32,
  starting: 36,
  unhealthy: 33,
  pending: 33,
  dead: 31,
  stopped: 31,
  unknown: 90,
}

export function paintStatus(status: string, color: boolean): string {
  const code = COLOURS[status as HealthStatus]
  return color && code ? `\x1b[${code}m${status}\x1b[39m` : status
}

export function formatMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '-'
  return ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`
}
