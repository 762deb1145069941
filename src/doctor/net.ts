/**
 * The network probes of `doctor`: a bare TCP connect (nothing is sent) and a side-effect-free
 * token probe. Both are bounded by a short timeout; gateway probes only ever go to 127.0.0.1.
 */

export type TcpResult = { ok: true; ms: number } | { ok: false; error: string }

export function tcpConnect(host: string, port: number, timeoutMs: number): Promise<TcpResult> {
  // required here, not imported: the bundler hoists an `import net` to the top of the compiled
  // binary, and every cron run of `health watch` would load it
  const net = require('node:net') as typeof import('node:net')
  const started = performance.now()
  return new Promise((resolve) => {
    const socket = net.connect({ host, port })
    const done = (result: TcpResult) => {
      clearTimeout(timer)
      socket.destroy()
      resolve(result)
    }
    const timer = setTimeout(() => done({ ok: false, error: `no connection within ${timeoutMs} ms` }), timeoutMs)
    socket.once('connect', () => done({ ok: true, ms: Math.round((performance.now() - started) * 10) / 10 }))
    socket.once('error', (error: NodeJS.ErrnoException) => done({ ok: false, error: error.code === 'ECONNREFUSED' ? 'connection refused' : (error.code ?? error.message) }))
  })
}

export const TOKEN_PROBE_PATH = '/tools/invoke'

export type TokenProbe =
  | { result: 'accepted'; without: number; with: number }
  | { result: 'rejected'; without: number; with: number }
  /** the endpoint does not ask for a token (hooks off, or not this gateway's API): nothing to learn */
  | { result: 'unknown'; reason: string }

/**
 * Is the token the gateway's? OpenClaw's `POST /tools/invoke` (docs/gateway/tools-invoke-http-api.md)
 * takes the gateway token; an empty request names no tool, so nothing runs. It is asked twice:
 * without a token (401) and with the molt's token (accepted: anything but 401/403, 400 "requires
 * name" from OpenClaw). The hooks do not serve: they have a token of their own.
 */
export async function probeToken(port: number, token: string, timeoutMs: number): Promise<TokenProbe> {
  const post = async (authorization?: string): Promise<number | string> => {
    const controller = new AbortController()
    const timer = setTimeout(() => controller.abort(), timeoutMs)
    try {
      const headers: Record<string, string> = { 'user-agent': 'clmnt-doctor', 'content-type': 'application/json' }
      if (authorization) headers.authorization = authorization
      const response = await fetch(`http://127.0.0.1:${port}${TOKEN_PROBE_PATH}`, { method: 'POST', headers, body: '{}', signal: controller.signal, redirect: 'manual' })
      await response.arrayBuffer()
      return response.status
    } catch (error) {
      return controller.signal.aborted ? `no answer within ${timeoutMs} ms` : (error as Error).message
    } finally {
      clearTimeout(timer)
    }
  }
  const denied = (status: number) => status === 401 || status === 403
  const without = await post()
  if (typeof without === 'string') return { result: 'unknown', reason: `POST ${TOKEN_PROBE_PATH}: ${without}` }
  if (!denied(without)) return { result: 'unknown', reason: `POST ${TOKEN_PROBE_PATH} answers ${without} without a token: no authenticated endpoint to try it on` }
  const withToken = await post(`Bearer ${token}`)
  if (typeof withToken === 'string') return { result: 'unknown', reason: `POST ${TOKEN_PROBE_PATH} with the token: ${withToken}` }
  return { result: denied(withToken) ? 'rejected' : 'accepted', without, with: withToken }
}
