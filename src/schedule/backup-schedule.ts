import { join } from 'node:path'
import { InputError, UsageError, quote } from '../lib/errors.ts'
import { joinLines, replaceSpans, splitLines } from './crontab-edit.ts'
import { cronCommand } from './job.ts'
import { fnv1a } from './plan.ts'

/**
 * `clmnt fleet backup --schedule daily|weekly|hourly`: one scheduled backup per base dir, in the
 * invoking user's crontab (a block: a marker naming the base dir, then the job line) or as a
 * systemd service + timer. Pure text functions here; backup-setup.ts does the I/O.
 */

export const FREQUENCIES = ['hourly', 'daily', 'weekly'] as const
export type Frequency = (typeof FREQUENCIES)[number]

export interface BackupTime {
  frequency: Frequency
  hour: number
  minute: number
}

export const DEFAULT_AT = '03:30'

export function backupTime(frequency: Frequency, at = DEFAULT_AT): BackupTime {
  const match = /^([01]?\d|2[0-3]):([0-5]\d)$/.exec(at.trim())
  if (!match) throw new UsageError(`invalid value ${quote(at)} for --at: expected a local time like 03:30`)
  return { frequency, hour: Number(match[1]), minute: Number(match[2]) }
}

const pad = (n: number) => String(n).padStart(2, '0')

export function describeBackupTime(t: BackupTime): string {
  if (t.frequency === 'hourly') return `hourly at :${pad(t.minute)}`
  return `${t.frequency === 'daily' ? 'daily' : 'weekly on Sunday'} at ${pad(t.hour)}:${pad(t.minute)}`
}

export function cronExpression(t: BackupTime): string {
  if (t.frequency === 'hourly') return `${t.minute} * * * *`
  return `${t.minute} ${t.hour} * * ${t.frequency === 'weekly' ? '0' : '*'}`
}

export function onCalendar(t: BackupTime): string {
  if (t.frequency === 'hourly') return `*-*-* *:${pad(t.minute)}:00`
  return `${t.frequency === 'weekly' ? 'Sun ' : ''}*-*-* ${pad(t.hour)}:${pad(t.minute)}:00`
}

const MARKER = '# CLMNT-FLEET-BACKUP'
const MARKER_LINE = /^#\s*CLMNT-FLEET-BACKUP .* for (.+) \(clmnt fleet backup --schedule\)$/
const JOB_LINE = /'fleet' 'backup'/

export function markerLine(baseDir: string, t: BackupTime): string {
  if (/[\r\n]/.test(baseDir)) throw new InputError(`base dir ${quote(baseDir)} contains a line break: it cannot go into a crontab`)
  return `${MARKER} ${describeBackupTime(t)} for ${baseDir} (clmnt fleet backup --schedule)`
}

/** Where cron puts the scheduled backup's stderr (what cron would otherwise only mail). */
export const errFileOf = (baseDir: string) => join(baseDir, '.clmnt-backup-cron.err')

export function cronBlock(baseDir: string, t: BackupTime, argv: string[]): string[] {
  return [markerLine(baseDir, t), `${cronExpression(t)} ${cronCommand(argv, errFileOf(baseDir))}`]
}

/** Our backup blocks in a crontab: the marker and the job line(s) under it. */
export function backupEntries(text: string): { baseDir: string; start: number; end: number }[] {
  const lines = splitLines(text).map((l) => l.text)
  const out: { baseDir: string; start: number; end: number }[] = []
  for (let i = 0; i < lines.length; i++) {
    const marker = MARKER_LINE.exec(lines[i]!)
    if (!marker) continue
    let end = i + 1
    while (end < lines.length && JOB_LINE.test(lines[end]!) && !lines[end]!.trimStart().startsWith('#')) end++
    out.push({ baseDir: marker[1]!, start: i, end })
    i = end - 1
  }
  return out
}

/** The crontab with the base dir's backup block replaced by `block` (or removed, with null). */
export function setBackupEntry(text: string, baseDir: string, block: string[] | null): { text: string; found: boolean } {
  const lines = splitLines(text)
  const mine = backupEntries(text).filter((e) => e.baseDir === baseDir)
  const out = replaceSpans(lines, mine, block)
  return { text: joinLines(out), found: mine.length > 0 }
}

/** Unit names per base dir: several fleets on one host each get their own timer. */
export function backupUnitNames(baseDir: string): { service: string; timer: string } {
  const id = fnv1a(baseDir).toString(16).padStart(8, '0')
  return { service: `clmnt-backup-${id}.service`, timer: `clmnt-backup-${id}.timer` }
}
