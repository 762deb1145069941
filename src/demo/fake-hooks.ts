import { readFileSync } from 'node:fs'
import { join } from 'node:path'

/**
 * The stand-in gateway's HTTP hooks, answering as OpenClaw 2026.9's do (docs/gateway/config-hooks.md):
 * off unless `hooks.enabled` and a `hooks.token` are in openclaw.json (then the path falls through:
 * 404); `hooks.path` (default /hooks) + `/agent` and `/wake`; the hook token, not the gateway's,
 * as `Authorization: Bearer` or `x-openclaw-token` (401 otherwise, 400 for `?token=`); POST only
 * (405); `/agent` needs a nonempty `message` (400 "message required") and replays the same run for
 * the same `Idempotency-Key`; `/wake` needs `text`.
 */
export interface HooksConfig {
  enabled: boolean
  token: string | null
  path: string
}

export function readHooksConfig(stateDir: string): HooksConfig {
  let hooks: Record<string, unknown> = {}
  try {
    const config = JSON.parse(readFileSync(join(stateDir, 'openclaw.json'), 'utf8')) as { hooks?: Record<string, unknown> }
    hooks = config.hooks ?? {}
  } catch {}
  const token = typeof hooks.token === 'string' && hooks.token ? hooks.token : null
  const path = `/${String(hooks.path ?? '/hooks').replace(/^\/+|\/+$/g, '')}`
  return { enabled: hooks.enabled === true && token !== null, token, path }
}

/** One admitted agent turn or wake, as the gateway would hand it to its agent. */
export interface HookTurn {
  kind: 'agent' | 'wake'
  runId: string
  idempotencyKey: string | null
  body: Record<string, unknown>
}

export interface HookState {
  /** admitted turns, in order; a replayed Idempotency-Key adds nothing */
  turns: HookTurn[]
  replay: Map<string, string>
}

export function newHookState(): HookState {
  return { turns: [], replay: new Map() }
}

/** gateway.auth.token from openclaw.json: what the gateway's own HTTP APIs take. */
export function readGatewayToken(stateDir: string): string | null {
  try {
    const token = (JSON.parse(readFileSync(join(stateDir, 'openclaw.json'), 'utf8')) as { gateway?: { auth?: { token?: unknown } } }).gateway?.auth?.token
    return typeof token === 'string' && token ? token : null
  } catch {
    return null
  }
}

/**
 * `POST /tools/invoke` as far as clmnt's doctor uses it: 405 for other methods, 401 without the
 * gateway token, 400 "tools.invoke requires name" for a request that names no tool.
 */
export async function handleToolsInvoke(request: Request, gatewayToken: string | null): Promise<Response | null> {
  if (new URL(request.url).pathname !== '/tools/invoke') return null
  if (request.method !== 'POST') return new Response('Method Not Allowed', { status: 405, headers: { allow: 'POST' } })
  const bearer = /^Bearer\s+(.+)$/i.exec(request.headers.get('authorization') ?? '')?.[1]?.trim()
  if (!gatewayToken || bearer !== gatewayToken) return new Response('Unauthorized', { status: 401 })
  const body = (await request.json().catch(() => null)) as { name?: unknown } | null
  if (!body || typeof body.name !== 'string') return Response.json({ ok: false, error: { type: 'invalid_request', message: 'tools.invoke requires name' } }, { status: 400 })
  return Response.json({ ok: false, error: { type: 'not_found', message: `tool ${body.name} is not available here` } }, { status: 404 })
}

/** null: not a hook path (the caller answers it); else the hook's response. */
export async function handleHook(request: Request, config: HooksConfig, state: HookState): Promise<Response | null> {
  const url = new URL(request.url)
  if (!config.enabled || (url.pathname !== config.path && !url.pathname.startsWith(`${config.path}/`))) return null
  if (request.method !== 'POST') return new Response('Method Not Allowed', { status: 405, headers: { allow: 'POST' } })
  if (url.searchParams.has('token')) return Response.json({ ok: false, error: 'token query parameter is not accepted; use a header' }, { status: 400 })
  const bearer = /^Bearer\s+(.+)$/i.exec(request.headers.get('authorization') ?? '')?.[1]?.trim()
  if ((bearer || request.headers.get('x-openclaw-token')) !== config.token) return new Response('Unauthorized', { status: 401 })
  let body: Record<string, unknown>
  try {
    const parsed = JSON.parse(await request.text())
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object')
    body = parsed
  } catch {
    return Response.json({ ok: false, error: 'invalid JSON body' }, { status: 400 })
  }
  const action = url.pathname.slice(config.path.length)
  if (action === '/agent') {
    if (typeof body.message !== 'string' || !body.message.trim()) return Response.json({ ok: false, error: 'message required' }, { status: 400 })
    const key = (request.headers.get('idempotency-key') ?? request.headers.get('x-openclaw-idempotency-key') ?? (typeof body.idempotencyKey === 'string' ? body.idempotencyKey : ''))
      .trim()
      .slice(0, 256) || null
    const replayed = key ? state.replay.get(key) : undefined
    if (replayed) return Response.json({ ok: true, runId: replayed })
    const runId = crypto.randomUUID()
    if (key) state.replay.set(key, runId)
    state.turns.push({ kind: 'agent', runId, idempotencyKey: key, body })
    return Response.json({ ok: true, runId })
  }
  if (action === '/wake') {
    if (typeof body.text !== 'string' || !body.text.trim()) return Response.json({ ok: false, error: 'text required' }, { status: 400 })
    state.turns.push({ kind: 'wake', runId: crypto.randomUUID(), idempotencyKey: null, body })
    return Response.json({ ok: true, mode: body.mode ?? 'now', eventOutcome: 'queued' })
  }
  return new Response('Not Found', { status: 404 })
}
