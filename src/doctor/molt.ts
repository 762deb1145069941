import { statSync } from 'node:fs'
import { join } from 'node:path'
import { gatewayToken } from '../alert/webhook.ts'
import type { Molt } from '../fleet/discover.ts'
import { parseMoltInfo } from '../fleet/molt-info.ts'
import { isMoltName } from '../fleet/names.ts'
import { openclawConfigPath, readOpenclawConfig, type OpenclawConfig } from '../fleet/openclaw-config.ts'
import { gatewayState, type GatewayState } from '../health/gateway.ts'
import { pidFile } from '../health/paths.ts'
import { httpHealth } from '../health/probe.ts'
import { formatDuration } from '../lib/duration.ts'
import { legacyNumber } from '../lib/legacy.ts'
import { SafeFsError } from '../lib/safe-fs.ts'
import { readHomeFile } from '../lib/safe-read.ts'
import { systemUsers, userByUid } from '../lib/users.ts'
import type { DoctorContext } from './context.ts'
import { probeToken, tcpConnect, TOKEN_PROBE_PATH } from './net.ts'
import { fail, few, octal, ok, skip, warn, type Finding } from './types.ts'
import { processUptimeSeconds } from './uptime.ts'

/** A response slower than this is worth a word, though it passes `health check`. */
export const SLOW_MS = 1000

/** What the molt's own files say, read once for all its checks. */
interface MoltFiles {
  info: { values: Record<string, string>; badLines: number[] } | { missing: true } | { error: string }
  config: { value: OpenclawConfig | null } | { error: string }
}

function readFiles(molt: Molt): MoltFiles {
  let info: MoltFiles['info']
  try {
    // the molt's own file: never followed, never blocking, capped (safe-fs.ts)
    const text = readHomeFile(molt.home, '.molt-info', { maxBytes: 64 * 1024 })
    info = text === null ? { missing: true } : parseMoltInfo(text)
  } catch (error) {
    info = { error: error instanceof SafeFsError ? error.message : ((error as NodeJS.ErrnoException).code ?? (error as Error).message) }
  }
  let config: MoltFiles['config']
  try {
    config = { value: readOpenclawConfig(molt.home) }
  } catch (error) {
    config = { error: (error as Error).message }
  }
  return { info, config }
}

/** Per molt: identity, files, port, bind mode, process, and the gateway as the network sees it. */
export async function moltChecks(molt: Molt, ctx: DoctorContext): Promise<Finding[]> {
  const files = readFiles(molt)
  const gateway = gatewayState(molt, ctx.processes)
  const findings = [nameCheck(molt), userCheck(molt), homeCheck(molt), moltInfoCheck(molt, files), portCheck(molt, files, ctx), openclawCheck(molt, files), bindCheck(files, ctx), pidCheck(molt, gateway)]
  findings.push(...(await networkChecks(molt, ctx)))
  findings.push(uptimeCheck(gateway))
  return findings
}

function nameCheck(molt: Molt): Finding {
  if (!isMoltName(molt.name)) return fail('molt.name', 'name', `${JSON.stringify(molt.name)} is not a Linux user name`, 'rename it: a-z or _, then up to 31 of a-z 0-9 _ -')
  const mismatch = molt.warnings.find((w) => w.includes('MOLT_NAME'))
  if (mismatch) return warn('molt.name', 'name', mismatch, `set MOLT_NAME=${molt.name} in ${join(molt.home, '.molt-info')}`)
  return ok('molt.name', 'name', 'a valid Linux user name')
}

function userCheck(molt: Molt): Finding {
  const user = systemUsers().get(molt.name)
  if (user) return ok('molt.user', 'Linux user', `${molt.name} (uid ${user.uid}, home ${user.home})`)
  let owner = 'nobody: the home is missing'
  try {
    const uid = statSync(molt.home).uid
    owner = `${userByUid(uid)?.name ?? `uid ${uid}`}, who owns the home`
  } catch {}
  return warn('molt.user', 'Linux user', `no user named ${molt.name}; the molt runs as ${owner}`, `give it its own user (useradd -d ${molt.home} ${molt.name}); expected on a demo or dev host`)
}

