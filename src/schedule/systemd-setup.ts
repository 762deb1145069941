import { join } from 'node:path'
import type { Molt } from '../fleet/discover.ts'
import { inHomeDir } from '../lib/safe-fs.ts'
import { readHomeFile, statHomeFile } from '../lib/safe-read.ts'
import { nextRuns, planSchedule } from './cron-expr.ts'
import { commandExists, lastRun, type MoltPlan, type ScheduleStatusBase } from './plan.ts'
import {
  describeTimer, disableCommands, enableCommands, formatCommand, readExecStart, readTimerMarker, reloadCommand,
  renderUnits, runCommands, stopCommand, systemdAvailability, timerState, unitNames, userUnitDir,
} from './systemd.ts'
import type { ScheduleTarget } from './target.ts'

export type SystemdAction = 'installed' | 'replaced' | 'unchanged' | 'removed' | 'absent' | 'failed'

export interface SystemdOutcome {
  molt: string
  user: string
  action: SystemdAction
  dir: string
  /** unit files written (or, with --dry-run, that would be) and their content */
  units: { path: string; content: string }[]
  /** the timer was enabled (or disabled) here through systemctl */
  systemctl: boolean
  /** commands the operator still has to run (systemctl unavailable here), or that --dry-run would run */
  commands: string[]
  error?: string
  warnings: string[]
}

/** The units live in the user's home (a molt's, as a rule): every path below it goes through safe-fs.ts. */
const UNIT_REL = '.config/systemd/user'

const paths = (target: ScheduleTarget, molt: string) => {
  const dir = userUnitDir(target.home)
  const names = unitNames(molt)
  return {
    dir,
    service: join(dir, names.service),
    timer: join(dir, names.timer),
    wants: join(dir, 'timers.target.wants', names.timer),
    rel: { service: `${UNIT_REL}/${names.service}`, timer: `${UNIT_REL}/${names.timer}`, wants: `${UNIT_REL}/timers.target.wants/${names.timer}` },
  }
}

/** A unit file of the user's home: never through a link, never a FIFO; null when absent or unusable. */
const read = (home: string, rel: string) => {
  try {
    return readHomeFile(home, rel, { maxBytes: 64 * 1024 })
  } catch {
    return null
  }
}

export function installSystemd(p: MoltPlan, options: { dryRun: boolean }): SystemdOutcome {
  const { target } = p
  const at = paths(target, p.molt.name)
  const units = renderUnits({ molt: p.molt.name, plan: p.plan, argv: p.argv })
  const before = { service: read(target.home, at.rel.service), timer: read(target.home, at.rel.timer) }
  const action: SystemdAction = before.service === null && before.timer === null ? 'installed' : before.service === units.service && before.timer === units.timer ? 'unchanged' : 'replaced'
  const outcome: SystemdOutcome = {
    molt: p.molt.name, user: target.user, action, dir: at.dir, systemctl: false, commands: [], warnings: [],
    units: [{ path: at.service, content: units.service }, { path: at.timer, content: units.timer }],
  }
  const commands = enableCommands(target, p.molt.name)
  if (options.dryRun) return { ...outcome, commands: commands.map(formatCommand) }
  try {
    // as the user, never through a link it planted (a ~/.config pointing at /etc/systemd would do)
    const owner = { uid: target.uid, gid: target.gid }
    inHomeDir(target.home, `${UNIT_REL}/-`, { owner, create: true }, (dir) => {
      dir.writeAtomic(unitNames(p.molt.name).service, units.service)
      dir.writeAtomic(unitNames(p.molt.name).timer, units.timer)
    })
  } catch (error) {
    return { ...outcome, action: 'failed', error: `cannot write the units in ${at.dir}: ${(error as Error).message}` }
  }
  return enable(outcome, commands)
}

function enable(outcome: SystemdOutcome, [linger, ...rest]: string[][]): SystemdOutcome {
  const available = systemdAvailability()
  if (!available.ok) {
    outcome.warnings.push(`units written but not enabled: ${available.reason}`)
    return { ...outcome, commands: [linger!, ...rest].map(formatCommand) }
  }
  const lingering = runCommands([linger!])
  if (!lingering.ok) outcome.warnings.push(`${lingering.error}: the timer stops when ${outcome.user} logs out`)
  const ran = runCommands(rest)
  if (!ran.ok) return { ...outcome, action: 'failed', error: `units written but not enabled: ${ran.error}`, commands: rest.map(formatCommand) }
  return { ...outcome, systemctl: true }
}

