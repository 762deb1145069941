import { defineCommand } from 'citty'
import { resolve } from 'node:path'
import { isMailAddress, parseMailbox } from '../../../alert/address.ts'
import { DEFAULT_RATE_LIMIT, parseRateLimit } from '../../../alert/rate-limit.ts'
import { hostLimits } from '../../../host/checks.ts'
import { DEFAULT_DIGEST_WAIT_MS, isHttpUrl, MAILERS, parseDigestWait, readFleetConfig, type FleetConfig, type Mailer } from '../../../fleet/config.ts'
import { assertMoltName } from '../../../fleet/names.ts'
import { DEFAULT_RESTART_COMMAND, splitCommand } from '../../../health/restart.ts'
import { DEFAULT_INTERVAL_MINUTES, runBudgetMs, runWatch, type WatchRunOptions } from '../../../health/watch-run.ts'
import { appendWatchLog, logLine } from '../../../health/watch-log.ts'
import { durationOption, requireDuration } from '../../../lib/duration.ts'
import { quote, UsageError } from '../../../lib/errors.ts'
import { intOption } from '../../../lib/numbers.ts'
import type { Molt } from '../../../fleet/discover.ts'
import type { RunData } from '../../../runner.ts'
import { minutesOption } from '../../../schedule/options.ts'
import { VERSION } from '../../../runner.ts'
import { jsonArg, listArg, moltArg, oneMolt, printJson, startupGraceArg, startupGraceMs } from '../../_shared.ts'

/**
 * What cron runs for every molt every few minutes. Quiet when all is well: stdout only with
 * --json, a summary on stderr with -v. stderr speaks when the watch could not do its job (a notice
 * not delivered, a file not written) and, with no alert channel configured, carries the alert
 * itself, so cron's MAILTO gets it. Exit 0: the run did its job, whatever the molt's health
 * (that is what alerts are for; `health check` exits 1 on an unhealthy molt). Exit 1: a notice
 * is still undelivered or a file could not be written. Exit 2: bad usage or config.
 * A run that finds another one active exits 0 at once.
 */
