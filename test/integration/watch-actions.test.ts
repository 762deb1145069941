import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'bun:test'
import { rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { runCli } from '../helpers/cli.ts'
import { buildFleet, writeConfig } from '../helpers/fleet.ts'
import { startSmtpSink, type SmtpSink } from '../helpers/smtp.ts'

// Alerts an operator can act on as printed, and the heartbeat ping after each run.
let fleet: Awaited<ReturnType<typeof buildFleet>>
let sink: SmtpSink
const home = (name: string) => join(fleet.baseDir, name)
const fresh = (name: string) => rmSync(join(home(name), '.molt-state'), { recursive: true, force: true })
const watch = (args: string[], env: Record<string, string> = {}) =>
  runCli(['molt', 'health', 'watch', ...args, '-d', fleet.baseDir, '--timeout', '2000', '--consecutive-failures', '1'], { env: { CLMNT_SMTP_URL: sink.url(), ...env } })

beforeAll(async () => {
  fleet = await buildFleet([
    { name: 'delta', mode: 'dead' },
    { name: 'kilo', mode: 'healthy' },
  ])
  sink = await startSmtpSink()
  writeConfig(fleet.baseDir, { mailer: 'smtp', dashboard: { url: 'https://mon.example.org:8443/' } })
})
afterAll(async () => {
  fleet.cleanup()
  await sink.close()
})
beforeEach(() => {
  sink.messages.length = 0
})

describe('actionable alerts', () => {
  test('commands carry -d <base-dir> and run as printed; restart command, dashboard link and gateway log lines', async () => {
    fresh('delta')
    writeFileSync(join(home('delta'), '.openclaw', 'gateway.log'), `${Array.from({ length: 30 }, (_, i) => `line ${i + 1}`).join('\n')}\n{"time":"2026-12-05T03:02:00Z","_meta":{"logLevelName":"ERROR"},"0":"listen EADDRINUSE"}\n`)
    const result = await watch(['delta', '--alert-email', 'ops@example.org'])
    expect(result.code).toBe(0)
    expect(sink.messages).toHaveLength(1)
    const body = sink.messages[0]!.body
    const commands = body.split('\n').filter((l) => / molt health (status|logs|history) delta$/.test(l)).map((l) => l.trim())
    expect(commands).toHaveLength(3)
    for (const command of commands) {
      expect(command).toContain(`-d ${fleet.baseDir} molt health`)
      // as printed, from another folder than the fleet's: the words split like a shell would (no quoting needed here)
      const [program, ...rest] = command.split(' ')
      const proc = Bun.spawnSync([program!, ...rest], { cwd: '/', env: { ...process.env, NO_COLOR: '1', CLMNT_BASE_DIR: '' } })
      expect(proc.stderr.toString()).not.toContain('unknown molt')
      expect([0, 1]).toContain(proc.exitCode)
    }
    expect(body).toContain('  openclaw gateway restart')
    expect(body).toContain('Dashboard: https://mon.example.org:8443/#molt=delta')
    expect(body).toContain(`Last lines of ${join(home('delta'), '.openclaw', 'gateway.log')}:`)
    expect(body).toContain('\n> line 30\n')
    expect(body).toContain('2026-12-05T03:02:00Z ERROR listen EADDRINUSE')
    expect(body).not.toContain('> line 20\n')
  })

  test('a gateway log that is a link is not followed', async () => {
    fresh('delta')
    const log = join(home('delta'), '.openclaw', 'gateway.log')
    rmSync(log, { force: true })
    writeFileSync(join(fleet.baseDir, 'secret.txt'), 'root secret\n')
    symlinkSync(join(fleet.baseDir, 'secret.txt'), log)
    try {
      expect((await watch(['delta', '--alert-email', 'ops@example.org'])).code).toBe(0)
      expect(sink.messages).toHaveLength(1)
      expect(sink.messages[0]!.body).not.toContain('root secret')
      expect(sink.messages[0]!.body).not.toContain('Last lines of')
    } finally {
      rmSync(log, { force: true })
    }
  })
})

describe('heartbeat', () => {
  let pings: { method: string; path: string; body: string }[] = []
  let server: ReturnType<typeof Bun.serve>
  beforeAll(() => {
    server = Bun.serve({
      hostname: '127.0.0.1',
      port: 0,
      async fetch(request) {
        pings.push({ method: request.method, path: new URL(request.url).pathname, body: await request.text() })
        return new Response('OK')
      },
    })
  })
  afterAll(() => server.stop(true))
  beforeEach(() => {
    pings = []
  })

  test('a run that did its job pings the URL, whatever the molt’s health; the body is the run’s log line', async () => {
    fresh('kilo')
    fresh('delta')
    const url = `http://127.0.0.1:${server.port}/ping/abc-123`
    expect((await watch(['kilo', '--heartbeat-url', url])).code).toBe(0)
    expect((await watch(['delta', '--heartbeat-url', url, '--alert-email', 'ops@example.org'])).code).toBe(0)
    expect(pings.map((p) => `${p.method} ${p.path}`)).toEqual(['POST /ping/abc-123', 'POST /ping/abc-123'])
    expect(pings[0]!.body).toContain('watch kilo: UP healthy')
    expect(pings[1]!.body).toContain('watch delta: DOWN dead')
  })

  test('a run that failed (its notice undelivered) pings <url>/fail; heartbeat_url in clmnt.json works too', async () => {
    fresh('delta')
    writeConfig(fleet.baseDir, { mailer: 'smtp', heartbeat_url: `http://127.0.0.1:${server.port}/ping/abc-123?rid=1` })
    try {
      const result = await watch(['delta', '--alert-email', 'ops@example.org'], { CLMNT_SMTP_URL: 'smtp://127.0.0.1:1' })
      expect(result.code).toBe(1)
      expect(pings.map((p) => p.path)).toEqual(['/ping/abc-123/fail'])
    } finally {
      writeConfig(fleet.baseDir, { mailer: 'smtp', dashboard: { url: 'https://mon.example.org:8443/' } })
    }
  })

  test('an unreachable heartbeat URL warns and does not fail the run; a bad URL is a usage error', async () => {
    fresh('kilo')
    const result = await watch(['kilo', '--heartbeat-url', 'http://127.0.0.1:1/ping'])
    expect(result.code).toBe(0)
    expect(result.stderr).toContain('heartbeat ping failed: http://127.0.0.1:1/…')
    const bad = await watch(['kilo', '--heartbeat-url', 'ftp://x'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('invalid value "ftp://x" for --heartbeat-url')
  })
})
