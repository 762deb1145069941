import { defineCommand } from 'citty'
import { discoverFleet } from '../fleet/discover.ts'
import { readFleetConfig } from '../fleet/config.ts'
import { isLoopbackHost, resolveToken } from '../dashboard/auth.ts'
import { startDashboard } from '../dashboard/server.ts'
import { startWatchdog, WATCHDOG_EVERY_MS } from '../dashboard/watchdog.ts'
import { createTokenFile, readTokenFile, tokenFilePath } from '../dashboard/token-file.ts'
import { VERSION } from '../runner.ts'
import { UsageError } from '../lib/errors.ts'
import { intOption } from '../lib/numbers.ts'
import type { RunData } from '../runner.ts'

const TOKEN_SOURCES = 'CLMNT_DASHBOARD_TOKEN, "dashboard": {"token": "…"} in clmnt.json (mode 0600), or the token file the dashboard makes'

export default defineCommand({
  meta: { name: 'dashboard', description: 'Serve the fleet dashboard: a web page and a JSON API (health, history, backups, check now)' },
  args: {
    host: { type: 'string', valueHint: 'addr', default: '127.0.0.1', description: 'address to listen on' },
    port: { type: 'string', valueHint: 'n', default: '3000', description: 'port to listen on, 0-65535 (0: any free port)' },
    'tls-cert': { type: 'string', valueHint: 'file', description: 'serve https with this PEM certificate (with --tls-key)' },
    'tls-key': { type: 'string', valueHint: 'file', description: 'the PEM private key of --tls-cert' },
    'insecure-no-auth': { type: 'boolean', description: 'no token at all: only for a single-user machine, loopback only (every local user, every molt agent included, gets the fleet and "check now")' },
    token: { type: 'string', valueHint: 'T', description: `refused: a token on the command line is visible to every user in ps; use ${TOKEN_SOURCES}` },
  },
  async run({ args, data }) {
    const cli: RunData = data
    if (args.token !== undefined) throw new UsageError(`--token is not accepted: a token on the command line is visible to every user in ps. Use ${TOKEN_SOURCES}`)
    const port = intOption(args.port, '--port', { min: 0, max: 65535 })!
    const host = args.host.trim()
    if (!host) throw new UsageError('--host is empty')
    if (Boolean(args['tls-cert']) !== Boolean(args['tls-key'])) throw new UsageError('--tls-cert and --tls-key go together')
    const tls = args['tls-cert'] && args['tls-key'] ? { cert: args['tls-cert'], key: args['tls-key'] } : undefined
    const { dir } = cli.baseDir()

    let token: string | null = null
    let access: string
    let loginUrl: ((url: string) => string) | null = null
    if (args['insecure-no-auth']) {
      if (!isLoopbackHost(host)) throw new UsageError(`--insecure-no-auth is for loopback only, not ${host}: anyone who can reach it could read the fleet and run checks`)
      cli.log.warn('--insecure-no-auth: NO AUTHENTICATION. Every local user — and every molt agent, which runs as a local user — can read the whole fleet and run checks. Use this only on a single-user machine.')
      access = 'NO AUTHENTICATION (--insecure-no-auth)'
    } else {
      const found = resolveToken({
        env: process.env.CLMNT_DASHBOARD_TOKEN,
        config: () => {
          const read = readFleetConfig(dir)
          for (const warning of read.warnings) cli.log.warn(warning)
          return read.config.dashboard?.token
        },
        file: () => readTokenFile(dir),
      })
      if (found) {
        token = found.token
        access = `token required (from ${found.source === 'token file' ? tokenFilePath(dir) : found.source})`
      } else {
        // first start: a token of its own, stored 0600, shown once as a login link
        token = createTokenFile(dir)
        access = `token required: a new one was stored in ${tokenFilePath(dir)} (mode 0600)`
        const made = token
        loginUrl = (url) => `${url}login?token=${made}`
      }
    }

    // a base dir that cannot be read is an error now, not on the first page load
    const fleet = discoverFleet(dir)
    for (const warning of fleet.warnings) cli.log.warn(warning)
    if (!fleet.molts.length) cli.log.warn(`no molts in ${dir} (no molts.json entries, no folders with .molt-info)`)

    // listening for the signals before the URL is out: whoever reads it may stop us at once
    const signals = untilSignal()
    let dashboard: Awaited<ReturnType<typeof startDashboard>>
    try {
      dashboard = await startDashboard({ baseDir: dir, host, port, token, tls, log: cli.log, version: VERSION })
    } catch (error) {
      signals.cancel()
      throw error
    }
    // The watchdog sends notices, through msmtp among others: it runs beside the server, never
    // inside it, so nothing a request reaches can start a program (test/unit/dashboard-server).
    const watchdog = startWatchdog(dir, WATCHDOG_EVERY_MS, cli.log)
    cli.stdout(`${dashboard.url}\n`)
    cli.log.info(`clmnt dashboard: ${fleet.molts.length} molt(s) in ${dir}, ${access}. Ctrl-C stops it.`)
    // the only time the token is shown: on the terminal of whoever started the dashboard
    if (loginUrl) cli.log.info(`log in once with: ${loginUrl(dashboard.url)}`)

    const signal = await signals.received
    cli.log.info(`${signal}: stopping the dashboard`)
    await Promise.all([dashboard.stop(), watchdog.stop()])
    return 0
  },
})

/** The first SIGINT or SIGTERM, instead of dying by it: the server stops and the exit code is 0. */
function untilSignal(): { received: Promise<NodeJS.Signals>; cancel(): void } {
  let cancel = () => {}
  const received = new Promise<NodeJS.Signals>((resolve) => {
    const on = (signal: NodeJS.Signals) => {
      cancel()
      resolve(signal)
    }
    cancel = () => {
      process.off('SIGINT', on)
      process.off('SIGTERM', on)
    }
    process.on('SIGINT', on)
    process.on('SIGTERM', on)
  })
  return { received, cancel }
}