export function removeSystemd(molt: string, target: ScheduleTarget, options: { dryRun: boolean }): SystemdOutcome {
  const at = paths(target, molt)
  const owner = { uid: target.uid, gid: target.gid }
  const present = [at.rel.service, at.rel.timer].filter((rel) => isThere(target.home, rel, 'file'))
  const linked = isThere(target.home, at.rel.wants, 'link')
  const outcome: SystemdOutcome = { molt, user: target.user, action: present.length || linked ? 'removed' : 'absent', dir: at.dir, units: [], systemctl: false, commands: [], warnings: [] }
  if (outcome.action === 'absent') return outcome
  const disable = disableCommands(target, molt)
  const reload = reloadCommand(target)
  if (options.dryRun) return { ...outcome, commands: [...disable, reload].map(formatCommand) }
  const available = systemdAvailability()
  if (available.ok) {
    const ran = runCommands(disable)
    // a timer that was never loaded cannot be disabled; its files still go
    if (!ran.ok) outcome.warnings.push(ran.error)
  }
  try {
    for (const rel of [...present, ...(linked ? [at.rel.wants] : [])]) inHomeDir(target.home, rel, { owner }, (dir, name) => dir.unlink(name))
  } catch (error) {
    return { ...outcome, action: 'failed', error: `cannot remove the units from ${at.dir}: ${(error as Error).message}` }
  }
  if (!available.ok) {
    // the files and the enabling link are gone; a manager elsewhere may still have the timer loaded
    outcome.warnings.push(`units removed; ${available.reason}: where a user manager runs, stop the timer`)
    return { ...outcome, commands: [stopCommand(target, molt), reload].map(formatCommand) }
  }
  const reloaded = runCommands([reload])
  if (!reloaded.ok) outcome.warnings.push(reloaded.error)
  return { ...outcome, systemctl: true }
}

/** A regular file, or the enabling symlink, at `rel`: looked at without following anything. */
function isThere(home: string, rel: string, kind: 'file' | 'link'): boolean {
  try {
    const st = statHomeFile(home, rel)
    return Boolean(st && (kind === 'file' ? st.isFile() : st.isSymbolicLink()))
  } catch {
    return false
  }
}

export interface SystemdStatus extends ScheduleStatusBase {
  scheduler: 'systemd'
  dir: string
  /** systemctl --user is-enabled / is-active; null when systemctl cannot be asked here */
  enabled: string | null
  active: string | null
}

export function systemdStatus(molt: Molt, target: ScheduleTarget, now = new Date()): SystemdStatus {
  const at = paths(target, molt.name)
  const service = read(target.home, at.rel.service)
  const timer = read(target.home, at.rel.timer)
  const status: SystemdStatus = {
    molt: molt.name, scheduler: 'systemd', user: target.user, installed: service !== null && timer !== null, dir: at.dir,
    interval: null, offset: null, schedule: null, note: null, next_runs: [], command: null, command_exists: null,
    enabled: null, active: null, last_run: lastRun(molt.home), warnings: [],
  }
  if ((service === null) !== (timer === null)) status.warnings.push(`only one of ${unitNames(molt.name).service} and .timer exists in ${at.dir}`)
  const marker = timer ? readTimerMarker(timer) : null
  if (marker && marker.interval >= 1 && marker.interval <= 1440 && marker.offset < marker.interval) {
    const plan = planSchedule(marker.interval, marker.offset)
    Object.assign(status, { interval: plan.interval, offset: plan.offset, schedule: describeTimer(plan) })
    // monotonic timers (non-exact intervals) run relative to their last start: no clock times to show
    if (plan.exact) status.next_runs = nextRuns(plan.expressions, 3, now).map((d) => d.toISOString())
    else status.note = `${plan.interval} does not divide a day: a monotonic timer keeps the interval exact, not aligned to the clock`
  } else if (timer) status.warnings.push('the timer was not written by clmnt (no "# clmnt:" line): schedule unknown')
  status.command = service ? readExecStart(service) : null
  status.command_exists = status.command ? commandExists(status.command) : null
  if (status.installed) {
    const state = timerState(target, molt.name)
    if (state) Object.assign(status, state)
    else status.enabled = isThere(target.home, at.rel.wants, 'link') ? 'enabled (link present; systemd not running here)' : null
  }
  return status
}
