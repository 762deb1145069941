import { defineCommand } from 'citty'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import type { Molt } from '../../../fleet/discover.ts'
import { moltOwner } from '../../../health/gateway.ts'
import { STATE_DIR, stateDir } from '../../../health/paths.ts'
import { inHomeDir } from '../../../lib/safe-fs.ts'
import { UsageError } from '../../../lib/errors.ts'
import type { RunData } from '../../../runner.ts'
import { nextRuns } from '../../../schedule/cron-expr.ts'
import { applyCronEdits, cronStatus, crontabProblem, type CrontabChange } from '../../../schedule/cron-setup.ts'
import { readCrontab, type CrontabRead } from '../../../schedule/crontab.ts'
import { scanCrontab } from '../../../schedule/crontab-edit.ts'
import { legacySettings, mergeLegacy, type GivenOptions } from '../../../schedule/legacy.ts'
import { clmntCommand } from '../../../schedule/job.ts'
import { INSTALL_OPTIONS, setupRequest } from '../../../schedule/options.ts'
import { cronBlock, planMolt, type SetupRequest } from '../../../schedule/plan.ts'
import { installDetail, installTable, statusDetail, statusTable, type InstallView } from '../../../schedule/render.ts'
import { describeTimer, unitNames, userUnitDir } from '../../../schedule/systemd.ts'
import { installSystemd, removeSystemd, systemdStatus } from '../../../schedule/systemd-setup.ts'
import { scheduleTarget, type ScheduleTarget } from '../../../schedule/target.ts'
import { jsonArg, listArg, moltOrAllArgs, printJson, selectMolts } from '../../_shared.ts'

export default defineCommand({
  meta: { name: 'setup', description: 'Install, inspect (--status) or remove (--remove) the schedule that runs `health watch`' },
  args: {
    ...moltOrAllArgs,
    interval: { type: 'string', valueHint: 'duration', description: 'time between checks, 1m-24h in whole minutes, e.g. 5m, 90m, 1h (a bare number is minutes; default: 5m)' },
    offset: { type: 'string', valueHint: 'duration', description: 'stagger, in whole minutes below the interval, e.g. 3m (a bare number is minutes; default: from the port, else a hash of the name)' },
    'alert-email': { type: 'string', valueHint: 'addr', repeatable: true, description: 'passed to the watch: where alerts go (repeatable)' },
    'consecutive-failures': { type: 'string', valueHint: 'n', description: 'passed to the watch: failed checks before an alert, 1-64' },
    remind: { type: 'string', valueHint: 'duration', description: 'passed to the watch: repeat the alert while down, e.g. 1h, or off' },
    'notify-molt': { type: 'string', valueHint: 'name', description: 'passed to the watch: commander molt to notify' },
    restart: { type: 'boolean', description: 'passed to the watch: restart a dead gateway' },
    timeout: { type: 'string', valueHint: 'duration', description: 'passed to the watch: HTTP timeout, 1ms-10m, e.g. 5s (a bare number is ms)' },
    'crontab-user': { type: 'string', valueHint: 'user', description: "whose crontab (or systemd user manager) runs the watch (default: as root the molt's user, else yours)" },
    scheduler: { type: 'enum', options: ['cron', 'systemd'], default: 'cron', description: 'where the schedule lives' },
    remove: { type: 'boolean', description: "remove the molt's entry (and a bash-toolkit one)" },
    status: { type: 'boolean', description: 'show the installed schedule, next runs and last run (exit 1 when not installed)' },
    'dry-run': { type: 'boolean', description: 'show the change (crontab diff, unit files) and change nothing' },
    ...jsonArg,
  },
  async run({ args, data }) {
    const cli: RunData = data
    const a = args as Record<string, unknown>
    if (args.remove && args.status) throw new UsageError('give --remove or --status, not both')
    const mode = args.remove ? 'remove' : args.status ? 'status' : 'install'
    const stray = INSTALL_OPTIONS.find((o) => a[o] !== undefined && a[o] !== false)
    if (mode !== 'install' && stray) throw new UsageError(`--${stray} only applies when installing, not with --${mode}`)
    if (mode === 'status' && args['dry-run']) throw new UsageError('--dry-run changes nothing anyway with --status')
    const request =
      mode === 'install'
        ? setupRequest({ interval: args.interval, offset: args.offset, alertEmails: listArg(a['alert-email']), consecutiveFailures: args['consecutive-failures'], remind: args.remind, notifyMolt: args['notify-molt'], restart: args.restart, timeout: args.timeout, crontabUser: args['crontab-user'] }, cli.baseDir().dir)
        : null
    const { molts, all } = selectMolts(cli, { name: args.name, all: args.all })
    if (!molts.length) {
      cli.log.warn(`no molts found in ${cli.baseDir().dir}`)
      if (args.json) printJson(cli, [])
      return 0
    }
    const ctx: Ctx = { cli, all, json: args.json === true, dryRun: args['dry-run'] === true, systemd: args.scheduler === 'systemd' }
    // every target (and so --crontab-user) is checked before anything is read or written
    const targets = molts.map((m) => scheduleTarget(m.name, args['crontab-user']))
    if (mode === 'status') return status(ctx, molts, targets)
    if (mode === 'remove') return remove(ctx, molts, targets)
    const clmnt = clmntCommand()
    if (clmnt.warning) cli.log.warn(clmnt.warning)
    // a bash-toolkit entry being replaced hands its settings on (or setup refuses, before any write)
    const given = { interval: args.interval !== undefined, alertEmails: listArg(a['alert-email']).length > 0, consecutiveFailures: args['consecutive-failures'] !== undefined }
    const migrations = ctx.systemd ? new Map() : legacyMigrations(molts, targets, request!, given)
    const plans = molts.map((m) => planMolt(m, migrations.get(m.name)?.request ?? request!, clmnt))
    for (const [molt, m] of migrations) {
      if (m.carried.length) cli.log.info(`${molt}: carried over from the bash toolkit's entry: ${m.carried.join(', ')}`)
      for (const note of m.notes) cli.log.warn(`${molt}: ${note}`)
    }
    if (request!.offset !== undefined && molts.length > 1) cli.log.warn(`every molt gets --offset ${request!.offset}: they all run at the same minutes`)
    for (const p of plans) {
      for (const w of p.warnings) cli.log.warn(`${p.molt.name}: ${w}`)
      if (p.note && !ctx.systemd) cli.log.warn(`${p.molt.name}: ${p.note}`)
      warnOtherScheduler(ctx, p.molt.name, p.target)
    }
    if (ctx.systemd) {
      const outcomes = plans.map((p) => installSystemd(p, { dryRun: ctx.dryRun }))
      const views = outcomes.map((o, i) => {
        const { plan } = plans[i]!
        return { ...o, where: `systemd user units of ${o.user}`, interval: plan.interval, offset: plan.offset, schedule: describeTimer(plan), next_runs: plan.exact ? iso(nextRuns(plan.expressions, 3)) : [] }
      })
      return report(ctx, views, outcomes.flatMap((o) => o.warnings.map((w) => `${o.molt}: ${w}`)))
    }
    // tee writes .molt-state/cron.err: the folder must exist before the first run
    if (!ctx.dryRun) for (const p of plans) prepareStateDir(cli, p.molt)
    const changes = applyCronEdits(plans.map((p) => ({ molt: p.molt.name, target: p.target, block: cronBlock(p) })), { dryRun: ctx.dryRun })
    const views = plans.map((p) => {
      const { change, outcome } = find(changes, p.molt.name)
      return { ...outcome, carried: migrations.get(p.molt.name)?.carried, where: `crontab of ${outcome.user}`, interval: p.plan.interval, offset: p.plan.offset, offset_from: p.offsetFrom, schedule: p.words, exact: p.plan.exact, note: p.note, next_runs: iso(nextRuns(p.plan.expressions, 3)), lines: cronBlock(p), diff: ctx.dryRun ? change.diff : undefined }
    })
    if (ctx.dryRun && !ctx.json) printDiffs(ctx, changes)
    return report(ctx, views, [])
  },
})

