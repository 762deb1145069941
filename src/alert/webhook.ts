import type { Molt } from '../fleet/discover.ts'
import { readOpenclawConfig } from '../fleet/openclaw-config.ts'
import { parseMoltInfo } from '../fleet/molt-info.ts'
import { readHomeFile } from '../lib/safe-fs.ts'
import type { DeliveryOutcome } from '../health/watch.ts'
import { oneLine } from './message.ts'

/**
 * The alert as an isolated agent turn on a "commander" molt: POST /hooks/agent on its gateway,
 * authorised with its gateway token. The agent reads it; nothing is delivered to a channel
 * (`deliver: false`) unless the agent decides to.
 */
export const WEBHOOK_TIMEOUT_MS = 10_000

export interface AgentHook {
  name: string
  sessionTarget: 'isolated'
  wakeMode: 'now'
  payload: { kind: 'agentTurn'; message: string; deliver: false }
}

export function agentHook(name: string, message: string): AgentHook {
  return { name, sessionTarget: 'isolated', wakeMode: 'now', payload: { kind: 'agentTurn', message, deliver: false } }
}

/** gateway.auth.token from openclaw.json, else OPENCLAW_GATEWAY_TOKEN from .openclaw/.env. */
export function gatewayToken(home: string): string | null {
  try {
    const config = readOpenclawConfig(home) as { gateway?: { auth?: { token?: unknown } } } | null
    const token = config?.gateway?.auth?.token
    if (typeof token === 'string' && token.trim()) return token.trim()
  } catch {}
  try {
    // the molt's own file: never followed, never blocking, capped (safe-fs.ts)
    const env = parseMoltInfo(readHomeFile(home, '.openclaw/.env', { maxBytes: 1024 * 1024 }) ?? '').values
    if (env.OPENCLAW_GATEWAY_TOKEN?.trim()) return env.OPENCLAW_GATEWAY_TOKEN.trim()
  } catch {}
  return null
}

export async function sendToCommander(commander: Molt, hook: AgentHook, timeoutMs: number): Promise<DeliveryOutcome> {
  if (commander.port === null) return { ok: false, permanent: true, error: `commander molt ${commander.name} has no known gateway port` }
  const token = gatewayToken(commander.home)
  if (!token) return { ok: false, permanent: true, error: `commander molt ${commander.name} has no gateway.auth.token in openclaw.json (nor OPENCLAW_GATEWAY_TOKEN in .openclaw/.env)` }
  const controller = new AbortController()
  const timer = setTimeout(() => controller.abort(), timeoutMs)
  try {
    const response = await fetch(`http://127.0.0.1:${commander.port}/hooks/agent`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'user-agent': 'clmnt-health' },
      body: JSON.stringify(hook),
      signal: controller.signal,
      redirect: 'manual',
    })
    const text = oneLine((await response.text()).slice(0, 300), 200)
    if (response.ok) return { ok: true }
    // 408 and 429 say "later"; other 4xx (401 bad token, 404 hooks off) will not change by retrying
    const permanent = response.status >= 400 && response.status < 500 && response.status !== 408 && response.status !== 429
    return { ok: false, permanent, error: `commander ${commander.name} answered HTTP ${response.status}${text ? `: ${text}` : ''}` }
  } catch (error) {
    if (controller.signal.aborted) return { ok: false, permanent: false, error: `commander ${commander.name} gave no answer within ${Math.round(timeoutMs / 1000)} s` }
    const code = (error as { code?: string }).code
    const refused = code === 'ConnectionRefused' || code === 'ECONNREFUSED'
    return { ok: false, permanent: false, error: `commander ${commander.name}: ${refused ? 'connection refused' : oneLine((error as Error).message, 200)}` }
  } finally {
    clearTimeout(timer)
  }
}
