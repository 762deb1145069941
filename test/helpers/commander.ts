import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { handleHook, handleToolsInvoke, newHookState, type HookState } from '../../src/demo/fake-hooks.ts'
import { writeMoltHome } from './fleet.ts'

/** What the fake commander's gateway was sent. */
export interface HookRequest {
  method: string
  path: string
  authorization: string | null
  contentType: string | null
  idempotencyKey: string | null
  body: unknown
}

export interface FakeCommander {
  name: string
  home: string
  port: number
  /** the tokens the gateway really runs with (what openclaw.json says, until a test changes them) */
  hooksToken: string
  gatewayToken: string
  hooksPath: string
  requests: HookRequest[]
  /** the agent turns the gateway admitted: a replayed Idempotency-Key adds none */
  hooks: HookState
  /** answer with this status instead (e.g. 503), until set back to null */
  failWith: number | null
  stop(): void
}

/**
 * A commander molt: its home (openclaw.json with gateway.auth.token and hooks enabled, with a hooks
 * token of their own) and a real HTTP server on 127.0.0.1 whose hooks answer as OpenClaw 2026.9's
 * (src/demo/fake-hooks.ts, shared with the stand-in gateway). Runs in the test process, so a test
 * sees every request and every admitted turn.
 */
export function startCommander(baseDir: string, name = 'commander', options: { hooksPath?: string } = {}): FakeCommander {
  const home = join(baseDir, name)
  mkdirSync(home, { recursive: true })
  const commander: FakeCommander = {
    name,
    home,
    port: 0,
    hooksToken: `hook-token-${name}`,
    gatewayToken: `demo-token-${name}`,
    hooksPath: options.hooksPath ?? '/hooks',
    requests: [],
    hooks: newHookState(),
    failWith: null,
    stop: () => server.stop(true),
  }
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    async fetch(request) {
      const url = new URL(request.url)
      const text = await request.clone().text()
      let body: unknown = text
      try {
        body = JSON.parse(text)
      } catch {}
      commander.requests.push({
        method: request.method,
        path: url.pathname,
        authorization: request.headers.get('authorization'),
        contentType: request.headers.get('content-type'),
        idempotencyKey: request.headers.get('idempotency-key'),
        body,
      })
      if (commander.failWith) return new Response('unavailable', { status: commander.failWith })
      const config = { enabled: true, token: commander.hooksToken, path: commander.hooksPath }
      return (await handleHook(request, config, commander.hooks)) ?? (await handleToolsInvoke(request, commander.gatewayToken)) ?? new Response('Not Found', { status: 404 })
    },
  })
  commander.port = server.port!
  writeMoltHome(home, { name, port: commander.port })
  const configFile = join(home, '.openclaw', 'openclaw.json')
  const config = JSON.parse(readFileSync(configFile, 'utf8'))
  config.hooks = { enabled: true, token: commander.hooksToken, path: commander.hooksPath }
  writeFileSync(configFile, `${JSON.stringify(config, null, 2)}\n`)
  return commander
}