interface Ctx {
  cli: RunData
  all: boolean
  json: boolean
  dryRun: boolean
  systemd: boolean
}

const iso = (dates: Date[]) => dates.map((d) => d.toISOString())

function find(changes: CrontabChange[], molt: string) {
  for (const change of changes) for (const outcome of change.outcomes) if (outcome.molt === molt) return { change, outcome }
  throw new Error(`no outcome for ${molt}`)
}

function report(ctx: Ctx, views: (InstallView & { dry_run?: boolean })[], warnings: string[]): number {
  for (const w of warnings) ctx.cli.log.warn(w)
  for (const v of views) if (v.error) ctx.cli.log.error(`${v.molt}: ${v.error}`)
  // with --dry-run on a crontab the diff is the output; a table would only repeat it
  const shown = ctx.dryRun ? views.map((v) => ({ ...v, action: `would be ${v.action}` })) : views
  const diffShown = ctx.dryRun && !ctx.systemd
  if (ctx.json) printJson(ctx.cli, ctx.all ? views.map((v) => ({ ...v, dry_run: ctx.dryRun })) : { ...views[0], dry_run: ctx.dryRun })
  else if (ctx.all && !diffShown) ctx.cli.stdout(installTable(shown))
  else if (!diffShown) ctx.cli.stdout(installDetail(shown[0]!, ctx.cli.log.level === 'verbose' || ctx.dryRun))
  if (ctx.dryRun) ctx.cli.log.info('dry run: nothing was changed')
  return views.some((v) => v.error) ? 1 : 0
}

function printDiffs(ctx: Ctx, changes: CrontabChange[]): void {
  for (const c of changes) {
    if (!c.error) ctx.cli.stdout(c.diff ? `# crontab of ${c.user}\n${c.diff}` : `# crontab of ${c.user}: no change\n`)
  }
}

