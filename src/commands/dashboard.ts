import { defineCommand } from 'citty'
import { discoverFleet } from '../fleet/discover.ts'
import { readFleetConfig } from '../fleet/config.ts'
import { MIN_TOKEN_LENGTH, isLoopbackHost, resolveToken } from '../dashboard/auth.ts'
import { startDashboard } from '../dashboard/server.ts'
import { VERSION } from '../runner.ts'
import { UsageError } from '../lib/errors.ts'
import { intOption } from '../lib/numbers.ts'
import type { RunData } from '../runner.ts'

export default defineCommand({
  meta: { name: 'dashboard', description: 'Serve the fleet dashboard: a web page and a JSON API (health, history, backups, check now)' },
  args: {
    host: { type: 'string', valueHint: 'addr', default: '127.0.0.1', description: 'address to listen on; anything but loopback requires a token' },
    port: { type: 'string', valueHint: 'n', default: '3000', description: 'port to listen on, 0-65535 (0: any free port)' },
    token: { type: 'string', valueHint: 'T', description: 'every request must carry this token (default: $CLMNT_DASHBOARD_TOKEN, else "dashboard": {"token"} in clmnt.json; both keep it out of ps)' },
  },
  async run({ args, data }) {
    const cli: RunData = data
    const port = intOption(args.port, '--port', { min: 0, max: 65535 })!
    const host = args.host.trim()
    if (!host) throw new UsageError('--host is empty')
    const { dir } = cli.baseDir()
    const found = resolveToken({
      flag: args.token,
      env: process.env.CLMNT_DASHBOARD_TOKEN,
      config: () => {
        const read = readFleetConfig(dir)
        for (const warning of read.warnings) cli.log.warn(warning)
        return read.config.dashboard?.token
      },
    })
    if (!found && !isLoopbackHost(host)) {
      throw new UsageError(`refusing to listen on ${host} without a token: anyone who can reach it could read the fleet and run checks. Give one with --token, CLMNT_DASHBOARD_TOKEN or "dashboard": {"token": "…"} in ${dir}/clmnt.json, or listen on 127.0.0.1`)
    }
    if (found && found.token.length < MIN_TOKEN_LENGTH) cli.log.warn(`the dashboard token (from ${found.source}) is shorter than ${MIN_TOKEN_LENGTH} characters: easy to guess`)

    // a base dir that cannot be read is an error now, not on the first page load
    const fleet = discoverFleet(dir)
    for (const warning of fleet.warnings) cli.log.warn(warning)
    if (!fleet.molts.length) cli.log.warn(`no molts in ${dir} (no molts.json entries, no folders with .molt-info)`)

    // listening for the signals before the URL is out: whoever reads it may stop us at once
    const signals = untilSignal()
    let dashboard: Awaited<ReturnType<typeof startDashboard>>
    try {
      dashboard = await startDashboard({ baseDir: dir, host, port, token: found?.token ?? null, log: cli.log, version: VERSION })
    } catch (error) {
      signals.cancel()
      throw error
    }
    cli.stdout(`${dashboard.url}\n`)
    const access = found ? `token required (from ${found.source})` : 'no token: loopback only'
    cli.log.info(`clmnt dashboard: ${fleet.molts.length} molt(s) in ${dir}, ${access}. Ctrl-C stops it.`)

    const signal = await signals.received
    cli.log.info(`${signal}: stopping the dashboard`)
    await dashboard.stop()
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
