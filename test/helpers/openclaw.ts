import { spawn, spawnSync } from 'node:child_process'
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

/**
 * The real OpenClaw gateway for the integration tests (test/integration/openclaw/): installed once
 * by scripts/install-openclaw.sh into a cache folder (Node 24 and the pinned openclaw from the npm
 * registry), started with `openclaw gateway run` on loopback in a molt home (its HOME), waited for
 * on /readyz with generous bounds (20-60 s to start on a busy 2-core host), killed with its
 * process group.
 */
export const OPENCLAW_VERSION = '2026.9.6'
const INSTALL_SCRIPT = join(import.meta.dir, '..', '..', 'scripts', 'install-openclaw.sh')

let installed: string | undefined

/** The install folder (`<dir>/bin/openclaw`); installs on first use, a few minutes, then cached. */
export function openclawDir(): string {
  if (installed) return installed
  const run = spawnSync('bash', [INSTALL_SCRIPT], { encoding: 'utf8', timeout: 15 * 60_000, stdio: ['ignore', 'pipe', 'inherit'] })
  const dir = run.stdout?.trim().split('\n').at(-1)
  if (run.status !== 0 || !dir) throw new Error(`scripts/install-openclaw.sh failed (exit ${run.status}${run.error ? `, ${run.error.message}` : ''})`)
  return (installed = dir)
}

export interface RealConfig {
  port: number
  gatewayToken: string
  hooks?: { token: string; path: string }
  /** an OpenAI-compatible endpoint (test/helpers/model-stand-in.ts) as the default agent's model */
  modelBaseUrl?: string
}

/** `.openclaw/openclaw.json` as an operator writes it for a local gateway (docs/gateway/config-*.md). */
export function writeRealConfig(home: string, config: RealConfig): void {
  mkdirSync(join(home, '.openclaw'), { recursive: true, mode: 0o700 })
  const json: Record<string, unknown> = {
    gateway: { mode: 'local', port: config.port, bind: 'loopback', auth: { mode: 'token', token: config.gatewayToken } },
  }
  if (config.hooks) json.hooks = { enabled: true, token: config.hooks.token, path: config.hooks.path }
  if (config.modelBaseUrl) {
    json.agents = { defaults: { model: { primary: 'standin/stand-in' } } }
    json.models = {
      mode: 'merge',
      providers: {
        standin: {
          baseUrl: config.modelBaseUrl,
          apiKey: 'sk-local',
          api: 'openai-completions',
          models: [{ id: 'stand-in', name: 'Stand-in', reasoning: false, input: ['text'], cost: { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 }, contextWindow: 128000, maxTokens: 4096 }],
        },
      },
    }
  }
  writeFileSync(join(home, '.openclaw', 'openclaw.json'), `${JSON.stringify(json, null, 2)}\n`)
}

export interface RealGateway {
  /** the gateway process (the launcher retitles itself `openclaw-gateway`: same PID) */
  pid: number
  log: string
}

/**
 * `openclaw gateway run` in the foreground, as a molt's user would start it by hand: HOME is the
 * molt home, its own process group (so a test can kill it with its helpers), output to a log file.
 */
export function runGateway(home: string): RealGateway {
  const log = join(home, 'gateway-run.log')
  const out = openSync(log, 'a')
  const env: Record<string, string> = {}
  // not bun test's NODE_ENV=test: under it OpenClaw skips its lock files (its own test mode)
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined && !key.startsWith('OPENCLAW_') && key !== 'NODE_ENV' && key !== 'VITEST') env[key] = value
  const child = spawn(join(openclawDir(), 'bin', 'openclaw'), ['gateway', 'run'], {
    cwd: home,
    env: { ...env, HOME: home, OPENCLAW_SKIP_GMAIL_WATCHER: '1' },
    detached: true,
    stdio: ['ignore', out, out],
  })
  closeSync(out)
  child.unref()
  return { pid: child.pid!, log }
}

/** Kill the gateway and everything it started (its process group); ignores what is already gone. */
export function killGateway(pid: number, signal: NodeJS.Signals = 'SIGKILL'): void {
  // -0 would be this test's own process group
  if (!Number.isInteger(pid) || pid <= 1) throw new Error(`not a gateway PID: ${pid}`)
  try {
    process.kill(-pid, signal)
  } catch {}
}

/**
 * Every process running with its cwd under `dir`: what a test's gateways (and the ones its restart
 * commands started, in sessions of their own) leave behind, so afterAll can kill them all.
 */
export function processesUnder(dir: string): number[] {
  const pids: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue
    try {
      const cwd = readlinkSync(`/proc/${entry}/cwd`).replace(/ \(deleted\)$/, '')
      if (cwd === dir || cwd.startsWith(`${dir}/`)) pids.push(Number(entry))
    } catch {}
  }
  return pids
}

/**
 * Poll GET `path` until it answers `status` (and, given `body`, a body that passes it), the bound
 * passes or (given `pid`) the process is gone.
 */
export async function waitForHttp(port: number, path: string, options: { status?: number; body?: (text: string) => boolean; timeoutMs?: number; pid?: number } = {}): Promise<{ ok: boolean; last: string }> {
  const want = options.status ?? 200
  const end = Date.now() + (options.timeoutMs ?? 240_000)
  let last = ''
  while (Date.now() < end) {
    if (options.pid !== undefined && hasExited(options.pid)) return { ok: false, last: `${last} (the gateway exited)` }
    try {
      const response = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(5000) })
      const text = await response.text()
      last = `HTTP ${response.status} ${text.slice(0, 200)}`
      if (response.status === want && (options.body?.(text) ?? true)) return { ok: true, last }
    } catch (error) {
      last = (error as Error).message
    }
    await Bun.sleep(500)
  }
  return { ok: false, last }
}

/** The process has ended (gone, or a zombie its parent has not reaped yet). */
export function hasExited(pid: number): boolean {
  try {
    const state = /^State:\s+(\S)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]
    return state === 'Z' || state === 'X'
  } catch {
    return true
  }
}

/** Wait until the process is gone (bounded); true when it is. */
export async function waitForExit(pid: number, timeoutMs = 60_000): Promise<boolean> {
  const end = Date.now() + timeoutMs
  while (Date.now() < end) {
    if (hasExited(pid)) return true
    await Bun.sleep(200)
  }
  return false
}

/**
 * Start a gateway and wait until /readyz says ready. On a loaded host the real gateway sometimes
 * gives up during its own start ("state lease heartbeat did not become ready" within its 5 s): that
 * is the product's start-up, not what is under test, so it is started again, at most `attempts` times.
 */
export async function startReady(home: string, port: number, options: { attempts?: number; timeoutMs?: number; onStart?: (pid: number) => void } = {}): Promise<RealGateway> {
  let last = ''
  for (let attempt = 1; attempt <= (options.attempts ?? 3); attempt++) {
    const gateway = runGateway(home)
    options.onStart?.(gateway.pid)
    const ready = await waitForHttp(port, '/readyz', { timeoutMs: options.timeoutMs ?? 300_000, pid: gateway.pid })
    if (ready.ok) return gateway
    last = `attempt ${attempt}: ${ready.last}\n${logTail(gateway.log, 15)}`
    killGateway(gateway.pid)
    await waitForExit(gateway.pid, 30_000)
  }
  throw new Error(`the gateway in ${home} did not become ready on port ${port}\n${last}`)
}

/** The last lines of a gateway's log, for a failure message. */
export function logTail(log: string, lines = 30): string {
  try {
    return readFileSync(log, 'utf8').trimEnd().split('\n').slice(-lines).join('\n')
  } catch {
    return '(no log)'
  }
}
