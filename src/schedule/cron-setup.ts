import { readFileSync } from 'node:fs'
import type { Molt } from '../fleet/discover.ts'
import { checkCronExpression, describeSchedule, exactnessNote, nextRuns, planSchedule } from './cron-expr.ts'
import { readCrontab, writeCrontab } from './crontab.ts'
import { diffCrontab, scanCrontab, setEntry, splitLines, type FoundEntry } from './crontab-edit.ts'
import { parseCronCommand } from './job.ts'
import { commandExists, lastRun, readMarker, type ScheduleStatusBase } from './plan.ts'
import type { ScheduleTarget } from './target.ts'

export type CronAction = 'installed' | 'replaced' | 'migrated' | 'unchanged' | 'removed' | 'absent' | 'failed'

/** One molt's edit: its new block, or null to remove its entry. */
export interface CronEdit {
  molt: string
  target: ScheduleTarget
  block: string[] | null
}

export interface CronOutcome {
  molt: string
  user: string
  action: CronAction
  /** entries taken out, with their lines (ours or the bash toolkit's) */
  removed: { kind: FoundEntry['kind']; lines: string[] }[]
  error?: string
}

export interface CrontabChange {
  user: string
  before: string
  after: string
  diff: string
  written: boolean
  error?: string
  outcomes: CronOutcome[]
}

/** `crontab` failing in words an operator can act on. */
export function crontabProblem(error: string): string {
  return /ENOENT/.test(error) ? 'the crontab program is not installed (Debian: apt-get install cron)' : error
}

/**
 * Apply edits one crontab at a time: read once, edit every molt of that crontab, write once, and
 * read back — a write is reported only when the crontab then holds what was written.
 */
export function applyCronEdits(edits: CronEdit[], options: { dryRun: boolean }): CrontabChange[] {
  const groups = new Map<string, CronEdit[]>()
  for (const edit of edits) groups.set(edit.target.user, [...(groups.get(edit.target.user) ?? []), edit])
  const changes: CrontabChange[] = []
  for (const [user, group] of groups) {
    const arg = group[0]!.target.crontabArg
    const read = readCrontab(arg)
    if (!read.ok) {
      const error = crontabProblem(read.error)
      changes.push({ user, before: '', after: '', diff: '', written: false, error, outcomes: group.map((e) => ({ molt: e.molt, user, action: 'failed', removed: [], error })) })
      continue
    }
    let text = read.text
    const outcomes: CronOutcome[] = []
    for (const edit of group) {
      const result = setEntry(text, edit.molt, edit.block)
      const removed = result.removed.map((e) => ({ kind: e.kind, lines: e.lines }))
      let action: CronAction
      if (edit.block === null) action = removed.length ? 'removed' : 'absent'
      else if (!result.changed) action = 'unchanged'
      else if (removed.some((e) => e.kind === 'legacy')) action = 'migrated'
      else action = removed.length ? 'replaced' : 'installed'
      outcomes.push({ molt: edit.molt, user, action, removed })
      text = result.text
    }
    const change: CrontabChange = { user, before: read.text, after: text, diff: diffCrontab(read.text, text), written: false, outcomes }
    if (text !== read.text && !options.dryRun) {
      const error = writeAndVerify(text, arg)
      if (error) {
        change.error = error
        for (const o of outcomes) if (o.action !== 'unchanged' && o.action !== 'absent') Object.assign(o, { action: 'failed', error })
      } else change.written = true
    }
    changes.push(change)
  }
  return changes
}

function writeAndVerify(text: string, arg: string | undefined): string | null {
  const written = writeCrontab(text, arg)
  if (!written.ok) return crontabProblem(written.error)
  const back = readCrontab(arg)
  if (!back.ok) return `crontab was written but cannot be read back: ${crontabProblem(back.error)}`
  const normal = (t: string) => (t === '' || t.endsWith('\n') ? t : `${t}\n`)
  if (normal(back.text) !== normal(text)) return 'crontab was written but reads back different: check it with crontab -l'
  return null
}

