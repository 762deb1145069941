import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { chromium, type Browser } from 'playwright-core'
import type { DemoMode, DemoMolt } from '../../src/demo/fleet.ts'
import { historyLine, type HealthRecord, type HealthStatus } from '../../src/health/record.ts'
import { buildFleet, LEGACY_STATUS, LEGACY_WATCH_STATE_INVALID, tempDir, writeState } from './fleet.ts'

/** Debian's Chromium (package `chromium`), which .ci/run installs; CLMNT_CHROMIUM points elsewhere. */
export const CHROMIUM = process.env.CLMNT_CHROMIUM ?? '/usr/bin/chromium'

/**
 * The flags this machine needs: as root Chromium refuses to start without --no-sandbox, and on a
 * closed network the background services only produce refused connections.
 */
export const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage']

/**
 * Launch Chromium through playwright-core (which never downloads a browser). A missing browser is a
 * failure that says what to install, never a skip: CI must not go green without the browser tests.
 */
export async function launchBrowser(): Promise<{ browser: Browser; close(): Promise<void> }> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`browser tests need Chromium at ${CHROMIUM}: install the Debian package "chromium" (apt-get install chromium), or set CLMNT_CHROMIUM to a Chromium binary`)
  }
  // a fresh profile each time (playwright's launch() refuses --user-data-dir; it makes its own, we add a
  // private temp dir for its downloads). Chromium's own temp folders (org.chromium.Chromium.*) go there too:
  // one killed by bun test when a test times out leaves them behind, and this one is removed with its test file.
  const scratch = tempDir('clmnt-chromium-')
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS, downloadsPath: scratch, env: { ...process.env, TMPDIR: scratch }, timeout: 30_000 })
  return {
    browser,
    async close() {
      await browser.close().catch(() => {})
      rmSync(scratch, { recursive: true, force: true })
    },
  }
}

// ---------------------------------------------------------------------------------------------
// The dashboard's test fleet (API and browser tests): one molt per state, legacy files, a planted script.

export const MIN = 60_000
export const HOUR = 60 * MIN
export const DAY = 24 * HOUR

/** What each molt of dashboardFleet() shows before any check from the page. */
export const FIXTURE = {
  alpha: { mode: 'healthy', status: 'healthy' },
  bravo: { mode: 'error', status: 'unhealthy' },
  charlie: { mode: 'hang', status: 'unhealthy' },
  delta: { mode: 'dead', status: 'dead' },
  echo: { mode: 'stopped', status: null },
  golf: { mode: 'healthy', status: 'unhealthy' },
  hotel: { mode: 'healthy', status: 'unhealthy' },
} as const satisfies Record<string, { mode: DemoMode; status: HealthStatus | null }>

export const PLANTED = {
  moltInfo: '<script>window.__pwned = "molt-info"</script>',
  reason: '<img src=x onerror="window.__pwned = \'reason\'">',
  history: '<script>window.__pwned = "history"</script>',
}

type Line = { ago: number; status: HealthStatus; ms: number | null; http?: number | null; reason?: string | null }

function historyText(port: number, pid: number | null, lines: Line[], now: number): string {
  return lines
    .map((l) => historyLine({ timestamp: new Date(now - l.ago).toISOString(), status: l.status, pid, port, http_status: l.http ?? (l.status === 'healthy' ? 200 : null), response_time_ms: l.ms, reason: l.reason ?? null }))
    .join('')
}

/** A week of checks every 30 minutes; `status(ago)` says how each went. */
function week(status: (ago: number, i: number) => Omit<Line, 'ago'>): Line[] {
  const lines: Line[] = []
  // the newest 2 minutes ago: the watch runs every 30 minutes here (interval_minutes), so not stale
  for (let i = 0, ago = 2 * MIN + 335 * 30 * MIN; ago >= 2 * MIN; ago -= 30 * MIN, i++) lines.push({ ago, ...status(ago, i) })
  return lines
}

const wave = (i: number) => Math.round((14 + 6 * Math.sin(i / 5) + ((i * 7) % 5)) * 10) / 10

function record(molt: DemoMolt, now: number, line: Line): HealthRecord {
  return { timestamp: new Date(now - line.ago).toISOString(), molt: molt.name, status: line.status, pid: molt.pid, port: molt.port, http_status: line.http ?? (line.status === 'healthy' ? 200 : null), response_time_ms: line.ms, reason: line.reason ?? null }
}

function watchState(now: number, fields: Record<string, unknown>): Record<string, unknown> {
  return { version: 2, consecutive_failures: 0, last_check: new Date(now - 2 * MIN).toISOString(), last_status: 'healthy', last_success: null, alert_sent: false, interval_minutes: 30, phase: 'up', threshold: 3, recent: '', incident: null, flapping: null, last_restart_at: null, last_incident: null, outbox: [], alert_config: null, ...fields }
}

