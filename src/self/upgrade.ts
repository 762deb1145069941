import { discoverFleet } from '../fleet/discover.ts'
import { crontabProblem } from '../schedule/cron-setup.ts'
import { readCrontab, writeCrontab } from '../schedule/crontab.ts'
import { reloadCommand, runCommands, systemdAvailability } from '../schedule/systemd.ts'
import { scheduleTarget, type ScheduleTarget } from '../schedule/target.ts'
import { repointCrontab, repointService, writeService } from './repoint.ts'

/** One schedule pointed at the installed binary (or, with --dry-run, that would be). */
export interface RepointOutcome {
  molt: string
  scheduler: 'cron' | 'systemd'
  user: string
  from: string[]
  to: string[]
  error?: string
}

/**
 * Every schedule clmnt wrote for the fleet's molts — the crontabs and systemd user units setup
 * would have used — plus the invoking user's own crontab (fleet backup schedules live there).
 * Each crontab is read once, edited, written once and read back.
 */
export function repointSchedules(baseDir: string, program: string[], options: { dryRun: boolean }): { outcomes: RepointOutcome[]; warnings: string[] } {
  const outcomes: RepointOutcome[] = []
  const warnings: string[] = []
  const fleet = discoverFleet(baseDir)
  const targets = new Map<string, ScheduleTarget>()
  const own = scheduleTarget('')
  targets.set(own.user, own)
  for (const molt of fleet.molts) {
    let target: ScheduleTarget
    try {
      target = scheduleTarget(molt.name)
    } catch (error) {
      warnings.push(`${molt.name}: ${(error as Error).message}`)
      continue
    }
    targets.set(target.user, target)
    const service = repointService(target.home, molt.name, program)
    if (!service) continue
    const outcome: RepointOutcome = { ...service.change, scheduler: 'systemd', user: target.user }
    outcomes.push(outcome)
    if (options.dryRun) continue
    try {
      writeService(target.home, molt.name, service.content, { uid: target.uid, gid: target.gid })
      if (systemdAvailability().ok) {
        const reload = runCommands([reloadCommand(target)])
        if (!reload.ok) warnings.push(`${molt.name}: ${reload.error}: the timer runs the old path until systemd reloads`)
      }
    } catch (error) {
      outcome.error = `cannot write ${service.path}: ${(error as Error).message}`
    }
  }
  for (const target of targets.values()) {
    const read = readCrontab(target.crontabArg)
    if (!read.ok) {
      warnings.push(`crontab of ${target.user}: ${crontabProblem(read.error)}`)
      continue
    }
    const { text, changed } = repointCrontab(read.text, program)
    const mine = changed.map((c) => ({ ...c, scheduler: 'cron' as const, user: target.user }) as RepointOutcome)
    outcomes.push(...mine)
    if (!changed.length || options.dryRun) continue
    const written = writeCrontab(text, target.crontabArg)
    const back = written.ok ? readCrontab(target.crontabArg) : null
    const error = !written.ok ? crontabProblem(written.error) : !back?.ok || back.text !== text ? 'crontab was written but reads back different: check it with crontab -l' : undefined
    if (error) for (const o of mine) o.error = error
  }
  return { outcomes, warnings }
}