export interface CronStatus extends ScheduleStatusBase {
  scheduler: 'cron'
  kind: FoundEntry['kind'] | null
  lines: string[]
  /** what the last cron run wrote to stderr (.molt-state/cron.err), when anything */
  cron_err: string | null
}

/** What the crontab text holds for this molt, in words, with its next runs. */
export function cronStatus(molt: Molt, target: ScheduleTarget, crontab: string, now = new Date()): CronStatus {
  const scan = scanCrontab(crontab)
  const entries = scan.entries.filter((e) => e.molt === molt.name)
  const warnings: string[] = []
  if (entries.length > 1) warnings.push(`${entries.length} entries for ${molt.name}: the next setup keeps one`)
  for (const stray of scan.strayLines.filter((s) => s.molt === molt.name)) warnings.push(`line ${stray.index + 1} runs the watch of ${molt.name} without a ${'MOLT-HEALTH-WATCH'} marker above it: left alone; remove it by hand if it is a leftover`)
  warnings.push(...shellWarnings(crontab))
  const entry = entries[0]
  const status: CronStatus = {
    molt: molt.name, scheduler: 'cron', user: target.user, installed: Boolean(entry), kind: entry?.kind ?? null, lines: entry?.lines ?? [],
    interval: null, offset: null, schedule: null, note: null, next_runs: [], command: null, command_exists: null,
    last_run: lastRun(molt.home), cron_err: null, warnings,
  }
  if (!entry) return status
  const jobs = entry.lines.slice(1).map((l) => /^\s*((?:\S+\s+){4}\S+)\s+(.*)$/.exec(l)).filter((m) => m !== null)
  const expressions = jobs.map((m) => m[1]!.trim().split(/\s+/).join(' '))
  const valid = expressions.filter((e) => {
    const problem = checkCronExpression(e)
    if (problem) warnings.push(`unreadable schedule ${problem}`)
    return !problem
  })
  status.next_runs = valid.length ? nextRuns(valid, 3, now).map((d) => d.toISOString()) : []
  if (entry.kind === 'legacy') {
    status.schedule = `bash toolkit entry: ${expressions.join(', ')}`
    status.command = jobs[0] ? jobs[0][2]!.split(/\s+/) : null
    status.command_exists = status.command ? commandExists(status.command.slice(0, 1)) : null
    warnings.push('legacy bash toolkit entry: run setup again to replace it')
    return status
  }
  const marker = readMarker(entry.lines[0]!)
  if (marker && marker.interval >= 1 && marker.interval <= 1440 && marker.offset < marker.interval) {
    const plan = planSchedule(marker.interval, marker.offset)
    Object.assign(status, { interval: plan.interval, offset: plan.offset, schedule: describeSchedule(plan), note: exactnessNote(plan) })
    if (plan.expressions.join('\n') !== expressions.join('\n')) warnings.push('the job lines were edited by hand: they differ from what the marker says')
  }
  if (!jobs.length) warnings.push('the marker has no job line under it: nothing runs')
  const parsed = jobs[0] ? parseCronCommand(jobs[0][2]!) : null
  if (parsed) {
    status.command = parsed.argv
    status.command_exists = commandExists(parsed.argv)
    if (parsed.errFile) status.cron_err = readSmall(parsed.errFile)
  }
  return status
}

function readSmall(path: string): string | null {
  try {
    const text = readFileSync(path, 'utf8').trim()
    return text ? text.slice(-2000) : null
  } catch {
    return null
  }
}

/** Our lines are quoted for a POSIX shell; a SHELL= line that picks another shell would misread them. */
export function shellWarnings(crontab: string): string[] {
  const warnings: string[] = []
  for (const { text } of splitLines(crontab)) {
    const shell = /^\s*SHELL\s*=\s*["']?([^"'\s]+)/.exec(text)?.[1]
    if (shell && !/(^|\/)(sh|bash|dash|ksh|mksh|zsh|busybox)$/.test(shell)) warnings.push(`the crontab sets SHELL=${shell}: clmnt's lines are quoted for /bin/sh`)
  }
  return warnings
}