export async function dashboardFleet(now = Date.now()) {
  const fleet = await buildFleet(Object.entries(FIXTURE).map(([name, f]) => ({ name, mode: f.mode })))
  const molt = (name: keyof typeof FIXTURE) => fleet.molts.find((m) => m.name === name)!
  const plant = (name: keyof typeof FIXTURE, lines: Line[], watch?: Record<string, unknown>) => {
    const m = molt(name)
    writeState(m.home, 'health-history.jsonl', historyText(m.port, m.pid, lines, now))
    writeState(m.home, 'health-status.json', record(m, now, lines.at(-1)!))
    if (watch) writeState(m.home, 'health-watch-state.json', watchState(now, watch))
  }
  // alpha: healthy all week but for a 1.5 h incident three days ago
  plant('alpha', week((ago, i) => (ago <= 3 * DAY && ago > 3 * DAY - 2 * HOUR ? { status: 'dead', ms: null, reason: 'PID 4242 from gateway.pid is not running' } : { status: 'healthy', ms: wave(i) })), { last_success: new Date(now - 2 * MIN).toISOString() })
  // bravo: answering HTTP 500 for the last two checks: pending, 2 of 3, no alert yet
  const bravoSince = now - 32 * MIN
  plant('bravo', week((ago, i) => (ago <= 32 * MIN ? { status: 'unhealthy', ms: 18, http: 500, reason: 'HTTP 500' } : { status: 'healthy', ms: wave(i) + 20 })), {
    consecutive_failures: 2, last_status: 'unhealthy', last_success: new Date(now - 62 * MIN).toISOString(), phase: 'pending', recent: 'SSSFF',
    incident: { id: new Date(bravoSince).toISOString(), first_status: 'unhealthy', first_reason: 'HTTP 500', estimated: false, down_at: null, down_notice: null, down_notified_at: null, reminders: 0, last_reminder_at: null, restarts: [], restart_failed_notice: null },
  })
  // charlie: hung, one timeout; no watch state (only `health check` ran)
  plant('charlie', [...week((_, i) => ({ status: 'healthy', ms: wave(i) * 3 })).slice(0, -1), { ago: 2 * MIN, status: 'unhealthy', ms: null, reason: 'no answer within 5000 ms' }])
  // delta: dead for two hours, DOWN sent
  const deltaSince = now - 2 * HOUR - 2 * MIN
  plant('delta', week((ago, i) => (ago <= 2 * HOUR + 2 * MIN ? { status: 'dead', ms: null, reason: `PID ${molt('delta').pid} from gateway.pid is not running` } : { status: 'healthy', ms: wave(i) })), {
    consecutive_failures: 5, last_status: 'dead', last_success: new Date(deltaSince - 30 * MIN).toISOString(), alert_sent: true, phase: 'down', recent: 'SSFFFFF',
    incident: { id: new Date(deltaSince).toISOString(), first_status: 'dead', first_reason: 'PID from gateway.pid is not running', estimated: false, down_at: new Date(deltaSince + HOUR).toISOString(), down_notice: 'n-1', down_notified_at: new Date(deltaSince + HOUR).toISOString(), reminders: 0, last_reminder_at: null, restarts: [], restart_failed_notice: null },
  })
  // echo: never checked
  // golf: every file in the bash toolkit's format (numbers as strings, "null", last_check)
  const g = molt('golf')
  writeState(g.home, 'health-status.json', { ...LEGACY_STATUS, last_check: new Date(now - 3 * MIN).toISOString(), port: String(g.port) })
  writeState(g.home, 'health-watch-state.json', LEGACY_WATCH_STATE_INVALID)
  writeState(g.home, 'health-history.jsonl', [6, 5, 4].map((h) => `{"timestamp": "${new Date(now - h * MIN).toISOString()}", "status": "healthy", "pid": "1234", "port": "${g.port}", "http_status": "200", "response_time_ms": "12"}\n`).join('') + `{"last_check": "${new Date(now - 3 * MIN).toISOString()}", "status": "unhealthy", "pid": "1234", "port": "${g.port}", "http_status": "000000", "response_time_ms": "null"}\n`)
  // hotel: its user wrote markup into .molt-info and the state files
  const x = molt('hotel')
  writeFileSync(join(x.home, '.molt-info'), `MOLT_NAME='${PLANTED.moltInfo}'\nMOLT_PORT=${x.port}\nCREATED=2026-01-15\n`)
  plant('hotel', [{ ago: 20 * MIN, status: 'healthy', ms: 9, reason: null }, { ago: 10 * MIN, status: 'unhealthy', ms: null, reason: PLANTED.history }, { ago: 3 * MIN, status: 'unhealthy', ms: null, reason: PLANTED.reason }])
  return { ...fleet, molt }
}

// ---------------------------------------------------------------------------------------------
// A large fleet of state files only (no gateways): what the page shows at 200 or 500 molts.

const PREFIXES = ['mail', 'crm', 'ops', 'sales', 'support', 'hr', 'dev', 'legal']

