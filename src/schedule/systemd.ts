import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import serviceTemplate from '../../templates/systemd/clmnt-health.service' with { type: 'text' }
import timerTemplate from '../../templates/systemd/clmnt-health.timer' with { type: 'text' }
import { describeSchedule, onCalendar, type SchedulePlan } from './cron-expr.ts'
import { assertSchedulable, shQuote, systemdQuote } from './job.ts'
import type { ScheduleTarget } from './target.ts'

/**
 * A user service + timer pair per molt. An interval that divides the day becomes OnCalendar=
 * lines, clock-aligned exactly like the crontab lines (same minutes, same offset). Any other
 * interval — where cron has to restart the cycle at midnight — becomes a monotonic timer
 * (OnActiveSec=offset, OnUnitActiveSec=interval): systemd can keep that exact, cron cannot.
 */

export const unitNames = (molt: string) => ({ service: `clmnt-health-${molt}.service`, timer: `clmnt-health-${molt}.timer` })
export const userUnitDir = (home: string) => join(home, '.config', 'systemd', 'user')

export function timerSchedule(plan: SchedulePlan): string[] {
  if (plan.exact) return plan.slots.map((slot) => `OnCalendar=${onCalendar(slot)}`)
  return [`OnActiveSec=${plan.offset ? `${plan.offset}min` : '0'}`, `OnUnitActiveSec=${plan.interval}min`]
}

export function describeTimer(plan: SchedulePlan): string {
  if (plan.exact) return describeSchedule(plan)
  return `every ${plan.interval} minutes after the previous start (the first ${plan.offset} min after the timer starts)`
}

export function renderTemplate(template: string, values: Record<string, string>): string {
  const out = template.replace(/\{\{(\w+)\}\}/g, (_, key: string) => {
    const value = values[key]
    if (value === undefined) throw new Error(`template value {{${key}}} missing`)
    return value
  })
  return out
}

export function renderUnits(o: { molt: string; plan: SchedulePlan; argv: string[] }): { service: string; timer: string } {
  for (const arg of o.argv) assertSchedulable(arg, 'value')
  const words = describeTimer(o.plan)
  const values = {
    name: o.molt,
    exec_start: o.argv.map(systemdQuote).join(' '),
    // a run should take seconds; one that outlives the interval (or 15 min) is hung
    timeout_minutes: String(Math.min(o.plan.interval, 15)),
    interval: String(o.plan.interval),
    offset: String(o.plan.offset),
    words: words.replaceAll('%', '%%'),
    schedule: timerSchedule(o.plan).join('\n'),
  }
  return { service: renderTemplate(serviceTemplate, values), timer: renderTemplate(timerTemplate, values) }
}

/** interval and offset from the `# clmnt: every N min, offset O` line of a timer we wrote. */
export function readTimerMarker(timer: string): { interval: number; offset: number } | null {
  const match = /^# clmnt: every (\d+) min, offset (\d+)$/m.exec(timer)
  return match ? { interval: Number(match[1]), offset: Number(match[2]) } : null
}

/** The executable of ExecStart= in a service we wrote (its first double-quoted word). */
export function readExecStart(service: string): string[] | null {
  const line = /^ExecStart=(.*)$/m.exec(service)?.[1]
  if (!line) return null
  const words = [...line.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]!.replace(/\\(.)/g, '$1').replaceAll('%%', '%').replaceAll('$$', '$'))
  return words.length ? words : null
}

/** Whether `systemctl --user` can work here: systemd must be PID 1 (sd_booted) and systemctl present. */
export function systemdAvailability(): { ok: true } | { ok: false; reason: string } {
  if (!existsSync('/run/systemd/system')) return { ok: false, reason: 'systemd is not running on this host (no /run/systemd/system)' }
  const probe = spawnSync('systemctl', ['--version'], { encoding: 'utf8', timeout: 10_000 })
  if (probe.error || probe.status !== 0) return { ok: false, reason: 'systemctl is not installed' }
  return { ok: true }
}

/**
 * `systemctl --user` for the target's manager. As root for another user: through runuser, with
 * the runtime dir and bus that manager listens on (machinectl would need systemd-container).
 */
export function userSystemctl(target: ScheduleTarget): string[] {
  if (target.uid === (process.getuid?.() ?? -1)) return ['systemctl', '--user']
  const runtime = `/run/user/${target.uid}`
  return ['runuser', '-u', target.user, '--', 'env', `XDG_RUNTIME_DIR=${runtime}`, `DBUS_SESSION_BUS_ADDRESS=unix:path=${runtime}/bus`, 'systemctl', '--user']
}

/** Lingering keeps the user's manager (and its timers) running without a login session. */
export function enableCommands(target: ScheduleTarget, molt: string): string[][] {
  const ctl = userSystemctl(target)
  return [['loginctl', 'enable-linger', target.user], [...ctl, 'daemon-reload'], [...ctl, 'enable', '--now', unitNames(molt).timer]]
}

export function disableCommands(target: ScheduleTarget, molt: string): string[][] {
  return [[...userSystemctl(target), 'disable', '--now', unitNames(molt).timer]]
}

export function stopCommand(target: ScheduleTarget, molt: string): string[] {
  return [...userSystemctl(target), 'stop', unitNames(molt).timer]
}

export function reloadCommand(target: ScheduleTarget): string[] {
  return [...userSystemctl(target), 'daemon-reload']
}

export const formatCommand = (argv: string[]) => argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : shQuote(a))).join(' ')

/** Run commands in order; stop at the first failure. */
export function runCommands(commands: string[][]): { ok: true } | { ok: false; error: string } {
  for (const argv of commands) {
    // a freshly lingering user's manager needs a moment before its bus answers
    for (let attempt = 0; ; attempt++) {
      const result = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 30_000 })
      if (!result.error && result.status === 0) break
      if (attempt < 5 && argv.includes('--user') && /bus|connect/i.test(result.stderr ?? '')) {
        Bun.sleepSync(1000)
        continue
      }
      const why = result.error ? (result.error as NodeJS.ErrnoException).code ?? result.error.message : (result.stderr ?? '').trim().split('\n')[0] || `exit ${result.status}`
      return { ok: false, error: `${formatCommand(argv)} failed: ${why}` }
    }
  }
  return { ok: true }
}

/** `systemctl --user is-enabled/is-active` of the timer; null when systemctl cannot be asked. */
export function timerState(target: ScheduleTarget, molt: string): { enabled: string; active: string } | null {
  if (!systemdAvailability().ok) return null
  const ask = (verb: string) => {
    const argv = [...userSystemctl(target), verb, unitNames(molt).timer]
    const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8', timeout: 10_000 })
    return r.error ? 'unknown' : r.stdout.trim() || 'unknown'
  }
  return { enabled: ask('is-enabled'), active: ask('is-active') }
}
