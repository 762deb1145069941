import { formatAgo } from '../lib/duration.ts'
import { renderTable } from '../lib/table.ts'
import type { CronStatus } from './cron-setup.ts'
import type { SystemdStatus } from './systemd-setup.ts'

/** Text for `health setup`: times in local time, as cron reads them. */

const pad = (n: number) => String(n).padStart(2, '0')

export function localTime(iso: string | Date): string {
  const d = typeof iso === 'string' ? new Date(iso) : iso
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}`
}

/** "2026-03-02 10:03, 10:08, 10:13" — the date once, unless it changes. */
export function runList(runs: string[]): string {
  if (!runs.length) return '-'
  let day = ''
  return runs
    .map((r) => {
      const [date, time] = localTime(r).split(' ') as [string, string]
      const text = date === day ? time : `${date} ${time}`
      day = date
      return text
    })
    .join(', ')
}

export interface InstallView {
  molt: string
  action: string
  where: string
  schedule: string
  next_runs: string[]
  lines?: string[]
  units?: { path: string; content: string }[]
  commands?: string[]
  error?: string
}

export function installDetail(v: InstallView, verbose: boolean): string {
  const out = [`${v.molt}: ${v.error ? `FAILED: ${v.error}` : v.action} (${v.where})`]
  if (v.schedule !== '-') out.push(`  schedule   ${v.schedule}`, `  next runs  ${v.next_runs.length ? `${runList(v.next_runs)} (local time)` : 'not tied to the clock'}`)
  if (v.lines?.length) out.push('  entry', ...v.lines.map((l) => `    ${l}`))
  for (const unit of v.units ?? []) {
    out.push(`  ${unit.path}`)
    if (verbose) out.push(...unit.content.trimEnd().split('\n').map((l) => `    ${l}`))
  }
  if (v.commands?.length) out.push('  commands', ...v.commands.map((c) => `    ${c}`))
  return `${out.join('\n')}\n`
}

export function installTable(views: InstallView[]): string {
  return renderTable(
    ['MOLT', 'ACTION', 'WHERE', 'SCHEDULE', 'NEXT RUN'],
    views.map((v) => [v.molt, v.error ? `failed: ${v.error}` : v.action, v.where, v.schedule, v.next_runs[0] ? localTime(v.next_runs[0]) : '-']),
  )
}

type AnyStatus = (CronStatus | SystemdStatus) & { error?: string; where: string }

const lastRunText = (s: AnyStatus, now: number) =>
  s.last_run ? `${localTime(s.last_run.timestamp)} ${s.last_run.status} (${formatAgo(Date.parse(s.last_run.timestamp), now)})` : 'none in the history'

const commandText = (s: AnyStatus) => {
  if (s.command === null) return '-'
  const program = s.command[1]?.endsWith('.ts') ? `${s.command[0]} ${s.command[1]}` : s.command[0]
  return `${program} (${s.command_exists ? 'exists' : 'MISSING'})`
}

export function statusDetail(s: AnyStatus, now = Date.now()): string {
  if (s.error) return `${s.molt}: cannot tell: ${s.error}\n`
  if (!s.installed) return `${s.molt}: not installed (${s.where})\n  last run   ${lastRunText(s, now)}\n`
  const out = [`${s.molt}: installed (${s.where})`]
  out.push(`  schedule   ${s.schedule ?? 'unknown'}`)
  if (s.note) out.push(`  note       ${s.note}`)
  out.push(`  next runs  ${runList(s.next_runs)}${s.next_runs.length ? ' (local time)' : ''}`)
  out.push(`  last run   ${lastRunText(s, now)}`)
  out.push(`  command    ${commandText(s)}`)
  if (s.scheduler === 'systemd') out.push(`  timer      ${s.enabled ?? 'state unknown (systemctl not available)'}${s.active ? `, ${s.active}` : ''}`)
  if (s.scheduler === 'cron') {
    if (s.cron_err) out.push('  cron.err   (stderr of the last run)', ...s.cron_err.split('\n').map((l) => `    ${l}`))
    out.push('  entry', ...s.lines.map((l) => `    ${l}`))
  }
  return `${out.join('\n')}\n`
}

export function statusTable(statuses: AnyStatus[], now = Date.now()): string {
  return renderTable(
    ['MOLT', 'INSTALLED', 'WHERE', 'SCHEDULE', 'NEXT RUN', 'LAST RUN', 'COMMAND'],
    statuses.map((s) => [
      s.molt,
      s.error ? `error: ${s.error}` : s.installed ? 'yes' : 'no',
      s.where,
      s.schedule ?? '-',
      s.next_runs[0] ? localTime(s.next_runs[0]) : '-',
      s.last_run ? formatAgo(Date.parse(s.last_run.timestamp), now) : 'never',
      s.command === null ? '-' : s.command_exists ? 'ok' : 'MISSING',
    ]),
  )
}
