/**
 * One line of `clmnt doctor`: what was looked at, what was found, and — when it is not ok — one
 * line saying what to do. `skip` is a check that could not be made (no port, no token, not asked
 * for); it never fails the run.
 */
export type Level = 'ok' | 'warn' | 'fail' | 'skip'
export const LEVELS: readonly Level[] = ['ok', 'warn', 'fail', 'skip']

export type Group = 'host' | 'molt' | 'monitoring' | 'backups'

export interface Check {
  /** stable, for scripts: "host.disk", "molt.port", "monitoring.schedule" … */
  id: string
  group: Group
  /** the molt a molt or monitoring check is about */
  molt?: string
  level: Level
  /** what was checked, a few words */
  title: string
  /** what was found, one line */
  detail: string
  /** what to do, one line; null when there is nothing to do */
  advice: string | null
}

/** A check before it knows its group and molt (added by the section that runs it). */
export type Finding = Omit<Check, 'group' | 'molt'>

export const ok = (id: string, title: string, detail: string): Finding => ({ id, level: 'ok', title, detail, advice: null })
export const warn = (id: string, title: string, detail: string, advice: string): Finding => ({ id, level: 'warn', title, detail, advice })
export const fail = (id: string, title: string, detail: string, advice: string): Finding => ({ id, level: 'fail', title, detail, advice })
export const skip = (id: string, title: string, detail: string): Finding => ({ id, level: 'skip', title, detail, advice: null })

export interface DoctorReport {
  /** nothing failed (warnings allowed) */
  ok: boolean
  clmnt_version: string
  base_dir: string | null
  base_dir_rule: string | null
  molts: string[]
  counts: Record<Level, number>
  checks: Check[]
}

export function summarize(checks: Check[], meta: Pick<DoctorReport, 'clmnt_version' | 'base_dir' | 'base_dir_rule' | 'molts'>): DoctorReport {
  const counts = { ok: 0, warn: 0, fail: 0, skip: 0 }
  for (const check of checks) counts[check.level]++
  return { ok: counts.fail === 0, ...meta, counts, checks }
}

/** "0755" */
export const octal = (mode: number) => (mode & 0o7777).toString(8).padStart(4, '0')

/** A list in a line: the first few, then a count. */
export function few(items: string[], max = 4): string {
  return items.length <= max ? items.join(', ') : `${items.slice(0, max).join(', ')} and ${items.length - max} more`
}
