import { defineCommand } from 'citty'
import { formatMs, paintStatus } from '../../../health/render.ts'
import { activeSilence, fleetSilences } from '../../../health/silence.ts'
import { moltStatus, type MoltStatus } from '../../../health/status.ts'
import { formatAgo, formatDuration } from '../../../lib/duration.ts'
import { moltHeader, renderTable } from '../../../lib/table.ts'
import type { RunData } from '../../../runner.ts'
import { jsonArg, moltOrAllArgs, printJson, selectMolts } from '../../_shared.ts'

export default defineCommand({
  meta: { name: 'status', description: 'Show the last recorded check and the watch state (reads files; probes nothing)' },
  args: { ...moltOrAllArgs, ...jsonArg },
  async run({ args, data }) {
    const cli: RunData = data
    const { molts, all } = selectMolts(cli, { name: args.name, all: args.all })
    const now = Date.now()
    const silences = fleetSilences(cli.baseDir().dir)
    const statuses = molts.map((molt) => {
      const silence = activeSilence(silences, molt.name, now)
      // the key only when silenced: the JSON stays the dashboard API's shape otherwise
      const status: Shown = moltStatus(molt, now)
      if (silence) status.silenced = { id: silence.id, until: silence.end, reason: silence.reason, held: silence.held.filter((h) => h.molt === molt.name).length }
      return status
    })
    for (const s of statuses) for (const warning of s.warnings) cli.log.warn(`${s.molt}: ${warning}`)

    if (args.json) printJson(cli, all ? statuses : statuses[0])
    else if (all) cli.stdout(fleetTable(statuses, cli.color, now))
    else cli.stdout(detail(statuses[0]!, cli.color, now))
    return statuses.every((s) => s.status === 'healthy' && !s.stale) ? 0 : 1
  },
})

const when = (s: MoltStatus, now: number) => (s.checked_at ? `${s.checked_at} (${formatAgo(Date.parse(s.checked_at), now)})` : 'never')

type Shown = MoltStatus & { silenced?: { id: string; until: string; reason: string | null; held: number } }

function fleetTable(statuses: Shown[], color: boolean, now: number): string {
  const rows = statuses.map((s) => [
    s.molt,
    paintStatus(s.status ?? 'no data', color) + (s.silenced ? ' (silenced)' : ''),
    String(s.record?.port ?? '-'),
    String(s.record?.pid ?? '-'),
    String(s.record?.http_status ?? '-'),
    formatMs(s.record?.response_time_ms),
    s.checked_at ? formatAgo(Date.parse(s.checked_at), now) + (s.stale ? ' (stale)' : '') : 'never',
    s.watch ? String(s.watch.consecutive_failures) : '-',
  ])
  return renderTable(moltHeader('MOLT', 'STATUS', 'PORT', 'PID', 'HTTP', 'TIME', 'CHECKED', 'FAILS'), rows)
}

function detail(s: Shown, color: boolean, now: number): string {
  const r = s.record
  const lines = [`${s.molt}: ${paintStatus(s.status ?? 'no data', color)}${s.stale && r ? ' (stale)' : ''}`]
  const row = (label: string, value: string) => lines.push(`  ${label.padEnd(10)}${value}`)
  row('checked', when(s, now))
  if (s.silenced) row('silenced', `until ${s.silenced.until} (${formatDuration(Date.parse(s.silenced.until) - now)} left)${s.silenced.reason ? `: ${s.silenced.reason}` : ''}; ${s.silenced.held} notice(s) held`)
  if (r) {
    row('pid', String(r.pid ?? '-'))
    row('port', String(r.port ?? '-'))
    row('http', String(r.http_status ?? '-'))
    row('response', formatMs(r.response_time_ms))
    if (r.reason) row('reason', r.reason)
  }
  const w = s.watch
  if (w) {
    const success = w.last_success ? formatAgo(Date.parse(w.last_success), now) : 'never'
    const phase = w.phase === 'pending' ? `pending (${w.consecutive_failures} of ${w.threshold ?? '?'})` : (w.phase ?? 'up')
    row('watch', `${phase}, ${w.consecutive_failures} consecutive failure(s), last success ${success}, alert ${w.alert_sent ? 'sent' : 'not sent'}`)
    if (w.incident) {
      const down = w.incident.down_notified_at ? `DOWN alert sent ${formatAgo(Date.parse(w.incident.down_notified_at), now)}` : 'no DOWN alert yet'
      row('incident', `since ${w.incident.since} (${formatDuration(now - Date.parse(w.incident.since))}), first ${w.incident.first_status}${w.incident.first_reason ? `: ${w.incident.first_reason}` : ''}; ${down}; ${w.incident.restarts} restart(s)`)
    }
    if (w.flapping_since) row('flapping', `since ${w.flapping_since}`)
    for (const notice of w.waiting ?? []) row('waiting', `${notice.kind} notice ${notice.id}${notice.last_error ? `: ${notice.last_error}` : ''}`)
  }
  return `${lines.join('\n')}\n`
}
