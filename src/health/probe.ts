import type { Molt } from '../fleet/discover.ts'
import type { ProcessTable } from '../lib/proc.ts'
import { gatewayState } from './gateway.ts'
import type { HealthRecord } from './record.ts'

export interface HttpResult {
  http_status: number | null
  response_time_ms: number | null
  error: string | null
}

/** GET /health on loopback; the timeout covers connect, headers and body, so a hung gateway never hangs cron. */
export async function httpHealth(port: number, timeoutMs: number): Promise<HttpResult> {
  const controller = new AbortController()
  const timer = setTimeout(() => controller.abort(), timeoutMs)
  const started = performance.now()
  try {
    const response = await fetch(`http://127.0.0.1:${port}/health`, {
      signal: controller.signal,
      redirect: 'manual',
      headers: { 'user-agent': 'clmnt-health' },
    })
    await response.arrayBuffer()
    return { http_status: response.status, response_time_ms: elapsed(started), error: null }
  } catch (error) {
    if (controller.signal.aborted) return { http_status: null, response_time_ms: null, error: `no answer within ${timeoutMs} ms` }
    const code = (error as { code?: string }).code
    const refused = code === 'ConnectionRefused' || code === 'ECONNREFUSED'
    return { http_status: null, response_time_ms: null, error: refused ? 'connection refused' : `request failed: ${(error as Error).message}` }
  } finally {
    clearTimeout(timer)
  }
}

function elapsed(started: number): number {
  return Math.round((performance.now() - started) * 10) / 10
}

/** One check per DESIGN.md's state table. Read-only towards the molt: a stale PID file stays where it is. */
export async function probeMolt(molt: Molt, options: { timeoutMs: number; processes: ProcessTable; now?: () => Date }): Promise<HealthRecord> {
  const gateway = gatewayState(molt, options.processes)
  // field order is the file format's: people read these files
  const record = (status: HealthRecord['status'], pid: number | null, reason: string | null, http?: HttpResult): HealthRecord => ({
    timestamp: (options.now?.() ?? new Date()).toISOString(),
    molt: molt.name,
    status,
    pid,
    port: molt.port,
    http_status: http?.http_status ?? null,
    response_time_ms: http?.response_time_ms ?? null,
    reason,
  })
  if (gateway.state === 'stale') return record('dead', gateway.pid, gateway.reason)
  if (gateway.state === 'stopped') return record('stopped', null, 'no gateway.pid and no gateway process')
  if (molt.port === null) return record('unknown', gateway.pid, 'port unknown (.molt-info MOLT_PORT, openclaw.json, molts.json)')
  const http = await httpHealth(molt.port, options.timeoutMs)
  const healthy = http.http_status === 200
  return record(healthy ? 'healthy' : 'unhealthy', gateway.pid, healthy ? null : (http.error ?? `HTTP ${http.http_status}`), http)
}
