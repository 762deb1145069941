import { spawn } from 'node:child_process'
import type { Molt } from '../fleet/discover.ts'
import { findRunuser } from '../health/restart.ts'
import { DEFAULT_INTERVAL_MINUTES } from '../health/status.ts'
import { readWatchState, type WatchState } from '../health/watch-state.ts'
import { formatAgo } from '../lib/duration.ts'
import { cronStatus, crontabProblem, type CronStatus } from '../schedule/cron-setup.ts'
import { readCrontab, type CrontabRead } from '../schedule/crontab.ts'
import { systemdStatus, type SystemdStatus } from '../schedule/systemd-setup.ts'
import { scheduleTarget, type ScheduleTarget } from '../schedule/target.ts'
import { alertChecks, type AlertShared } from './alert.ts'
import type { DoctorContext } from './context.ts'
import { fail, ok, skip, warn, type Finding } from './types.ts'

/** Read once per run, shared by every molt: crontabs per user, `--version` per command and user. */
export interface MonitoringShared extends AlertShared {
  crontabs: Map<string, CrontabRead>
  versions: Map<string, Promise<{ ok: true; version: string } | { ok: false; error: string }>>
}

export function monitoringShared(): MonitoringShared {
  return { crontabs: new Map(), versions: new Map(), testAlerts: new Map() }
}

type Schedule = CronStatus | SystemdStatus

/** Monitoring of one molt: the schedule that runs its watch, that watch's traces, and its alert route. */
export async function monitoringChecks(molt: Molt, ctx: DoctorContext, shared: MonitoringShared): Promise<Finding[]> {
  let target: ScheduleTarget
  try {
    target = scheduleTarget(molt.name)
  } catch (error) {
    return [fail('monitoring.schedule', 'watch schedule', (error as Error).message, 'fix the user it names')]
  }
  const { finding, schedule } = scheduleCheck(molt, target, ctx, shared)
  const watch = readWatchState(molt.home)
  const findings = [finding, await binaryCheck(schedule, target, ctx, shared), lastRunCheck(schedule, watch.state, ctx), watchStateCheck(watch)]
  findings.push(...(await alertChecks(molt, ctx, target, schedule?.command ?? null, shared)))
  return findings
}

function scheduleCheck(molt: Molt, target: ScheduleTarget, ctx: DoctorContext, shared: MonitoringShared): { finding: Finding; schedule: Schedule | null } {
  const id = 'monitoring.schedule'
  const title = 'watch schedule'
  if (!shared.crontabs.has(target.user)) shared.crontabs.set(target.user, readCrontab(target.crontabArg))
  const read = shared.crontabs.get(target.user)!
  const cron = read.ok ? cronStatus(molt, target, read.text) : null
  const systemd = systemdStatus(molt, target)
  const setup = `clmnt molt health setup ${molt.name}`
  if (cron?.installed && systemd.installed) {
    return { finding: warn(id, title, `both the crontab and a systemd timer of ${target.user} run the watch: every alert comes twice`, `keep one: ${setup} --remove, or --scheduler systemd --remove`), schedule: cron }
  }
  if (cron?.installed) {
    const where = `crontab of ${target.user}: ${cron.schedule ?? cron.lines.slice(1).join('; ')}`
    if (!cronDaemonRunning(ctx)) return { finding: warn(id, title, `${where}; but no cron daemon runs on this host`, 'start it: systemctl enable --now cron (or service cron start)'), schedule: cron }
    if (cron.kind === 'legacy') return { finding: warn(id, title, `${where} (bash toolkit entry)`, `replace it: ${setup}`), schedule: cron }
    if (cron.cron_err) return { finding: warn(id, title, `${where}; the last run said: ${cron.cron_err.split('\n').at(-1)}`, `read ${molt.home}/.molt-state/cron.err and fix what it says`), schedule: cron }
    if (cron.warnings.length) return { finding: warn(id, title, `${where}; ${cron.warnings[0]}`, `${setup} --status shows the entry`), schedule: cron }
    return { finding: ok(id, title, where), schedule: cron }
  }
  if (systemd.installed) {
    const where = `systemd timer of ${target.user}: ${systemd.schedule ?? 'schedule unknown'}`
    if (systemd.enabled !== null && !/^enabled/.test(systemd.enabled)) return { finding: warn(id, title, `${where}, ${systemd.enabled}`, `enable it: ${setup} --scheduler systemd`), schedule: systemd }
    return { finding: ok(id, title, `${where}${systemd.enabled ? `, ${systemd.enabled}` : ''}${systemd.active ? `, ${systemd.active}` : ''}`), schedule: systemd }
  }
  if (!read.ok) return { finding: fail(id, title, `cannot read the crontab of ${target.user}: ${crontabProblem(read.error)}`, 'install cron (apt-get install cron), or use --scheduler systemd'), schedule: null }
  return { finding: warn(id, title, `none for ${molt.name} (crontab and systemd timers of ${target.user}): nobody is told when it goes down`, `install it: ${setup}`), schedule: null }
}

function cronDaemonRunning(ctx: DoctorContext): boolean {
  return ctx.processes.all().some((p) => /(^|\/)(cron|crond|cronie)(\s|$)/.test(p.cmdline) || /busybox crond/.test(p.cmdline))
}

/**
 * The scheduled command must exist and start — as the user who runs it, with cron's bare
 * environment: a binary under /root, or one that needs $PATH, fails there and nowhere else.
 */
