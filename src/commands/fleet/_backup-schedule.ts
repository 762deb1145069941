import { resolve } from 'node:path'
import { UsageError } from '../../lib/errors.ts'
import type { RunData } from '../../runner.ts'
import { backupTime, type Frequency } from '../../schedule/backup-schedule.ts'
import { scheduleBackupCron, scheduleBackupSystemd } from '../../schedule/backup-setup.ts'
import { clmntCommand, isExecutableFile } from '../../schedule/job.ts'
import { listArg, printJson } from '../_shared.ts'

/** The backup options a scheduled run gets: the ones given now, with absolute paths. */
export function scheduledBackupArgs(args: Record<string, unknown>, baseDir: string): string[] {
  const out = ['fleet', 'backup', '--base-dir', baseDir]
  if (typeof args.output === 'string') out.push('--output', resolve(args.output) + (args.output.endsWith('/') ? '/' : ''))
  if (args.select !== undefined) out.push('--select', listArg(args.select).join(','))
  for (const flag of ['exclude-maildir', 'exclude-logs', 'allow-partial'] as const) if (args[flag] === true) out.push(`--${flag}`)
  if (args['compress-level'] !== undefined) out.push('--compress-level', String(args['compress-level']))
  if (args.compression !== undefined && args.compression !== 'gzip') out.push('--compression', String(args.compression))
  if (args.incremental === true) out.push('--incremental')
  if (typeof args['full-every'] === 'string') out.push('--full-every', args['full-every'])
  if (typeof args.keep === 'string') out.push('--keep', args.keep)
  if (typeof args.to === 'string') out.push('--to', args.to)
  if (typeof args['prom-file'] === 'string') out.push('--prom-file', resolve(args['prom-file']))
  // a good run prints a summary nobody reads; errors still reach stderr (cron mails them)
  out.push('-q')
  return out
}

export function runBackupSchedule(cli: RunData, args: Record<string, unknown>): number {
  const frequency = args.schedule as Frequency | 'off'
  if (frequency === 'off' && args.at !== undefined) throw new UsageError('--at only applies with --schedule hourly|daily|weekly')
  const time = frequency === 'off' ? null : backupTime(frequency, typeof args.at === 'string' ? args.at : undefined)
  const { dir } = cli.baseDir()
  const clmnt = clmntCommand()
  if (clmnt.warning) cli.log.warn(clmnt.warning)
  const argv = [...clmnt.argv, ...scheduledBackupArgs(args, dir)]
  const dryRun = args['dry-run'] === true
  let outcome
  try {
    outcome = args.scheduler === 'systemd' ? scheduleBackupSystemd(dir, time, argv, { dryRun }) : scheduleBackupCron(dir, time, argv, { dryRun })
  } catch (error) {
    cli.log.error((error as Error).message)
    return 1
  }
  for (const w of outcome.warnings) cli.log.warn(w)
  if (args.json === true) {
    printJson(cli, { ...outcome, base_dir: dir, command: argv, dry_run: dryRun })
    return 0
  }
  const verb = dryRun ? `would be ${outcome.action}` : outcome.action
  cli.stdout(`fleet backup schedule for ${dir}: ${verb} (${outcome.scheduler}, ${outcome.where})\n`)
  if (outcome.schedule) cli.stdout(`  schedule  ${outcome.schedule} (local time)\n  command   ${argv.join(' ')}\n`)
  if (dryRun && outcome.diff) cli.stdout(outcome.diff)
  for (const c of outcome.commands) cli.stdout(`  ${dryRun ? 'would run' : 'run by hand'}  ${c}\n`)
  if (!isExecutableFile(argv[0]!)) cli.log.warn(`${argv[0]} is not an executable file: the schedule would fail`)
  if (dryRun) cli.log.info('dry run: nothing was changed')
  return 0
}