function homeCheck(molt: Molt): Finding {
  const title = 'home'
  let st: ReturnType<typeof statSync>
  try {
    st = statSync(molt.home)
  } catch (error) {
    return fail('molt.home', title, `${molt.home}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, 'restore the molt (fleet restore --select) or fix its "home" in molts.json')
  }
  if (!st.isDirectory()) return fail('molt.home', title, `${molt.home} is not a folder`, `fix its "home" in molts.json`)
  const user = systemUsers().get(molt.name)
  const ownerName = userByUid(st.uid)?.name ?? `uid ${st.uid}`
  if (user && st.uid !== user.uid) return fail('molt.home', title, `${molt.home} belongs to ${ownerName}, not ${molt.name}`, `chown -R ${molt.name}: ${molt.home}`)
  const mode = st.mode & 0o777
  if (mode !== 0o700) {
    const why = mode & 0o077 ? 'other users can look inside (it holds the gateway token and mail passwords)' : 'the owner lacks some rights'
    return warn('molt.home', title, `${molt.home} has mode ${octal(mode)}, not 0700: ${why}`, `chmod 700 ${molt.home}`)
  }
  return ok('molt.home', title, `${molt.home}, owned by ${ownerName}, mode 0700`)
}

function moltInfoCheck(molt: Molt, files: MoltFiles): Finding {
  const id = 'molt.molt-info'
  const path = join(molt.home, '.molt-info')
  const { info } = files
  if ('missing' in info) return warn(id, '.molt-info', `missing: the molt is known from molts.json only`, `write ${path}: MOLT_NAME=${molt.name}, MOLT_PORT=<port>, CREATED=<date>`)
  if ('error' in info) return fail(id, '.molt-info', `cannot read ${path}: ${info.error}`, `make it readable: chmod 644 ${path}`)
  if (info.badLines.length) return fail(id, '.molt-info', `line(s) ${few(info.badLines.map(String))} cannot be read; they are ignored`, `fix ${path}: one KEY=value per line, no shell code`)
  if (info.values.MOLT_PORT !== undefined && portOf(info.values.MOLT_PORT) === null) return fail(id, '.molt-info', `MOLT_PORT ${JSON.stringify(info.values.MOLT_PORT)} is not a port number`, `set MOLT_PORT=<1-65535> in ${path}`)
  return ok(id, '.molt-info', `read: ${Object.keys(info.values).join(', ') || 'no values'}`)
}

function portOf(value: unknown): number | null {
  const n = legacyNumber(value)
  return n !== null && Number.isInteger(n) && n >= 1 && n <= 65535 ? n : null
}

function portCheck(molt: Molt, files: MoltFiles, ctx: DoctorContext): Finding {
  const id = 'molt.port'
  if (molt.port === null) return fail(id, 'port', 'unknown: no MOLT_PORT in .molt-info, no gateway.port in openclaw.json, none in molts.json', `set MOLT_PORT in ${join(molt.home, '.molt-info')}`)
  const others = (ctx.fleet?.molts ?? []).filter((m) => m.name !== molt.name && m.port === molt.port).map((m) => m.name)
  if (others.length) return fail(id, 'port', `${molt.port} is also the port of ${few(others)}`, 'give each molt its own port (19001, 19021, … in steps of 20) in .molt-info and openclaw.json, then restart the gateways')
  const sources: [string, number | null][] = [
    ['.molt-info', 'values' in files.info ? portOf(files.info.values.MOLT_PORT) : null],
    ['openclaw.json', 'value' in files.config ? portOf(files.config.value?.gateway?.port) : null],
    ['molts.json', ctx.registry?.molts[molt.name]?.port ?? null],
  ]
  const given = sources.filter(([, port]) => port !== null)
  if (new Set(given.map(([, port]) => port)).size > 1) {
    const said = given.map(([source, port]) => `${source} ${port}`).join(', ')
    return warn(id, 'port', `sources disagree (${said}); clmnt probes ${molt.port}`, 'make them agree: the gateway listens on gateway.port of openclaw.json')
  }
  const from = molt.portSource === 'molt-info' ? '.molt-info' : molt.portSource === 'registry' ? 'molts.json' : molt.portSource
  return ok(id, 'port', `${molt.port} (from ${from}), unique in the fleet`)
}

function openclawCheck(molt: Molt, files: MoltFiles): Finding {
  const path = openclawConfigPath(molt.home)
  if ('error' in files.config) return fail('molt.openclaw-json', 'openclaw.json', `${path}: ${files.config.error}`, `repair it (valid JSON with a "gateway" object) or restore it from a backup`)
  const config = files.config.value
  if (!config) return warn('molt.openclaw-json', 'openclaw.json', `${path} is missing: the gateway runs on its defaults`, 'run openclaw setup as the molt, or restore it from a backup')
  const g = config.gateway as { port?: unknown; bind?: unknown; auth?: { token?: unknown } } | undefined
  const token = typeof g?.auth?.token === 'string' && g.auth.token !== '' ? 'token set' : 'no token'
  return ok('molt.openclaw-json', 'openclaw.json', `valid: gateway.port ${g?.port ?? '-'}, bind ${g?.bind ?? '(default)'}, ${token}`)
}

type BindScope = 'loopback' | 'lan' | 'one-address' | 'other'

export function bindScope(bind: string | null | undefined): BindScope {
  const b = (bind ?? 'loopback').trim().toLowerCase()
  if (['loopback', 'localhost', '127.0.0.1', '::1'].includes(b) || b.startsWith('127.')) return 'loopback'
  if (['lan', '0.0.0.0', '::', '*', 'all'].includes(b)) return 'lan'
  if (b === 'tailnet' || /^[\d.]+$/.test(b) || b.includes(':')) return 'one-address'
  return 'other'
}

/** Seed 000: a headless molt on `loopback` cannot be reached from the LAN. Which bind is right depends on the host. */
function bindCheck(files: MoltFiles, ctx: DoctorContext): Finding {
  const id = 'molt.bind'
  if (!('value' in files.config)) return skip(id, 'bind mode', 'openclaw.json is unusable')
  const gateway = files.config.value?.gateway as { bind?: string | null; auth?: { token?: unknown } } | undefined
  const bind = gateway?.bind ?? null
  const shown = bind ?? 'loopback (the default)'
  const scope = bindScope(bind)
  const hasToken = typeof gateway?.auth?.token === 'string' && gateway.auth.token !== ''
  if (scope === 'one-address') return warn(id, 'bind mode', `${shown}: the gateway does not listen on 127.0.0.1, where clmnt checks it`, 'bind it to "lan" (all addresses) or "loopback", or health checks fail')
  if (scope === 'lan' && !hasToken) return fail(id, 'bind mode', `${shown}: reachable from the LAN without a gateway token`, 'set gateway.auth.token in openclaw.json (or bind to "loopback")')
  if (ctx.expectBind === 'lan' && scope === 'loopback') return warn(id, 'bind mode', `${shown}: unreachable from the LAN, where this host's molts must answer`, 'set "gateway": {"bind": "lan"} in openclaw.json and restart the gateway')
  if (ctx.expectBind === 'loopback' && scope === 'lan') return warn(id, 'bind mode', `${shown}: reachable from the LAN, where this host's molts must stay local`, 'set "gateway": {"bind": "loopback"} in openclaw.json and restart the gateway')
  const reach = scope === 'loopback' ? 'this host only' : scope === 'lan' ? 'the LAN, with a token' : 'as OpenClaw decides'
  const hint = ctx.expectBind ? '' : ' (set expect_bind in clmnt.json to have it judged)'
  return ok(id, 'bind mode', `${shown}: reachable from ${reach}${hint}`)
}

function pidCheck(molt: Molt, gateway: GatewayState): Finding {
  const id = 'molt.pid'
  const file = pidFile(molt.home)
  // the real gateway keeps its PID in its lock file; gateway.pid is the bash toolkit's
  if (gateway.state === 'running' && gateway.via === 'lock-file') return ok(id, 'gateway process', `PID ${gateway.pid} from the gateway's lock file is the molt's openclaw gateway`)
  if (gateway.state === 'running' && gateway.via === 'pid-file') return ok(id, 'gateway process', `PID ${gateway.pid} from gateway.pid is the molt's openclaw gateway`)
  if (gateway.state === 'running') return warn(id, 'gateway process', `running as PID ${gateway.pid}, but neither its lock file nor gateway.pid names it`, `restart the gateway so it writes its lock (or write ${gateway.pid} to ${file} on a bash-toolkit host)`)
  if (gateway.state === 'unreadable') return skip(id, 'gateway process', gateway.reason)
  if (gateway.state === 'stale') return fail(id, 'gateway process', gateway.reason, `start the gateway as ${molt.name} (openclaw gateway restart), then check its log: ${join(molt.home, '.openclaw', 'gateway.log')}`)
  return fail(id, 'gateway process', 'not running: no gateway lock, no gateway.pid and no openclaw gateway process of the molt', `start it as ${molt.name}: openclaw gateway start`)
}

async function networkChecks(molt: Molt, ctx: DoctorContext): Promise<Finding[]> {
  if (molt.port === null) return [skip('molt.tcp', 'TCP connect', 'port unknown'), skip('molt.http', 'GET /health', 'port unknown'), skip('molt.token', 'gateway token', 'port unknown')]
  const port = molt.port
  const tcp = await tcpConnect('127.0.0.1', port, ctx.timeoutMs)
  if (!tcp.ok) {
    const advice = tcp.error === 'connection refused' ? 'nothing listens there: start the gateway, or fix the port' : 'the port accepts nothing in time: a hung gateway, or a firewall rule on loopback'
    return [fail('molt.tcp', 'TCP connect', `127.0.0.1:${port}: ${tcp.error}`, advice), skip('molt.http', 'GET /health', 'no TCP connection'), skip('molt.token', 'gateway token', 'no TCP connection')]
  }
  const findings = [ok('molt.tcp', 'TCP connect', `127.0.0.1:${port} in ${tcp.ms} ms`)]
  const http = await httpHealth(port, ctx.timeoutMs)
  if (http.http_status === 200) {
    const ms = http.response_time_ms ?? 0
    findings.push(ms > SLOW_MS ? warn('molt.http', 'GET /health', `HTTP 200, but in ${ms} ms`, 'the gateway is slow: look at its load and gateway.log') : ok('molt.http', 'GET /health', `HTTP 200 in ${ms} ms`))
  } else {
    const what = http.error ?? `HTTP ${http.http_status}`
    findings.push(fail('molt.http', 'GET /health', `${what} (port ${port})`, `the gateway is up but not well: see ${join(molt.home, '.openclaw', 'gateway.log')}, then restart it`))
  }
  // a gateway that let /health time out would only make the token probe wait as long again
  findings.push(http.http_status === null ? skip('molt.token', 'gateway token', 'no HTTP answer') : await tokenCheck(molt, port, ctx))
  return findings
}

async function tokenCheck(molt: Molt, port: number, ctx: DoctorContext): Promise<Finding> {
  const id = 'molt.token'
  const token = gatewayToken(molt.home)
  if (!token) return skip(id, 'gateway token', 'none configured (gateway.auth.token, OPENCLAW_GATEWAY_TOKEN)')
  const probe = await probeToken(port, token, ctx.timeoutMs)
  if (probe.result === 'unknown') return skip(id, 'gateway token', probe.reason)
  if (probe.result === 'rejected') return fail(id, 'gateway token', `rejected: POST ${TOKEN_PROBE_PATH} answers ${probe.with} with it`, 'the gateway runs with another token: make openclaw.json and .openclaw/.env agree, then restart the gateway')
  return ok(id, 'gateway token', `accepted (POST ${TOKEN_PROBE_PATH}: ${probe.without} without it, ${probe.with} with it)`)
}

function uptimeCheck(gateway: GatewayState): Finding {
  if (gateway.state !== 'running') return skip('molt.uptime', 'process uptime', 'no gateway process')
  const seconds = processUptimeSeconds(gateway.pid)
  if (seconds === null) return skip('molt.uptime', 'process uptime', `/proc/${gateway.pid} cannot be read`)
  return ok('molt.uptime', 'process uptime', `up ${formatDuration(seconds * 1000)} (PID ${gateway.pid})`)
}
