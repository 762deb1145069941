import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { writeMoltHome } from './fleet.ts'

/** What the fake commander's gateway was sent. */
export interface HookRequest {
  method: string
  path: string
  authorization: string | null
  contentType: string | null
  body: unknown
}

export interface FakeCommander {
  name: string
  home: string
  port: number
  token: string
  requests: HookRequest[]
  /** answer with this status instead (e.g. 503), until set back to null */
  failWith: number | null
  stop(): void
}

/**
 * A commander molt: its home (openclaw.json with gateway.auth.token) and a real HTTP server on
 * 127.0.0.1 that takes POST /hooks/agent like an OpenClaw gateway: 401 without the right bearer
 * token, 202 otherwise. Runs in the test process.
 */
export function startCommander(baseDir: string, name = 'commander'): FakeCommander {
  const home = join(baseDir, name)
  mkdirSync(home, { recursive: true })
  const commander: FakeCommander = { name, home, port: 0, token: `demo-token-${name}`, requests: [], failWith: null, stop: () => server.stop(true) }
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    async fetch(request) {
      const url = new URL(request.url)
      const text = await request.text()
      let body: unknown = text
      try {
        body = JSON.parse(text)
      } catch {}
      commander.requests.push({
        method: request.method,
        path: url.pathname,
        authorization: request.headers.get('authorization'),
        contentType: request.headers.get('content-type'),
        body,
      })
      if (commander.failWith) return new Response('unavailable', { status: commander.failWith })
      if (request.headers.get('authorization') !== `Bearer ${commander.token}`) return Response.json({ error: 'unauthorized' }, { status: 401 })
      if (request.method !== 'POST' || url.pathname !== '/hooks/agent') return new Response('not found', { status: 404 })
      return Response.json({ ok: true, runId: `run-${commander.requests.length}` }, { status: 202 })
    },
  })
  commander.port = server.port!
  writeMoltHome(home, { name, port: commander.port })
  return commander
}
