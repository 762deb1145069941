import { CronExpressionParser } from 'cron-parser'

/**
 * "Every N minutes, shifted by O" as cron expressions.
 *
 * Cron matches wall-clock fields, so `*\/7` means minutes 0,7,…,56 of *every hour* — 4 minutes
 * after :56 comes :00. The schedule is therefore planned over one day: the runs are at
 * O, O+N, O+2N, … minutes after midnight; each hour gets the exact minutes it needs, and hours
 * needing the same minutes share one line. So 7 minutes is 7 lines, 90 minutes is 2 lines.
 *
 * When N divides the 1440 minutes of a day (1–6, 8–10, 12, 15, 16, 18, 20, 24, 30, 32, 36, 40,
 * 45, 48, 60, 72, 80, 90, 96, 120, 144, 160, 180, 240, 288, 360, 480, 720, 1440, …) this is exact
 * forever. Otherwise it cannot be: cron has no notion of "minutes since an epoch", and months are
 * irregular; the cycle restarts at O every midnight, so one gap a day is shorter or longer than N
 * (never more than 2N, which `health status` still counts as fresh: it flags 3N).
 */

export const DAY_MINUTES = 1440

/** One cron line: these minutes in these hours, every day. */
export interface CronSlot {
  minutes: number[]
  hours: number[]
}

export interface SchedulePlan {
  interval: number
  offset: number
  slots: CronSlot[]
  /** one 5-field expression per slot, each validated */
  expressions: string[]
  runsPerDay: number
  /** false when the interval does not divide a day (see the file's comment) */
  exact: boolean
  /** minutes from the day's last run to the next day's first; equals the interval when exact */
  midnightGap: number
}

export function planSchedule(interval: number, offset: number): SchedulePlan {
  if (!Number.isInteger(interval) || interval < 1 || interval > DAY_MINUTES) throw new RangeError(`interval ${interval} is not 1-${DAY_MINUTES} minutes`)
  if (!Number.isInteger(offset) || offset < 0 || offset >= interval) throw new RangeError(`offset ${offset} is not 0-${interval - 1}`)
  const runs: number[] = []
  for (let t = offset; t < DAY_MINUTES; t += interval) runs.push(t)
  const minutesByHour = new Map<number, number[]>()
  for (const t of runs) {
    const hour = Math.floor(t / 60)
    const list = minutesByHour.get(hour) ?? []
    list.push(t % 60)
    minutesByHour.set(hour, list)
  }
  const slots = new Map<string, CronSlot>()
  for (const [hour, minutes] of minutesByHour) {
    const key = minutes.join(',')
    const slot = slots.get(key)
    if (slot) slot.hours.push(hour)
    else slots.set(key, { minutes, hours: [hour] })
  }
  const list = [...slots.values()]
  const expressions = list.map((s) => `${cronField(s.minutes, 0, 59)} ${cronField(s.hours, 0, 23)} * * *`)
  for (const expression of expressions) assertCronExpression(expression)
  return {
    interval,
    offset,
    slots: list,
    expressions,
    runsPerDay: runs.length,
    exact: DAY_MINUTES % interval === 0,
    midnightGap: DAY_MINUTES - runs.at(-1)! + runs[0]!,
  }
}

/** Sorted values → the shortest plain cron field: `*`, `*\/5`, `3-59/5`, `0-20/10`, or a list. */
export function cronField(values: number[], min: number, max: number): string {
  const v = [...new Set(values)].sort((a, b) => a - b)
  if (v.length === max - min + 1) return '*'
  const step = progressionStep(v)
  if (step !== null && v.length >= 3) {
    const first = v[0]!
    const last = v.at(-1)!
    if (last + step > max) return first === min ? `*/${step}` : `${first}-${max}/${step}`
    return `${first}-${last}/${step}`
  }
  return v.join(',')
}

/** systemd's calendar syntax for the same slot: `*-*-* 01,04,07:30:00`, `*-*-* *:03/05:00`. */
export function onCalendar(slot: CronSlot): string {
  return `*-*-* ${calendarField(slot.hours, 23)}:${calendarField(slot.minutes, 59)}:00`
}