async function binaryCheck(schedule: Schedule | null, target: ScheduleTarget, ctx: DoctorContext, shared: MonitoringShared): Promise<Finding> {
  const id = 'monitoring.binary'
  const title = 'scheduled clmnt'
  if (!schedule?.command) return skip(id, title, 'no schedule')
  const legacy = schedule.scheduler === 'cron' && schedule.kind === 'legacy'
  const argv = schedule.command.slice(0, schedule.command.indexOf('molt') > 0 ? schedule.command.indexOf('molt') : 1)
  const shown = argv.join(' ')
  if (schedule.command_exists === false) return fail(id, title, `${shown} does not exist`, `install clmnt there, or run setup again from the clmnt to use: clmnt molt health setup ${schedule.molt}`)
  // the bash toolkit's script is no clmnt: it would take --version for a check and maybe an alert
  if (legacy) return warn(id, title, `${shown} exists (a bash toolkit script: not run)`, `replace it: clmnt molt health setup ${schedule.molt}`)
  const asOther = ctx.uid === 0 && target.uid !== 0
  const key = `${target.user}\0${argv.join('\0')}`
  if (!shared.versions.has(key)) shared.versions.set(key, runVersion(argv, target, asOther, ctx.binaryTimeoutMs))
  const run = await shared.versions.get(key)!
  const as = asOther ? ` as ${target.user}` : ''
  if (!run.ok) return fail(id, title, `${shown} --version${as}: ${run.error}`, `make it runnable by ${target.user} (read and execute rights on every folder of its path)`)
  const mine = ctx.version.replace(/^clmnt /, '')
  if (run.version !== mine) return warn(id, title, `${shown} runs${as}, but is clmnt ${run.version}; this is ${mine}`, `run setup again with the clmnt you mean to schedule: clmnt molt health setup ${schedule.molt}`)
  return ok(id, title, `${shown} runs${as}: clmnt ${run.version}`)
}

async function runVersion(argv: string[], target: ScheduleTarget, asOther: boolean, timeoutMs: number): Promise<{ ok: true; version: string } | { ok: false; error: string }> {
  const command = asOther ? [findRunuser(), '-u', target.user, '--', ...argv, '--version'] : [...argv, '--version']
  // what cron gives a job: no login environment, a short PATH
  const env = { PATH: '/usr/bin:/bin', HOME: target.home, LOGNAME: target.user, SHELL: '/bin/sh', LANG: 'C.UTF-8' }
  return new Promise((resolve) => {
    const child = spawn(command[0]!, command.slice(1), { env, cwd: '/', stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer)
      resolve({ ok: false, error: error.code ?? error.message })
    })
    child.once('close', (code, signal) => {
      clearTimeout(timer)
      const version = /^clmnt (\S+)/.exec(stdout.trim())?.[1]
      if (signal === 'SIGKILL') resolve({ ok: false, error: `no answer within ${timeoutMs} ms` })
      else if (code !== 0 || !version) {
        const said = (stderr.trim() || stdout.trim()).split('\n')[0]?.slice(0, 200)
        resolve({ ok: false, error: `exit ${code ?? signal}${said ? `: ${said}` : ''}` })
      } else resolve({ ok: true, version })
    })
  })
}

function lastRunCheck(schedule: Schedule | null, state: WatchState | null, ctx: DoctorContext): Finding {
  const id = 'monitoring.last-run'
  const title = 'last watch run'
  const interval = schedule?.interval ?? state?.interval_minutes ?? DEFAULT_INTERVAL_MINUTES
  const last = state?.last_check ? Date.parse(state.last_check) : Number.NaN
  if (Number.isNaN(last)) {
    if (!schedule) return skip(id, title, 'no schedule, and no run recorded')
    return fail(id, title, 'never: no run recorded in health-watch-state.json', 'is the scheduler running? Run the scheduled line by hand to see its error')
  }
  const age = `${formatAgo(last, ctx.now)} (every ${interval} min)`
  if (ctx.now - last > 3 * interval * 60_000) {
    const detail = `${age}: more than 3 intervals ago`
    if (!schedule) return warn(id, title, `${detail}; nothing schedules it any more`, 'install the schedule: clmnt molt health setup <name>')
    return fail(id, title, `${detail}: the schedule does not run`, 'check the scheduler (cron running? the job line?) and .molt-state/health.log')
  }
  return ok(id, title, age)
}

function watchStateCheck(watch: { state: WatchState | null; warning?: string }): Finding {
  const id = 'monitoring.watch-state'
  const title = 'watch state'
  if (watch.warning) return warn(id, title, watch.warning, 'the next watch run starts afresh (its failure count is lost); delete the file if it stays unreadable')
  const state = watch.state
  if (!state) return skip(id, title, 'none yet: no watch has run')
  const waiting = (state.outbox ?? []).filter((n) => n.attempts > 0 && !Object.keys(n.delivered).length)
  if (waiting.length) {
    const last = waiting.at(-1)!
    return warn(id, title, `${waiting.length} alert notice(s) not delivered: ${last.kind}: ${last.last_error ?? 'no channel took it'}`, 'fix the alert route (see below); the watch retries every run')
  }
  const phase = state.phase ?? (state.consecutive_failures ? 'failing' : 'up')
  return ok(id, title, `readable: ${phase}, ${state.consecutive_failures} consecutive failure(s)${state.incident ? `, incident since ${state.incident.id}` : ''}`)
}
