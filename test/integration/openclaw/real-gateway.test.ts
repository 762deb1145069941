import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { agentHook, commanderHooks, sendToCommander } from '../../../src/alert/webhook.ts'
import { findMolt } from '../../../src/fleet/discover.ts'
import { writeRegistry } from '../../../src/fleet/registry.ts'
import { readGatewayLocks } from '../../../src/health/gateway-lock.ts'
import { pidFile, watchStateFile } from '../../../src/health/paths.ts'
import { restartNote } from '../../../src/health/watch.ts'
import { runCli } from '../../helpers/cli.ts'
import { exitedPid, freePort, removeDir, tempDir, writeStaleLock } from '../../helpers/fleet.ts'
import { startModelStandIn, type ModelStandIn } from '../../helpers/model-stand-in.ts'
import { hasExited, killGateway, logTail, openclawDir, processesUnder, runGateway, startReady, waitForExit, waitForHttp, writeRealConfig } from '../../helpers/openclaw.ts'

// The real OpenClaw 2026.9.6 on loopback (installed by scripts/install-openclaw.sh, cached): a
// plain molt, alpha, taken through every state, and a commander with hooks on whose agent runs on
// a model stand-in, so an alert can be seen arriving at the agent. Gateways start once for the
// file (20-60 s each, more on a loaded host) and every one is killed in afterAll.
setDefaultTimeout(10 * 60_000)
const READY_MS = 5 * 60_000
const UID = process.getuid!()

let base: string
let bin: string
let model: ModelStandIn
const ports = { alpha: 0, commander: 0 }
/** every gateway started here, for afterAll */
const started = new Set<number>()
const home = (name: string) => join(base, name)
const cli = (args: string[], env: Record<string, string> = {}) =>
  runCli([...args, '-d', base], { env: { PATH: `${bin}:${process.env.PATH}`, ...env }, timeoutMs: 9 * 60_000 })
const check = async (name: string, ...args: string[]) => {
  const result = await cli(['molt', 'health', 'check', name, '--json', '--timeout', '10s', ...args])
  return { ...result, record: result.stdout ? JSON.parse(result.stdout) : null }
}
/** the PID in the gateway's own lock (the real gateway writes no gateway.pid) */
const lockPid = (name: string) => readGatewayLocks(home(name), UID)[0]?.pid ?? null
const mustLockPid = (name: string): number => {
  const pid = lockPid(name)
  if (!pid) throw new Error(`${name}: no gateway lock file under ${join(home(name), '.openclaw', 'tmp')}`)
  return pid
}

/** the gateway's PID: the process `openclaw gateway run` started (it retitles itself, same PID) */
const pids = { alpha: 0, commander: 0 }
const startReadyGateway = async (name: 'alpha' | 'commander') => {
  const gateway = await startReady(home(name), ports[name], { timeoutMs: READY_MS, onStart: (pid) => started.add(pid) })
  pids[name] = gateway.pid
  return gateway
}

beforeAll(async () => {
  bin = join(openclawDir(), 'bin')
  base = tempDir('clmnt-openclaw-')
  model = startModelStandIn()
  ports.alpha = await freePort()
  ports.commander = await freePort()
  for (const name of ['alpha', 'commander', 'delta'] as const) {
    mkdirSync(home(name), { mode: 0o700 })
    writeFileSync(join(home(name), '.molt-info'), `MOLT_NAME=${name}\nMOLT_PORT=${name === 'delta' ? await freePort() : ports[name]}\n`)
  }
  writeRealConfig(home('alpha'), { port: ports.alpha, gatewayToken: 'gw-token-alpha' })
  writeRealConfig(home('commander'), { port: ports.commander, gatewayToken: 'gw-token-commander', hooks: { token: 'hook-token-commander', path: '/clmnt-hooks' }, modelBaseUrl: model.baseUrl })
  // delta: a gateway killed long ago, its lock left behind; the molt whose alerts go to the commander
  writeRealConfig(home('delta'), { port: 1, gatewayToken: 'gw-token-delta' })
  writeStaleLock(home('delta'), exitedPid())
  writeRegistry(base, { version: '1', molts: Object.fromEntries(['alpha', 'commander', 'delta'].map((name) => [name, { name, home: home(name), created: '2026-12-01' }])) })
  // both start at once: on two cores that is still faster than one after the other
  await Promise.all([startReadyGateway('alpha'), startReadyGateway('commander')])
})

