/**
 * A stand-in openclaw gateway for the demo fleet and the fast tests: a real HTTP server on 127.0.0.1
 * that answers like OpenClaw 2026.9 (docs/gateway/health.md, docs/gateway/gateway-lock.md):
 *   --mode healthy    /health 200 {"ok":true,"status":"live"}, /startupz 200, /readyz 200
 *   --mode starting   live, but /startupz and /readyz 503 (failing: startup-sidecars)
 *   --mode not-ready  live and started, /readyz 503 (failing: agent-database:main)
 *   --mode error      /health → 500
 *   --mode hang       accepts connections and never answers
 *   --mode refuse     process alive, port closed (connection refused)
 * Like the real one it keeps its PID in `<state dir>/tmp/openclaw-<uid>/gateway.<hash>.lock` (JSON
 * {pid, createdAt, …}) and removes it on SIGTERM; `--no-lock` behaves like a bash-toolkit host
 * (whoever starts it writes gateway.pid). The state dir is $OPENCLAW_STATE_DIR, else $HOME/.openclaw.
 * Hooks (POST <hooks.path>/agent, /wake) follow the molt's openclaw.json, read on each request.
 * Start it with argv0 `openclaw-gateway` (the real one's process title). Prints "ready <port>"
 * once listening; --port 0 picks a free port.
 */
import { createHash } from 'node:crypto'
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { handleHook, handleToolsInvoke, newHookState, readGatewayToken, readHooksConfig } from './fake-hooks.ts'

const { values } = parseArgs({
  options: { port: { type: 'string', default: '0' }, mode: { type: 'string', default: 'healthy' }, 'no-lock': { type: 'boolean', default: false } },
})
const mode = values.mode!
const stateDir = process.env.OPENCLAW_STATE_DIR || join(process.env.HOME || homedir(), '.openclaw')
const started = Date.now()
const hooks = newHookState()

const ready = (body: object, ok: boolean) => Response.json({ ...body, uptimeMs: Date.now() - started }, { status: ok ? 200 : 503 })

const server = Bun.serve({
  hostname: '127.0.0.1',
  port: Number(values.port),
  idleTimeout: 0, // a hung gateway must stay hung; Bun would otherwise drop the socket after 10 s
  async fetch(request) {
    if (mode === 'hang') return new Promise<Response>(() => {})
    const hook = (await handleHook(request, readHooksConfig(stateDir), hooks)) ?? (await handleToolsInvoke(request, readGatewayToken(stateDir)))
    if (hook) return hook
    const path = new URL(request.url).pathname
    if (path === '/health' || path === '/healthz') {
      if (mode === 'error') return Response.json({ ok: false, error: 'gateway broken' }, { status: 500 })
      return Response.json({ ok: true, status: 'live' })
    }
    if (path === '/startupz' || path === '/startup') {
      if (mode === 'starting') return ready({ ok: false, status: 'starting', version: 'fake', pendingReason: 'startup-sidecars' }, false)
      return ready({ ok: true, status: 'started', version: 'fake' }, true)
    }
    if (path === '/readyz' || path === '/ready') {
      if (mode === 'starting') return ready({ ready: false, failing: ['startup-sidecars'] }, false)
      if (mode === 'not-ready') {
        const agentDatabases = { main: { admitted: false, reason: 'schema newer than this build supports' } }
        return ready({ ready: false, failing: ['agent-database:main'], agentDatabases }, false)
      }
      return ready({ ready: true, failing: [] }, true)
    }
    return new Response('Not Found', { status: 404 })
  },
})
const port = server.port!
if (mode === 'refuse') server.stop(true)

let lockPath: string | null = null
if (!values['no-lock']) {
  const uid = process.getuid?.() ?? 0
  const configPath = join(stateDir, 'openclaw.json')
  const dir = join(stateDir, 'tmp', `openclaw-${uid}`)
  mkdirSync(dir, { recursive: true })
  lockPath = join(dir, `gateway.${createHash('sha256').update(configPath).digest('hex').slice(0, 8)}.lock`)
  const stat = readFileSync(`/proc/${process.pid}/stat`, 'utf8')
  const startTime = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19])
  const lock = { pid: process.pid, ownerId: crypto.randomUUID(), createdAt: new Date(started).toISOString(), configPath, stateDir, port, startTime }
  writeFileSync(lockPath, `${JSON.stringify(lock, null, 2)}\n`)
}

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    // a clean stop releases the lock, as the real gateway does; SIGKILL leaves it behind
    if (lockPath) rmSync(lockPath, { force: true })
    process.exit(0)
  })
}
// last: whoever waits for this line may stop the gateway at once
process.stdout.write(`ready ${port}\n`)
// keep the process alive in refuse mode, where nothing else holds the event loop
setInterval(() => {}, 1 << 30)
