import { existsSync, readFileSync, unlinkSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import serviceTemplate from '../../templates/systemd/clmnt-backup.service' with { type: 'text' }
import timerTemplate from '../../templates/systemd/clmnt-backup.timer' with { type: 'text' }
import { ensureDir, writeFileAtomic } from '../lib/atomic.ts'
import { backupEntries, backupUnitNames, cronBlock, describeBackupTime, onCalendar, setBackupEntry, type BackupTime } from './backup-schedule.ts'
import { crontabProblem } from './cron-setup.ts'
import { readCrontab, writeCrontab } from './crontab.ts'
import { diffCrontab } from './crontab-edit.ts'
import { assertSchedulable, systemdQuote } from './job.ts'
import { formatCommand, renderTemplate, runCommands, systemdAvailability } from './systemd.ts'

export interface BackupScheduleOutcome {
  scheduler: 'cron' | 'systemd'
  action: 'installed' | 'replaced' | 'unchanged' | 'removed' | 'absent'
  schedule: string | null
  /** the crontab lines, or the unit files */
  where: string
  lines: string[]
  diff?: string
  /** what is left to run by hand (systemd not running here), or what --dry-run would run */
  commands: string[]
  warnings: string[]
}

/** The invoking user's crontab; `time` null removes the base dir's entry. */
export function scheduleBackupCron(baseDir: string, time: BackupTime | null, argv: string[], options: { dryRun: boolean }): BackupScheduleOutcome {
  const read = readCrontab()
  if (!read.ok) throw new Error(crontabProblem(read.error))
  const block = time ? cronBlock(baseDir, time, argv) : null
  const { text, found } = setBackupEntry(read.text, baseDir, block)
  const action = !time ? (found ? 'removed' : 'absent') : text === read.text ? 'unchanged' : found ? 'replaced' : 'installed'
  const outcome: BackupScheduleOutcome = {
    scheduler: 'cron', action, schedule: time ? describeBackupTime(time) : null, where: 'your crontab', lines: block ?? [],
    diff: diffCrontab(read.text, text), commands: [], warnings: [],
  }
  if (options.dryRun || text === read.text) return outcome
  const written = writeCrontab(text)
  if (!written.ok) throw new Error(crontabProblem(written.error))
  const back = readCrontab()
  if (!back.ok || backupEntries(back.text).filter((e) => e.baseDir === baseDir).length !== (time ? 1 : 0)) throw new Error('crontab was written but reads back different: check it with crontab -l')
  return outcome
}

/** As root, system units in /etc/systemd/system; else user units (they need lingering to run logged out). */
function unitPlace(): { dir: string; ctl: string[]; system: boolean } {
  const root = process.getuid?.() === 0
  return root ? { dir: '/etc/systemd/system', ctl: ['systemctl'], system: true } : { dir: join(homedir(), '.config', 'systemd', 'user'), ctl: ['systemctl', '--user'], system: false }
}

export function scheduleBackupSystemd(baseDir: string, time: BackupTime | null, argv: string[], options: { dryRun: boolean; unitDir?: string }): BackupScheduleOutcome {
  const place = unitPlace()
  const dir = options.unitDir ?? place.dir
  const names = backupUnitNames(baseDir)
  const paths = { service: join(dir, names.service), timer: join(dir, names.timer) }
  const read = (p: string) => (existsSync(p) ? readFileSync(p, 'utf8') : null)
  const before = { service: read(paths.service), timer: read(paths.timer) }
  const warnings: string[] = []
  if (!time) {
    const found = before.service !== null || before.timer !== null
    const commands = [[...place.ctl, 'disable', '--now', names.timer]]
    const outcome: BackupScheduleOutcome = { scheduler: 'systemd', action: found ? 'removed' : 'absent', schedule: null, where: dir, lines: [], commands: [], warnings }
    if (!found || options.dryRun) return { ...outcome, commands: found ? commands.map(formatCommand) : [] }
    if (systemdAvailability().ok) runCommands(commands)
    for (const p of Object.values(paths)) if (existsSync(p)) unlinkSync(p)
    return outcome
  }
  for (const arg of argv) assertSchedulable(arg, 'value')
  const values = { base_dir: baseDir.replaceAll('%', '%%'), exec_start: argv.map(systemdQuote).join(' '), words: describeBackupTime(time), on_calendar: onCalendar(time), service: names.service }
  const units = { service: renderTemplate(serviceTemplate, values), timer: renderTemplate(timerTemplate, values) }
  const action = before.service === null && before.timer === null ? 'installed' : before.service === units.service && before.timer === units.timer ? 'unchanged' : 'replaced'
  const commands = [[...place.ctl, 'daemon-reload'], [...place.ctl, 'enable', '--now', names.timer]]
  const outcome: BackupScheduleOutcome = { scheduler: 'systemd', action, schedule: describeBackupTime(time), where: dir, lines: [paths.service, paths.timer], commands: [], warnings }
  if (options.dryRun) return { ...outcome, commands: commands.map(formatCommand) }
  ensureDir(dir)
  writeFileAtomic(paths.service, units.service)
  writeFileAtomic(paths.timer, units.timer)
  const available = systemdAvailability()
  if (!available.ok) {
    warnings.push(`units written but not enabled: ${available.reason}`)
    return { ...outcome, commands: commands.map(formatCommand) }
  }
  const ran = runCommands(commands)
  if (!ran.ok) throw new Error(`units written but not enabled: ${ran.error}`)
  if (!place.system) warnings.push('user units run only while you are logged in, unless lingering is on: loginctl enable-linger')
  return outcome
}
