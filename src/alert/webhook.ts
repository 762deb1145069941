import { join } from 'node:path'
import type { Molt } from '../fleet/discover.ts'
import { readOpenclawConfig } from '../fleet/openclaw-config.ts'
import { parseMoltInfo } from '../fleet/molt-info.ts'
import { readHomeFile } from '../lib/safe-read.ts'
import type { DeliveryOutcome } from '../health/watch.ts'
import { oneLine } from './message.ts'

/**
 * The alert as an agent turn on a "commander" molt, through OpenClaw's HTTP hooks
 * (docs/automation/cron-jobs/webhooks.md, docs/gateway/config-hooks.md): `POST <hooks.path>/agent`
 * with the commander's `hooks.token` (hooks have their own token, not the gateway's) and
 * `{"message", "name", "deliver": false}`. The agent reads it in a fresh isolated session and acts
 * with its own tools; `deliver: false` keeps the gateway from announcing the run's reply anywhere
 * on its own. The notice id is the `Idempotency-Key`: a retry after a lost answer replays the run
 * that was admitted instead of starting a second turn.
 *
 * Why /agent and not /wake: a wake is a system event with no replay identity (a retry would be a
 * second event), while an agent turn is idempotent by key and its admission is acknowledged.
 */
export const WEBHOOK_TIMEOUT_MS = 20_000 // the gateway may wait up to 15 s for admission

export interface AgentHook {
  name: string
  message: string
  deliver: false
  agentId?: string
}

export function agentHook(name: string, message: string, agentId?: string): AgentHook {
  return { message, name, deliver: false, ...(agentId ? { agentId } : {}) }
}

export interface CommanderHooks {
  /** "/hooks": the configured base path, a leading slash, no trailing one */
  path: string
  token: string
}

/** The commander's hooks settings from its openclaw.json, or why alerts cannot go through them. */
export function commanderHooks(home: string): CommanderHooks | { error: string; advice: string } {
  const file = join(home, '.openclaw', 'openclaw.json')
  let hooks: Record<string, unknown> | undefined
  try {
    const config = readOpenclawConfig(home) as { hooks?: unknown } | null
    if (!config) return { error: `no ${file}`, advice: 'the commander needs an OpenClaw config with hooks enabled' }
    hooks = config.hooks && typeof config.hooks === 'object' ? (config.hooks as Record<string, unknown>) : undefined
  } catch (error) {
    return { error: `cannot read ${file}: ${(error as Error).message}`, advice: `fix ${file}` }
  }
  const how = `set "hooks": {"enabled": true, "token": "<long random>", "path": "/hooks"} in ${file}, then restart its gateway`
  if (hooks?.enabled !== true) return { error: 'its hooks are off (hooks.enabled is not true in openclaw.json)', advice: how }
  const token = typeof hooks.token === 'string' ? hooks.token.trim() : ''
  if (!token) return { error: 'its hooks have no token (hooks.token in openclaw.json; the gateway token does not open hooks)', advice: how }
  const raw = typeof hooks.path === 'string' && hooks.path.trim() ? hooks.path.trim() : '/hooks'
  const path = `/${raw.replace(/^\/+|\/+$/g, '')}`
  if (path === '/') return { error: 'hooks.path is "/", which the gateway refuses', advice: 'use a dedicated path such as "/hooks"' }
  return { path, token }
}

/** gateway.auth.token from openclaw.json, else OPENCLAW_GATEWAY_TOKEN from .openclaw/.env (doctor's token check). */
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

/**
 * Admission failures the commander will still refuse on a retry: 400 (payload, agent selection),
 * 401 (token), 404 (hooks off, wrong path), 405, 413. Later, maybe: 408, 409 (session busy),
 * 429 (throttled), 5xx (preparing, restarting, admission timeout).
 */
const PERMANENT = new Set([400, 401, 403, 404, 405, 413])

export async function sendToCommander(commander: Molt, hook: AgentHook, idempotencyKey: string, timeoutMs: number): Promise<DeliveryOutcome> {
  if (commander.port === null) return { ok: false, permanent: true, error: `commander molt ${commander.name} has no known gateway port` }
  const hooks = commanderHooks(commander.home)
  if ('error' in hooks) return { ok: false, permanent: true, error: `commander molt ${commander.name}: ${hooks.error}` }
  const controller = new AbortController()
  const timer = setTimeout(() => controller.abort(), timeoutMs)
  try {
    const response = await fetch(`http://127.0.0.1:${commander.port}${hooks.path}/agent`, {
      method: 'POST',
      headers: { authorization: `Bearer ${hooks.token}`, 'content-type': 'application/json', 'idempotency-key': idempotencyKey, 'user-agent': 'clmnt-health' },
      body: JSON.stringify(hook),
      signal: controller.signal,
      redirect: 'manual',
    })
    const text = oneLine((await response.text()).slice(0, 300), 200)
    if (response.ok) return { ok: true }
    const hint = response.status === 404 ? ` (are its hooks on at ${hooks.path}? the gateway reads hooks.* at start)` : ''
    return { ok: false, permanent: PERMANENT.has(response.status), error: `commander ${commander.name} answered HTTP ${response.status}${text ? `: ${text}` : ''}${hint}` }
  } catch (error) {
    if (controller.signal.aborted) return { ok: false, permanent: false, error: `commander ${commander.name} gave no answer within ${Math.round(timeoutMs / 1000)} s` }
    const code = (error as { code?: string }).code
    const refused = code === 'ConnectionRefused' || code === 'ECONNREFUSED'
    return { ok: false, permanent: false, error: `commander ${commander.name}: ${refused ? 'connection refused' : oneLine((error as Error).message, 200)}` }
  } finally {
    clearTimeout(timer)
  }
}