export default defineCommand({
  meta: { name: 'watch', description: 'Check a molt, count failures and send alerts once per incident (what cron runs)' },
  args: {
    ...moltArg,
    'consecutive-failures': { type: 'string', valueHint: 'n', description: 'non-healthy checks in a row that make the molt DOWN, 1-64 (default 2)' },
    'alert-email': { type: 'string', valueHint: 'addr', repeatable: true, description: 'mail alerts to this address (repeatable)' },
    mailer: { type: 'enum', options: [...MAILERS], description: 'how mail goes out (default auto: msmtp when installed and configured, else SMTP)' },
    'msmtp-config': { type: 'string', valueHint: 'file', description: "msmtp configuration (default: the molt's ~/.msmtprc when present)" },
    remind: { type: 'string', valueHint: 'duration', description: 'while DOWN, remind at most once per duration, e.g. 1h (default off)' },
    'notify-molt': { type: 'string', valueHint: 'name', description: "also send alerts to this commander molt's gateway as an agent turn" },
    restart: { type: 'boolean', description: 'when DOWN as dead or stopped, run the restart command (≤ 1 per 5 min, ≤ 3 per incident)' },
    'restart-unhealthy': { type: 'boolean', description: 'also restart when DOWN as unhealthy (implies --restart)' },
    'restart-cmd': { type: 'string', valueHint: 'cmd', description: `restart command, run without a shell as the molt's user (default: ${DEFAULT_RESTART_COMMAND})` },
    interval: { type: 'string', valueHint: 'duration', description: 'time between scheduled runs, 1m-24h in whole minutes (a bare number is minutes): recorded for status, and sets the run time budget (default 5m)' },
    timeout: { type: 'string', valueHint: 'duration', default: '5s', description: 'HTTP timeout of the check, 1ms-10m (a bare number is ms)' },
    'digest-wait': { type: 'string', valueHint: 'duration', description: 'gather the fleet\'s notices this long into one digest per channel, 0s-10m, or off (default 30s; digest_wait in clmnt.json, $CLMNT_DIGEST_WAIT)' },
    'rate-limit': { type: 'string', valueHint: 'n/duration', description: 'at most n notices per duration for this molt, the rest counted in the next one, or off (default 1/1h; rate_limit in clmnt.json)' },
    'heartbeat-url': { type: 'string', valueHint: 'url', description: 'after each run, ping this URL (Healthchecks.io convention: <url>/fail when the run failed); default: heartbeat_url of clmnt.json' },
    ...startupGraceArg,
    'prom-file': { type: 'string', valueHint: 'file.prom', description: "also write this molt's Prometheus metrics there (node_exporter textfile collector; other molts' series in it are kept)" },
    'dry-run': { type: 'boolean', description: 'check and show what this run would do (phase, notices, restart); record, send and restart nothing' },
    ...jsonArg,
  },
  async run({ args, data }) {
    const cli: RunData = data
    const timeoutMs = durationOption(args.timeout, '--timeout', { bare: 'ms', min: 1, max: 600_000 })!
    const intervalMinutes = minutesOption(args.interval) ?? null
    const flagThreshold = intOption(args['consecutive-failures'], '--consecutive-failures', { min: 1, max: 64 })
    const flagEmails = listArg(args['alert-email'])
    for (const address of flagEmails) if (!isMailAddress(address)) throw new UsageError(`invalid value ${quote(address)} for --alert-email: expected a mail address like ops@example.org`)
    const flagRemind = args.remind === undefined ? undefined : args.remind === 'off' ? null : requireDuration(args.remind, '--remind')
    if (args['notify-molt'] !== undefined) assertMoltName(args['notify-molt'])
    let flagRestartArgv: string[] | undefined
    if (args['restart-cmd'] !== undefined) {
      try {
        flagRestartArgv = splitCommand(args['restart-cmd'])
      } catch (error) {
        throw new UsageError(`invalid value for --restart-cmd: ${(error as Error).message}`)
      }
    }

    const promFile = args['prom-file'] === undefined ? undefined : resolve(args['prom-file'])
    if (promFile) {
      const { promFileProblem } = await import('../../../metrics/textfile.ts')
      const problem = promFileProblem(promFile)
      if (problem) throw new UsageError(`invalid --prom-file: ${problem}`)
    }

    const flagHeartbeat = args['heartbeat-url']
    if (flagHeartbeat !== undefined && !isHttpUrl(flagHeartbeat)) throw new UsageError(`invalid value ${quote(flagHeartbeat)} for --heartbeat-url: expected an http:// or https:// URL`)

    const waitText = args['digest-wait'] ?? process.env.CLMNT_DIGEST_WAIT ?? undefined
    const flagWait = waitText === undefined || waitText === '' ? undefined : parseDigestWait(waitText)
    if (flagWait === undefined && waitText) throw new UsageError(`invalid value ${quote(waitText)} for ${args['digest-wait'] !== undefined ? '--digest-wait' : 'CLMNT_DIGEST_WAIT'}: expected a duration from 0s to 10m (e.g. 30s), or off`)

    const flagRate = args['rate-limit'] === undefined ? undefined : parseRateLimit(args['rate-limit'])
    if (flagRate === undefined && args['rate-limit'] !== undefined) throw new UsageError(`invalid value ${quote(args['rate-limit'])} for --rate-limit: expected n/duration like 1/1h or 3/30m, or off`)

    const molt = oneMolt(cli, args.name)
    const baseDir = cli.baseDir().dir
    const fleetConfig = readFleetConfig(baseDir)
    for (const warning of fleetConfig.warnings) cli.log.warn(warning)
    const config: FleetConfig = fleetConfig.config
    const fromConfig = (path: string | undefined) => (path ? resolve(baseDir, path) : null)

    const restartUnhealthy = args['restart-unhealthy'] ?? config.restart_unhealthy ?? false
    const budgetMs = runBudgetMs(intervalMinutes ?? DEFAULT_INTERVAL_MINUTES)
    const startupGrace = startupGraceMs(args['startup-grace'], config.startup_grace)
    const options: WatchRunOptions = {
      baseDir,
      timeoutMs,
      startupGraceMs: startupGrace,
      decide: {
        startupGraceMs: startupGrace,
        threshold: flagThreshold ?? config.consecutive_failures ?? 2,
        remindMs: flagRemind !== undefined ? flagRemind : config.remind && config.remind !== 'off' ? requireDuration(config.remind, 'remind') : null,
        restart: { enabled: (args.restart ?? config.restart ?? false) || restartUnhealthy, unhealthy: restartUnhealthy },
      },
      restartArgv: flagRestartArgv ?? splitCommand(config.restart_cmd ?? DEFAULT_RESTART_COMMAND),
      // the real gateway takes 20-60 s from start to ready
      restartVerifyMs: (config.restart_verify_seconds ?? 60) * 1000,
      intervalMinutes,
      budgetMs,
      alerts: {
        emails: flagEmails.length ? flagEmails : (config.alert_emails ?? []),
        mailer: (args.mailer as Mailer | undefined) ?? config.mailer ?? 'auto',
        msmtpConfig: args['msmtp-config'] ? resolve(args['msmtp-config']) : fromConfig(config.msmtp_config),
        // the environment wins over the file: a secret store can inject it without editing clmnt.json
        smtpUrl: process.env.CLMNT_SMTP_URL || config.smtp_url || null,
        from: config.from ? parseMailbox(config.from) : null,
        notifyMolt: args['notify-molt'] ?? config.notify_molt ?? null,
      },
      stderr: (text) => process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
      metrics: promFile ? { promFile, version: VERSION } : undefined,
      dashboardUrl: config.dashboard?.url ?? null,
      hostChecks: hostLimits(config.host_checks),
      rateLimit: flagRate !== undefined ? flagRate : parseRateLimit(typeof config.rate_limit === 'string' ? config.rate_limit : DEFAULT_RATE_LIMIT) ?? null,
      digestWaitMs: flagWait !== undefined ? flagWait : typeof config.digest_wait === 'string' ? parseDigestWait(config.digest_wait) ?? null : DEFAULT_DIGEST_WAIT_MS,
    }
    const heartbeatUrl = flagHeartbeat ?? config.heartbeat_url ?? null
    if (args['dry-run']) return preview(cli, molt, options, args.json === true)

    // the budget bounds every step; this is the net under it (a blocked sync call, a bug)
    const watchdog = setTimeout(() => {
      try {
        appendWatchLog(molt.home, logLine(new Date().toISOString(), `watch ${molt.name}: ERROR run exceeded its ${Math.round(budgetMs / 1000)} s budget; stopped`))
      } catch {}
      cli.log.error(`${molt.name}: the watch run exceeded its ${Math.round(budgetMs / 1000)} s budget; stopped`)
      process.exit(1)
    }, budgetMs + 5000)
    watchdog.unref()
    let result: Awaited<ReturnType<typeof runWatch>>
    try {
      result = await runWatch(molt, options)
    } finally {
      clearTimeout(watchdog)
    }

    if (heartbeatUrl && !result.skipped) {
      const { pingHeartbeat } = await import('../../../alert/heartbeat.ts')
      const ping = await pingHeartbeat(heartbeatUrl, result.problems.length === 0, result.log)
      if (!ping.ok) result.warnings.push(`heartbeat ping failed: ${ping.error}`)
    }
    if (result.skipped) cli.log.info(`${molt.name}: ${result.log.replace(/^watch \S+: /, '')}`)
    for (const warning of result.warnings) cli.log.warn(`${molt.name}: ${warning}`)
    for (const problem of result.problems) {
      if (/FAILED for good|cannot/.test(problem)) cli.log.error(`${molt.name}: ${problem}`)
      else cli.log.warn(`${molt.name}: ${problem}`)
    }
    if (args.json) printJson(cli, result)
    else if (cli.globals.verbose) cli.log.info(result.log)
    return result.problems.length ? 1 : 0
  },
})

async function preview(cli: RunData, molt: Molt, options: WatchRunOptions, json: boolean): Promise<number> {
  const { previewWatch } = await import('../../../health/watch-preview.ts')
  const p = await previewWatch(molt, options)
  for (const warning of p.warnings) cli.log.warn(`${molt.name}: ${warning}`)
  if (json) printJson(cli, p)
  else {
    const r = p.record
    const send = p.would_send.length ? p.would_send.map((n) => `${n.kind} notice via ${n.channels.join(', ')}`).join('; ') : 'nothing'
    cli.stdout(`${molt.name}: ${r.status}${r.reason ? ` (${r.reason})` : ''}; ${p.from.toUpperCase()} → ${p.to.toUpperCase()}, ${p.consecutive_failures} failure(s) in a row\n  would send  ${send}${p.waiting ? ` (and retry ${p.waiting} waiting)` : ''}\n  would restart  ${p.would_restart ? 'yes' : 'no'}\n`)
    cli.log.info('dry run: nothing was recorded, sent or restarted')
  }
  return 0
}

