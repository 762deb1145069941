import { existsSync } from 'node:fs'
import { join } from 'node:path'
import type { Molt } from '../fleet/discover.ts'
import { stateDir } from '../health/paths.ts'
import { recentChecks } from '../health/history.ts'
import { describeSchedule, exactnessNote, planSchedule, type SchedulePlan } from './cron-expr.ts'
import { clmntCommand, cronCommand, isExecutableFile, watchArgs, type ClmntKind, type WatchOptions } from './job.ts'
import { canWriteState, scheduleTarget, type ScheduleTarget } from './target.ts'

/** What setup was asked for, validated by the command. */
export interface SetupRequest extends Omit<WatchOptions, 'name'> {
  /** undefined: each molt gets its default (see defaultOffset) */
  offset?: number
  crontabUser?: string
}

export type OffsetSource = 'option' | 'port' | 'name'

/** One molt's schedule, ready to be written to a crontab or as systemd units. */
export interface MoltPlan {
  molt: Molt
  target: ScheduleTarget
  plan: SchedulePlan
  offsetFrom: OffsetSource
  argv: string[]
  clmnt: ClmntKind
  /** the molt's .molt-state/cron.err: where cron puts the watch's stderr */
  errFile: string
  words: string
  note: string | null
  warnings: string[]
}

export const FIRST_PORT = 19001
export const PORT_STEP = 20

/**
 * Molts must not all fire at minute 0. A molt on the fleet's port grid (19001, 19021, …) is the
 * k-th molt and gets offset k mod interval: consecutive molts land on consecutive minutes. A port
 * off the grid falls back to a hash of the name (FNV-1a), stable across runs and hosts.
 */
export function defaultOffset(molt: { name: string; port: number | null }, interval: number): { offset: number; from: OffsetSource } {
  if (molt.port !== null && molt.port >= FIRST_PORT && (molt.port - FIRST_PORT) % PORT_STEP === 0) {
    return { offset: ((molt.port - FIRST_PORT) / PORT_STEP) % interval, from: 'port' }
  }
  return { offset: fnv1a(molt.name) % interval, from: 'name' }
}

/** FNV-1a, 32 bits: a stable little hash of a name or a path (no crypto import on cron's start-up path). */
export function fnv1a(text: string): number {
  let hash = 0x811c9dc5
  for (const c of Buffer.from(text)) hash = Math.imul(hash ^ c, 0x01000193) >>> 0
  return hash
}

/** Throws (InputError) when a value cannot be scheduled safely; nothing is written before all molts are planned. */
export function planMolt(molt: Molt, request: SetupRequest, command: { argv: string[]; kind: ClmntKind; warning?: string } = clmntCommand()): MoltPlan {
  const target = scheduleTarget(molt.name, request.crontabUser)
  const { offset, from } = request.offset !== undefined ? { offset: request.offset, from: 'option' as const } : defaultOffset(molt, request.interval)
  const plan = planSchedule(request.interval, offset)
  const argv = [...command.argv, ...watchArgs({ ...request, name: molt.name })]
  const errFile = join(stateDir(molt.home), 'cron.err')
  cronCommand(argv, errFile) // validates every value and the length
  const warnings: string[] = []
  if (!canWriteState(target, molt.home)) warnings.push(`${target.user} may not be able to write ${stateDir(molt.home)}: the watch runs as ${target.user}`)
  return { molt, target, plan, offsetFrom: from, argv, clmnt: command.kind, errFile, words: describeSchedule(plan), note: exactnessNote(plan), warnings }
}

export function markerLine(molt: string, plan: SchedulePlan): string {
  return `# MOLT-HEALTH-WATCH ${molt} every ${plan.interval} min, offset ${plan.offset} (clmnt molt health setup)`
}

/** interval and offset from our marker line; null for a marker without them (hand-written). */
export function readMarker(line: string): { interval: number; offset: number } | null {
  const match = /\severy (\d+) min, offset (\d+)\b/.exec(line)
  return match ? { interval: Number(match[1]), offset: Number(match[2]) } : null
}

/** Marker + one job line per cron expression. */
export function cronBlock(p: MoltPlan): string[] {
  const command = cronCommand(p.argv, p.errFile)
  return [markerLine(p.molt.name, p.plan), ...p.plan.expressions.map((e) => `${e} ${command}`)]
}

/** The newest check in the molt's history: "the last run seen". */
export function lastRun(home: string): { timestamp: string; status: string } | null {
  try {
    const record = recentChecks(home, 1).checks.at(-1)
    return record ? { timestamp: record.timestamp, status: record.status } : null
  } catch {
    return null
  }
}

/** Does the program a schedule starts still exist? For `bun src/cli.ts` both must. */
export function commandExists(argv: string[]): boolean {
  if (!argv.length || !isExecutableFile(argv[0]!)) return false
  const script = argv[1]
  return script === undefined || !script.endsWith('.ts') || existsSync(script)
}

/** What `setup --status` reports for any scheduler; each adds what only it knows. */
export interface ScheduleStatusBase {
  molt: string
  user: string
  installed: boolean
  interval: number | null
  offset: number | null
  schedule: string | null
  note: string | null
  next_runs: string[]
  command: string[] | null
  command_exists: boolean | null
  last_run: { timestamp: string; status: string } | null
  warnings: string[]
}