afterAll(async () => {
  // and whatever a restart command started in a session of its own: everything working in the base dir
  if (base) for (const pid of processesUnder(base)) started.add(pid)
  for (const pid of started) killGateway(pid)
  for (const pid of started) {
    try {
      process.kill(pid, 'SIGKILL') // not a group leader (a gateway's helper): itself
    } catch {}
  }
  await Promise.all([...started].map((pid) => waitForExit(pid, 30_000)))
  model?.stop()
  if (base) removeDir(base)
})

describe('health of a real gateway', () => {
  test('live and ready is healthy; the PID comes from its lock file, there is no gateway.pid', async () => {
    const { code, record } = await check('alpha')
    expect(existsSync(pidFile(home('alpha')))).toBe(false)
    expect(lockPid('alpha')).toBe(pids.alpha)
    expect(readFileSync(`/proc/${pids.alpha}/cmdline`, 'utf8').split('\0')[0]).toBe('openclaw-gateway')
    expect(record).toMatchObject({ status: 'healthy', pid: pids.alpha, port: ports.alpha, http_status: 200, reason: null })
    expect(code).toBe(0)
  })

  test('a bash-toolkit host that also keeps gateway.pid: the same answer', async () => {
    writeFileSync(pidFile(home('alpha')), `${lockPid('alpha')}\n`)
    try {
      expect((await check('alpha')).record).toMatchObject({ status: 'healthy', pid: lockPid('alpha') })
    } finally {
      rmSync(pidFile(home('alpha')))
    }
  })

  test('frozen with SIGSTOP: unhealthy at once, the process named; SIGCONT and it is healthy again', async () => {
    const pid = mustLockPid('alpha')
    process.kill(pid, 'SIGSTOP')
    try {
      const { code, record } = await check('alpha')
      expect(record).toMatchObject({ status: 'unhealthy', pid, reason: `process ${pid} is frozen (stopped by a signal such as SIGSTOP): it cannot answer` })
      expect(code).toBe(1)
    } finally {
      process.kill(pid, 'SIGCONT')
    }
    expect((await waitForHttp(ports.alpha, '/readyz', { timeoutMs: READY_MS })).ok).toBe(true)
    expect((await check('alpha')).record.status).toBe('healthy')
  })

  test('a revoked Telegram bot token: live but not ready, named as the gateway names it (failing: telegram); ready again once the channel is gone', async () => {
    // Telegram's answer to a revoked token (getMe 401, docs/channels/telegram/troubleshooting.md), from
    // a Bot API on loopback (channels.telegram.apiRoot, as a self-hosted Bot API server is configured)
    const botApi = Bun.serve({ hostname: '127.0.0.1', port: 0, fetch: () => Response.json({ ok: false, error_code: 401, description: 'Unauthorized' }, { status: 401 }) })
    const configFile = join(home('alpha'), '.openclaw', 'openclaw.json')
    const config = readFileSync(configFile, 'utf8')
    const failsTelegram = (body: string) => {
      try {
        return JSON.stringify(JSON.parse(body).failing) === '["telegram"]'
      } catch {
        return false
      }
    }
    try {
      // the running gateway applies a channel change itself (docs/gateway/configuration/hot-reload.md)
      const telegram = { enabled: true, botToken: '123456:revoked', apiRoot: `http://127.0.0.1:${botApi.port}` }
      writeFileSync(configFile, JSON.stringify({ ...JSON.parse(config), channels: { telegram } }, null, 2))
      const notReady = await waitForHttp(ports.alpha, '/readyz', { status: 503, body: failsTelegram, timeoutMs: READY_MS, pid: pids.alpha })
      expect(notReady).toMatchObject({ ok: true })
      const { code, record } = await check('alpha', '--startup-grace', '0')
      expect(record).toMatchObject({ status: 'unhealthy', pid: pids.alpha, http_status: 503, reason: 'live but not ready (failing: telegram)' })
      expect(code).toBe(1)
      // within a start-up grace it is still starting, with the same reason
      const graced = await check('alpha', '--startup-grace', '1h', '--no-record')
      expect(graced.record).toMatchObject({ status: 'starting', pid: pids.alpha })
      expect(graced.record.reason).toMatch(/^up [\dhms ]+ of 1h grace, not ready \(failing: telegram\)$/)
      expect(graced.code).toBe(0)
    } finally {
      writeFileSync(configFile, config)
      botApi.stop()
    }
    expect((await waitForHttp(ports.alpha, '/readyz', { timeoutMs: READY_MS, pid: pids.alpha })).ok).toBe(true)
    expect((await check('alpha')).record).toMatchObject({ status: 'healthy', pid: pids.alpha })
  })
})

