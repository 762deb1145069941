/**
 * A stand-in openclaw gateway for the demo fleet and the tests: a real HTTP server on 127.0.0.1.
 * Its file name puts "openclaw" on the command line, as clmnt expects of a molt's gateway.
 *   --mode healthy  GET /health → 200
 *   --mode error    GET /health → 500
 *   --mode hang     accepts connections and never answers
 *   --mode refuse   process alive, port closed (connection refused)
 * Prints "ready <port>" once listening. --port 0 picks a free port.
 */
import { parseArgs } from 'node:util'

const { values } = parseArgs({ options: { port: { type: 'string', default: '0' }, mode: { type: 'string', default: 'healthy' } } })
const mode = values.mode!

const server = Bun.serve({
  hostname: '127.0.0.1',
  port: Number(values.port),
  idleTimeout: 0, // a hung gateway must stay hung; Bun would otherwise drop the socket after 10 s
  fetch(request) {
    const path = new URL(request.url).pathname
    if (mode === 'hang') return new Promise<Response>(() => {})
    if (path !== '/health') return new Response('not found', { status: 404 })
    if (mode === 'error') return Response.json({ ok: false, error: 'gateway broken' }, { status: 500 })
    return Response.json({ ok: true, status: 'live' })
  },
})
const port = server.port
if (mode === 'refuse') server.stop(true)
process.stdout.write(`ready ${port}\n`)
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => process.exit(0))
// keep the process alive in refuse mode, where nothing else holds the event loop
setInterval(() => {}, 1 << 30)