/** Per molt with a bash-toolkit entry in its target crontab: the request with that entry's settings. */
function legacyMigrations(molts: Molt[], targets: ScheduleTarget[], request: SetupRequest, given: GivenOptions): Map<string, ReturnType<typeof mergeLegacy>> {
  const crontabs = new Map<string, CrontabRead>()
  const out = new Map<string, ReturnType<typeof mergeLegacy>>()
  molts.forEach((molt, i) => {
    const target = targets[i]!
    if (!crontabs.has(target.user)) crontabs.set(target.user, readCrontab(target.crontabArg))
    const read = crontabs.get(target.user)!
    if (!read.ok) return // the edit reports it
    const entry = scanCrontab(read.text).entries.find((e) => e.molt === molt.name && e.kind === 'legacy')
    if (entry) out.set(molt.name, mergeLegacy(request, given, legacySettings(entry)))
  })
  return out
}

function prepareStateDir(cli: RunData, molt: Molt): void {
  try {
    const owner = moltOwner(molt) ?? undefined
    inHomeDir(molt.home, `${STATE_DIR}/x`, { owner, create: true }, () => {})
  } catch (error) {
    cli.log.warn(`${molt.name}: cannot create ${stateDir(molt.home)}: ${(error as Error).message}`)
  }
}

/** Two schedulers running the same watch would double every check and every alert. */
function warnOtherScheduler(ctx: Ctx, molt: string, target: ScheduleTarget): void {
  if (ctx.systemd) {
    const read = readCrontab(target.crontabArg)
    if (read.ok && scanCrontab(read.text).entries.some((e) => e.molt === molt)) ctx.cli.log.warn(`${molt}: the crontab of ${target.user} also runs its watch: remove it with \`clmnt molt health setup ${molt} --remove\``)
  } else if (existsSync(join(userUnitDir(target.home), unitNames(molt).timer))) {
    ctx.cli.log.warn(`${molt}: a systemd timer also runs its watch: remove it with \`clmnt molt health setup ${molt} --remove --scheduler systemd\``)
  }
}

function status(ctx: Ctx, molts: Molt[], targets: ScheduleTarget[]): number {
  const crontabs = new Map<string, CrontabRead>()
  const statuses = molts.map((molt, i) => {
    const target = targets[i]!
    if (ctx.systemd) return { ...systemdStatus(molt, target), where: `systemd user units of ${target.user}` }
    const where = `crontab of ${target.user}`
    if (!crontabs.has(target.user)) crontabs.set(target.user, readCrontab(target.crontabArg))
    const read = crontabs.get(target.user)!
    if (!read.ok) return { ...cronStatus(molt, target, ''), installed: false, where, error: crontabProblem(read.error) }
    return { ...cronStatus(molt, target, read.text), where }
  })
  for (const s of statuses) for (const w of s.warnings) ctx.cli.log.warn(`${s.molt}: ${w}`)
  if (ctx.json) printJson(ctx.cli, ctx.all ? statuses : statuses[0])
  else if (ctx.all) ctx.cli.stdout(statusTable(statuses))
  else ctx.cli.stdout(statusDetail(statuses[0]!))
  for (const s of statuses) if ('error' in s && s.error && (ctx.json || ctx.all)) ctx.cli.log.error(`${s.molt}: ${s.error}`)
  return statuses.every((s) => !('error' in s && s.error) && s.installed && s.command_exists !== false) ? 0 : 1
}

function remove(ctx: Ctx, molts: Molt[], targets: ScheduleTarget[]): number {
  if (ctx.systemd) {
    const outcomes = molts.map((m, i) => removeSystemd(m.name, targets[i]!, { dryRun: ctx.dryRun }))
    const views = outcomes.map((o) => ({ ...o, where: `systemd user units of ${o.user}`, schedule: '-', next_runs: [] }))
    return report(ctx, views, outcomes.flatMap((o) => o.warnings.map((w) => `${o.molt}: ${w}`)))
  }
  const changes = applyCronEdits(molts.map((m, i) => ({ molt: m.name, target: targets[i]!, block: null })), { dryRun: ctx.dryRun })
  const views = molts.map((m) => {
    const { change, outcome } = find(changes, m.name)
    return { ...outcome, where: `crontab of ${outcome.user}`, schedule: '-', next_runs: [], lines: outcome.removed.flatMap((r) => r.lines), diff: ctx.dryRun ? change.diff : undefined }
  })
  if (ctx.dryRun && !ctx.json) printDiffs(ctx, changes)
  else if (!ctx.json && !ctx.all) {
    const v = views[0]!
    const text = v.error ? `FAILED: ${v.error}` : v.action === 'absent' ? 'no entry; nothing to remove' : `removed ${v.lines.length} line(s)`
    ctx.cli.stdout(`${v.molt}: ${text} (${v.where})\n`)
    if (v.error) ctx.cli.log.error(v.error)
    return v.error ? 1 : 0
  }
  return report(ctx, views, [])
}