function calendarField(values: number[], max: number): string {
  const two = (n: number) => String(n).padStart(2, '0')
  if (values.length === max + 1) return '*'
  const step = progressionStep(values)
  // systemd's "a/s" repeats up to the end of the range, like cron's "a-max/s"
  if (step !== null && values.length >= 3 && values.at(-1)! + step > max) return `${two(values[0]!)}/${two(step)}`
  return values.map(two).join(',')
}

function progressionStep(v: number[]): number | null {
  if (v.length < 2) return null
  const step = v[1]! - v[0]!
  for (let i = 2; i < v.length; i++) if (v[i]! - v[i - 1]! !== step) return null
  return step
}

const PLAIN_FIELD = /^(\*|\d+(-\d+)?)(\/\d+)?(,(\*|\d+(-\d+)?)(\/\d+)?)*$/

/**
 * Exactly five fields of digits, `*`, `,`, `-`, `/`, accepted by cron-parser. cron-parser alone
 * would take "" and 4 fields (as if seconds were missing) and 6 fields (seconds first), and names,
 * `L`, `#`, `?` that Debian's cron does not know.
 */
export function checkCronExpression(expression: string): string | null {
  const fields = expression.trim().split(/\s+/).filter(Boolean)
  if (fields.length !== 5) return `${JSON.stringify(expression)} has ${fields.length} fields, not 5`
  const bad = fields.find((f) => !PLAIN_FIELD.test(f))
  if (bad) return `${JSON.stringify(expression)}: field ${JSON.stringify(bad)} is not plain cron syntax`
  try {
    CronExpressionParser.parse(fields.join(' '))
  } catch (error) {
    return `${JSON.stringify(expression)}: ${(error as Error).message}`
  }
  return null
}

export function assertCronExpression(expression: string): void {
  const problem = checkCronExpression(expression)
  if (problem) throw new Error(`invalid cron expression ${problem}`)
}

/** The next `count` times any of the expressions fires after `from` (local time, like cron). */
export function nextRuns(expressions: string[], count: number, from: Date = new Date()): Date[] {
  const times = new Set<number>()
  for (const expression of expressions) {
    for (const d of CronExpressionParser.parse(expression, { currentDate: from }).take(count)) times.add(d.getTime())
  }
  return [...times].sort((a, b) => a - b).slice(0, count).map((t) => new Date(t))
}

const hhmm = (minuteOfDay: number) => `${String(Math.floor(minuteOfDay / 60)).padStart(2, '0')}:${String(minuteOfDay % 60).padStart(2, '0')}`

/** The plan in an operator's words. */
export function describeSchedule(plan: SchedulePlan): string {
  const { interval: n, offset: o } = plan
  if (n === 1) return 'every minute'
  if (n < 60 && 60 % n === 0) {
    const minutes = Array.from({ length: 60 / n }, (_, i) => `:${String(o + i * n).padStart(2, '0')}`)
    const shown = minutes.length <= 4 ? minutes.join(', ') : `${minutes.slice(0, 2).join(', ')}, … ${minutes.at(-1)}`
    return `every ${n} minutes (${shown} past each hour)`
  }
  if (n === 60) return `hourly at :${String(o).padStart(2, '0')}`
  if (n === DAY_MINUTES) return `daily at ${hhmm(o)}`
  const last = o + (plan.runsPerDay - 1) * n
  return `every ${n} minutes from ${hhmm(o)} (${plan.runsPerDay} runs a day, ${hhmm(o)} … ${hhmm(last)})`
}

/** Why the plan is not exactly every N minutes; null when it is. */
export function exactnessNote(plan: SchedulePlan): string | null {
  if (plan.exact) return null
  return (
    `cron cannot run every ${plan.interval} minutes forever: ${plan.interval} does not divide the 1440 minutes of a day, ` +
    `so the cycle restarts at ${hhmm(plan.offset)} each day and the gap across midnight is ${plan.midnightGap} minutes`
  )
}