describe('alerts to a real commander through its hooks', () => {
  test("the commander's openclaw.json is what clmnt reads: hooks on, their own token and path", () => {
    expect(commanderHooks(home('commander'))).toEqual({ path: '/clmnt-hooks', token: 'hook-token-commander' })
  })

  test('watch --notify-molt: the real gateway admits the DOWN alert, and its agent reads it', async () => {
    // on a loaded host the gateway may answer 503 (no admission within its 15 s): the next cron run
    // retries with the same key, as here; anything else is a failure
    let report: { notices: { kind: string; delivered: string[]; pending: boolean }[] } | undefined
    for (let run = 1; run <= 5; run++) {
      const result = await cli(['molt', 'health', 'watch', 'delta', '--consecutive-failures', '1', '--notify-molt', 'commander', '--json'])
      report = JSON.parse(result.stdout)
      if (result.code === 0) {
        expect(result.stderr).toBe('')
        break
      }
      expect(result.stderr).toContain('answered HTTP 503')
    }
    expect(report!.notices).toEqual([expect.objectContaining({ kind: 'down', delivered: ['webhook'], pending: false })])
    expect(await waitForPrompts((t) => t.includes('molt delta is DOWN (dead)'))).toBeGreaterThanOrEqual(1)
  })

  test('a retry with the same Idempotency-Key (the notice id) replays the admitted run: the agent gets one turn', async () => {
    const commander = findMolt(base, 'commander').molt
    const hook = agentHook('clmnt health: delta down', `[Claw Mountain] molt delta is DOWN (replay-check ${Date.now()})`)
    const key = `down.${Date.now()}`
    let sent = await sendToCommander(commander, hook, key, 60_000)
    // a 503 (no admission within 15 s on a loaded host) leaves nothing admitted: retry, as the watch does
    for (let i = 0; i < 4 && !sent.ok && !sent.permanent; i++) sent = await sendToCommander(commander, hook, key, 60_000)
    expect(sent).toEqual({ ok: true })
    // what a watch run after a lost answer sends: the same body and key; this one waits for the run to settle
    const retry = await fetch(`http://127.0.0.1:${ports.commander}/clmnt-hooks/agent`, {
      method: 'POST',
      headers: { authorization: 'Bearer hook-token-commander', 'content-type': 'application/json', 'idempotency-key': key },
      body: JSON.stringify({ ...hook, waitForCompletion: true }),
      signal: AbortSignal.timeout(READY_MS),
    })
    const replayed = (await retry.json()) as { ok: boolean; completion?: { status: string } }
    expect(retry.status).toBe(200)
    expect(replayed).toMatchObject({ ok: true, completion: { status: 'ok' } })
    // the run has settled: had the retry been a second turn, the model would have been asked twice
    expect(await waitForPrompts((t) => t.includes(hook.message.slice(-30)))).toBe(1)
  })

  test('hooks are not the gateway token: the gateway refuses the alert with the gateway token (401)', async () => {
    const response = await fetch(`http://127.0.0.1:${ports.commander}/clmnt-hooks/agent`, {
      method: 'POST',
      headers: { authorization: 'Bearer gw-token-commander', 'content-type': 'application/json' },
      body: JSON.stringify(agentHook('x', 'y')),
    })
    expect(response.status).toBe(401)
  })
})

