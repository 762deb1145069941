import type { Molt } from '../fleet/discover.ts'
import { formatDuration } from '../lib/duration.ts'
import { processAgeMs, readProcess, type ProcessTable } from '../lib/proc.ts'
import { gatewayState } from './gateway.ts'
import { DEFAULT_STARTUP_GRACE_MS, type HealthRecord } from './record.ts'

export interface HttpResult {
  http_status: number | null
  response_time_ms: number | null
  error: string | null
  /** the answer's body, up to a few KiB (readiness names what fails) */
  body?: string
}

export { DEFAULT_STARTUP_GRACE_MS } from './record.ts'
const MAX_BODY_CHARS = 4096

/** GET on loopback; the timeout covers connect, headers and body, so a hung gateway never hangs cron. */
export async function httpGet(port: number, path: string, timeoutMs: number): Promise<HttpResult> {
  const controller = new AbortController()
  const timer = setTimeout(() => controller.abort(), Math.max(1, timeoutMs))
  const started = performance.now()
  try {
    const response = await fetch(`http://127.0.0.1:${port}${path}`, {
      signal: controller.signal,
      redirect: 'manual',
      headers: { 'user-agent': 'clmnt-health' },
    })
    const body = (await response.text()).slice(0, MAX_BODY_CHARS)
    return { http_status: response.status, response_time_ms: elapsed(started), error: null, body }
  } catch (error) {
    if (controller.signal.aborted) return { http_status: null, response_time_ms: null, error: `no answer within ${timeoutMs} ms` }
    const code = (error as { code?: string }).code
    const refused = code === 'ConnectionRefused' || code === 'ECONNREFUSED'
    return { http_status: null, response_time_ms: null, error: refused ? 'connection refused' : `request failed: ${(error as Error).message}` }
  } finally {
    clearTimeout(timer)
  }
}

/** GET /health: is the HTTP server live. */
export const httpHealth = (port: number, timeoutMs: number) => httpGet(port, '/health', timeoutMs)

function elapsed(started: number): number {
  return Math.round((performance.now() - started) * 10) / 10
}

/** What `/readyz` says is not ready: `["agent-database:main", …]`, from a 503's JSON body. */
export function failingOf(body: string | undefined): string[] {
  try {
    const failing = (JSON.parse(body ?? '') as { failing?: unknown }).failing
    if (Array.isArray(failing)) return failing.filter((f): f is string => typeof f === 'string').map((f) => f.replace(/[\x00-\x1f\x7f]/g, '').slice(0, 80)).slice(0, 10)
  } catch {}
  return []
}

/** The gateway's own uptime from a probe body, when it says; it restarts in-process without a new PID. */
function uptimeOf(body: string | undefined): number | null {
  try {
    const uptime = (JSON.parse(body ?? '') as { uptimeMs?: unknown }).uptimeMs
    return typeof uptime === 'number' && uptime >= 0 ? uptime : null
  } catch {
    return null
  }
}

export interface ProbeOptions {
  timeoutMs: number
  processes: ProcessTable
  /** how long after its start a gateway that is not ready yet counts as `starting`; default 2 min */
  startupGraceMs?: number
  now?: () => Date
}

/**
 * One check. The process first (lock file, gateway.pid, /proc), then `GET /health` (live), then
 * `GET /readyz` (ready: started, not draining, agent databases admitted, channels passing): healthy
 * means live and ready. A gateway without /readyz (404: older gateways) is judged on /health alone.
 * Not ready, or not listening yet, within the start-up grace is `starting`. Both requests share one
 * timeout. Read-only towards the molt: a stale lock or PID file stays where it is.
 */
export async function probeMolt(molt: Molt, options: ProbeOptions): Promise<HealthRecord> {
  const gateway = gatewayState(molt, options.processes)
  const grace = options.startupGraceMs ?? DEFAULT_STARTUP_GRACE_MS
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
  if (gateway.state === 'stopped') return record('stopped', null, 'no gateway lock, no gateway.pid and no gateway process')
  if (gateway.state === 'unreadable') return record('unknown', null, gateway.reason)
  const pid = gateway.pid
  if (molt.port === null) return record('unknown', pid, 'port unknown (.molt-info MOLT_PORT, openclaw.json, molts.json)')
  // a stopped process cannot answer: say so instead of waiting out the timeout
  if (readProcess(pid)?.frozen) return record('unhealthy', pid, `process ${pid} is frozen (stopped by a signal such as SIGSTOP): it cannot answer`)

  const deadline = performance.now() + options.timeoutMs
  const age = processAgeMs(pid)
  const young = (ms: number | null) => ms !== null && ms < grace
  const upFor = (ms: number | null) => (ms === null ? '' : `up ${formatDuration(ms)} of ${formatDuration(grace)} grace, `)
  const live = await httpGet(molt.port, '/health', options.timeoutMs)
  if (live.http_status !== 200) {
    const why = live.error ?? `HTTP ${live.http_status}`
    // the real gateway opens its port a few seconds into its start
    if (live.error === 'connection refused' && young(age)) return record('starting', pid, `${upFor(age)}not listening yet`, live)
    return record('unhealthy', pid, why, live)
  }
  const ready = await httpGet(molt.port, '/readyz', Math.max(1, Math.round(deadline - performance.now())))
  const result = { ...ready, response_time_ms: live.response_time_ms }
  if (ready.http_status === 200 || ready.http_status === 404) return record('healthy', pid, null, { ...live, http_status: 200 })
  const failing = failingOf(ready.body)
  const notReady = ready.error
    ? `live but /readyz: ${ready.error}`
    : `live but not ready (${failing.length ? `failing: ${failing.join(', ')}` : `HTTP ${ready.http_status} from /readyz`})`
  const uptime = uptimeOf(ready.body)
  const since = uptime !== null && age !== null ? Math.min(uptime, age) : (uptime ?? age)
  if (young(since)) return record('starting', pid, `${upFor(since)}${notReady.replace(/^live but /, '')}`, result)
  return record('unhealthy', pid, notReady, result)
}