/** What molt i of stateFleet() is, in the page's terms (see src/dashboard/page/order.ts). */
export function stateFleetKind(i: number): 'down' | 'unhealthy' | 'stopped' | 'stale' | 'starting' | 'healthy' {
  const k = i % 50
  return k < 3 ? 'down' : k < 5 ? 'unhealthy' : k === 5 ? 'stopped' : k === 6 ? 'stale' : k === 7 ? 'starting' : 'healthy'
}

export const stateFleetName = (i: number) => `${PREFIXES[i % PREFIXES.length]}-${String(i).padStart(3, '0')}`

/**
 * `count` molts with a day of 5-minute checks each: 6 % down since a storm 47 minutes ago, 4 %
 * unhealthy, 2 % stopped, stale, starting; every seventh healthy one had a short incident an hour ago.
 */
export function stateFleet(count: number, now = Date.now()): { baseDir: string; cleanup(): void } {
  const baseDir = tempDir('clmnt-state-fleet-')
  const registry: Record<string, unknown> = {}
  const STEP = 5 * MIN
  for (let i = 0; i < count; i++) {
    const name = stateFleetName(i)
    const home = join(baseDir, name)
    const port = 20001 + i * 2
    const kind = stateFleetKind(i)
    mkdirSync(join(home, '.openclaw'), { recursive: true })
    writeFileSync(join(home, '.molt-info'), `MOLT_NAME=${name}\nMOLT_PORT=${port}\nMOLT_HOME="${home}"\nCREATED=2026-01-15\n`)
    writeFileSync(join(home, '.openclaw', 'openclaw.json'), JSON.stringify({ gateway: { port, bind: 'loopback' } }))
    registry[name] = { name, port, home, created: '2026-01-15' }
    const lastAgo = kind === 'stale' ? 3 * HOUR : MIN + (i % 5) * 30_000
    const past = kind === 'healthy' && i % 7 === 0
    const lines: Line[] = []
    for (let ago = lastAgo + 24 * HOUR; ago >= lastAgo; ago -= STEP) {
      const ms = Math.round((8 + (i % 13) + 6 * Math.sin(ago / HOUR + i) + ((ago / STEP) % 4)) * 10) / 10
      const storm = ago <= 47 * MIN
      let line: Omit<Line, 'ago'> = { status: 'healthy', ms }
      if (kind === 'down' && storm) line = { status: 'dead', ms: null, reason: i % 2 ? 'connection refused on 127.0.0.1' : `PID ${4000 + i} from gateway.pid is not running` }
      else if (kind === 'unhealthy' && ago <= 12 * MIN) line = i % 2 ? { status: 'unhealthy', ms: 31, http: 500, reason: 'HTTP 500' } : { status: 'unhealthy', ms: null, reason: 'no answer within 5000 ms' }
      else if (kind === 'stopped' && ago <= 8 * MIN) line = { status: 'stopped', ms: null, reason: 'no gateway.pid: the gateway is not running' }
      else if (kind === 'starting' && ago === lastAgo) line = { status: 'starting', ms: null, reason: 'started 20 s ago, within its 60 s grace' }
      else if (past && ago <= 80 * MIN && ago > 60 * MIN) line = { status: 'unhealthy', ms: null, reason: 'no answer within 5000 ms' }
      lines.push({ ago, ...line })
    }
    writeState(home, 'health-history.jsonl', historyText(port, 4000 + i, lines, now))
    writeState(home, 'health-status.json', { timestamp: new Date(now - lines.at(-1)!.ago).toISOString(), molt: name, status: lines.at(-1)!.status, pid: 4000 + i, port, http_status: lines.at(-1)!.http ?? (lines.at(-1)!.status === 'healthy' ? 200 : null), response_time_ms: lines.at(-1)!.ms, reason: lines.at(-1)!.reason ?? null })
    const failing = kind === 'starting' ? 0 : lines.length - 1 - lines.findLastIndex((l) => l.status === 'healthy')
    const since = failing ? new Date(now - lines[lines.length - failing]!.ago).toISOString() : null
    const down = kind === 'down' || (kind === 'unhealthy' && i % 2 === 1)
    writeState(home, 'health-watch-state.json', watchState(now, {
      interval_minutes: 5, last_check: new Date(now - lastAgo).toISOString(), consecutive_failures: failing, last_status: lines.at(-1)!.status,
      phase: failing ? (down && failing >= 3 ? 'down' : 'pending') : 'up', alert_sent: down && failing >= 3,
      incident: since && { id: since, first_status: lines[lines.length - failing]!.status, first_reason: lines[lines.length - failing]!.reason ?? null, estimated: false, down_at: null, down_notice: null, down_notified_at: null, reminders: 0, last_reminder_at: null, restarts: [], restart_failed_notice: null },
    }))
  }
  writeFileSync(join(baseDir, 'molts.json'), JSON.stringify({ version: '1', updated: new Date(now).toISOString(), molts: registry }, null, 2))
  return { baseDir, cleanup: () => rmSync(baseDir, { recursive: true, force: true }) }
}