/** How many model requests hold a prompt matching, once at least one does (bounded wait). */
async function waitForPrompts(match: (text: string) => boolean): Promise<number> {
  const count = () => model.count(match)
  const end = Date.now() + READY_MS
  while (Date.now() < end && count() === 0) await Bun.sleep(500)
  return count()
}

describe('a real gateway stopped, started again, killed and restarted', () => {
  const lockDir = () => join(home('alpha'), '.openclaw', 'tmp', `openclaw-${UID}`)
  const config = (value: object) => writeFileSync(join(base, 'clmnt.json'), JSON.stringify(value))
  /** the last restart was long enough ago for the next one (instead of waiting 5 minutes) */
  const sixMinutesLater = () => {
    const state = JSON.parse(readFileSync(watchStateFile(home('alpha')), 'utf8'))
    state.last_restart_at = new Date(Date.now() - 6 * 60_000).toISOString()
    writeFileSync(watchStateFile(home('alpha')), JSON.stringify(state))
  }

  test('stopped (SIGTERM): the gateway removes its lock, the molt is stopped; a stale gateway.pid makes it dead', async () => {
    const pid: number = (await check('alpha')).record.pid
    // as systemd stops it (KillMode=mixed, docs/gateway/restart-recovery.md): SIGTERM to the gateway
    // alone, which stops its own helpers; all of them gone before the next start in this home
    process.kill(pid, 'SIGTERM')
    expect(await waitForExit(pid, READY_MS)).toBe(true)
    for (const helper of processesUnder(home('alpha'))) await waitForExit(helper, 60_000)
    const locks = () => readdirSync(lockDir()).filter((n) => n.endsWith('.lock'))
    for (let i = 0; i < 40 && locks().length; i++) await Bun.sleep(250)
    expect(locks()).toEqual([])
    expect((await check('alpha')).record).toMatchObject({ status: 'stopped', pid: null })
    writeFileSync(pidFile(home('alpha')), `${pid}\n`)
    try {
      expect((await check('alpha')).record).toMatchObject({ status: 'dead', pid, reason: `PID ${pid} from gateway.pid is not running` })
    } finally {
      rmSync(pidFile(home('alpha')))
    }
  })

  test('started again: not listening yet is unhealthy without a grace, starting within it (exit 0, the watch counts nothing), healthy once ready', async () => {
    let gateway = runGateway(home('alpha'))
    let strict = { record: null as unknown as { status: string; pid: number } }
    let graced = { code: -1, record: null as unknown as { status: string; pid: number; reason: string } }
    for (let attempt = 1; attempt <= 3; attempt++) {
      started.add(gateway.pid)
      // from its first moment: titled plain `openclaw` while OpenClaw's CLI loads (no lock yet), then
      // openclaw-gateway; only the instant before the launcher's exec can read as stopped
      for (let i = 0; i < 40 && (await check('alpha', '--no-record')).record.status === 'stopped'; i++) await Bun.sleep(250)
      strict = await check('alpha', '--startup-grace', '0', '--no-record')
      graced = await check('alpha')
      if (!hasExited(gateway.pid)) break
      // the product itself gave up (on a starved host its state lease heartbeat worker may not start
      // within its own 5 s): once more, from scratch; judged by the process, never by clmnt's answer
      if (attempt === 3) throw new Error(`the gateway exited during its start three times\n${logTail(gateway.log)}`)
      gateway = runGateway(home('alpha'))
    }
    expect(strict.record).toMatchObject({ status: 'unhealthy', pid: gateway.pid })
    expect(graced.record).toMatchObject({ status: 'starting', pid: gateway.pid })
    expect(graced.record.reason).toMatch(/^up \d+s of 2m grace, /)
    expect(graced.code).toBe(0)
    const watch = await cli(['molt', 'health', 'watch', 'alpha', '--consecutive-failures', '1', '--json'])
    const report = JSON.parse(watch.stdout)
    if (report.record.status === 'starting') {
      expect(report.notices).toEqual([])
      expect(JSON.parse(readFileSync(watchStateFile(home('alpha')), 'utf8'))).toMatchObject({ consecutive_failures: 0, phase: 'up', last_status: 'starting' })
    }
    // the real gateway may give up during its own start on a loaded host: then once more, from scratch
    const up = (await waitForHttp(ports.alpha, '/readyz', { timeoutMs: READY_MS, pid: gateway.pid })).ok ? gateway.pid : (await startReadyGateway('alpha')).pid
    expect((await check('alpha')).record).toMatchObject({ status: 'healthy', pid: up })
  })

  test('killed (SIGKILL): its lock stays behind, naming a PID that is gone: dead', async () => {
    const pid = mustLockPid('alpha')
    killGateway(pid)
    expect(await waitForExit(pid)).toBe(true)
    const { code, record } = await check('alpha')
    expect(record).toMatchObject({ status: 'dead', pid })
    expect(record.reason).toMatch(/^PID \d+ from the gateway lock \.openclaw\/tmp\/openclaw-\d+\/gateway\.[\w]+\.lock is not running \(the gateway crashed or was killed\)$/)
    expect(code).toBe(1)
  })

  test('`openclaw gateway restart` on a gateway run in the foreground restarts nothing: the check after it says so, whatever the exit code', async () => {
    config({ restart_verify_seconds: 10 })
    const result = await cli(['molt', 'health', 'watch', 'alpha', '--consecutive-failures', '1', '--restart', '--json'])
    const report = JSON.parse(result.stdout)
    expect(report.restart).toMatchObject({ attempt: 1, command: 'openclaw gateway restart' })
    // what the alerts of this incident say of it (the DOWN notice carries the same note)
    const incident = JSON.parse(readFileSync(watchStateFile(home('alpha')), 'utf8')).incident
    const note = restartNote(incident)
    expect(note).toContain('Automatic restart 1 of 3')
    if (report.restart.error === null) {
      expect(report.restart.result).toBe('dead')
      expect(note).toContain('the check after it still found it dead')
      if (report.restart.exit_code === 0) expect(note).toContain('the command restarted nothing')
    } else {
      // on a starved host (load 30 on 2 cores) OpenClaw's CLI alone can take longer than clmnt's
      // 60 s bound for a restart command (it may have started a gateway by then): killed, and said
      expect(report.restart).toMatchObject({ error: 'no exit within 60 s: killed', signal: 'SIGKILL', exit_code: null })
    }
  })

  test('a restart_cmd that starts the foreground gateway again: counted by the check after it, ready within the wait', async () => {
    const script = join(base, 'start-gateway.sh')
    // what an operator of a foreground molt puts in restart_cmd: start it detached, in its own session
    writeFileSync(script, `#!/bin/sh\ncd "$MOLT_HOME" || exit 1\nsetsid ${join(bin, 'openclaw')} gateway run </dev/null >>"$MOLT_HOME/gateway-run.log" 2>&1 &\necho "started $!"\n`, { mode: 0o755 })
    config({ restart_verify_seconds: 240 })
    sixMinutesLater()
    const result = await cli(['molt', 'health', 'watch', 'alpha', '--consecutive-failures', '1', '--restart', '--restart-cmd', script, '--json'])
    const report = JSON.parse(result.stdout)
    if (report.record?.pid) started.add(report.record.pid)
    expect(report.restart).toMatchObject({ attempt: 2, exit_code: 0 })
    expect(['healthy', 'starting']).toContain(report.restart.result)
    expect((await waitForHttp(ports.alpha, '/readyz', { timeoutMs: READY_MS })).ok).toBe(true)
    // the new gateway, found by clmnt: an openclaw-gateway process, not the killed one
    const { record } = await check('alpha')
    const pid = record.pid as number
    started.add(pid)
    expect(record.status).toBe('healthy')
    expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0]).toBe('openclaw-gateway')
    // OpenClaw 2026.9.6 leaves the killed gateway's lock as it was when a new one starts over it: clmnt
    // does not take that stale PID for the answer, it finds the gateway that runs
    const stale = lockPid('alpha')
    if (stale !== pid) expect(existsSync(`/proc/${stale}`)).toBe(false)
  })

})
