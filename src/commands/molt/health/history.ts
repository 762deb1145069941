import { defineCommand } from 'citty'
import { statHomeFile } from '../../../lib/safe-read.ts'
import { moltOwner } from '../../../health/gateway.ts'
import { pruneHistory } from '../../../health/history-prune.ts'
import { moltHistory } from '../../../health/history-report.ts'
import type { HistoryStats, UptimeWindowName } from '../../../health/history-stats.ts'
import { HISTORY_REL, historyFile } from '../../../health/paths.ts'
import type { HealthRecord } from '../../../health/record.ts'
import { formatMs, paintStatus } from '../../../health/render.ts'
import { formatDuration, parseSince, requireDuration } from '../../../lib/duration.ts'
import { UsageError } from '../../../lib/errors.ts'
import { intOption } from '../../../lib/numbers.ts'
import { renderTable } from '../../../lib/table.ts'
import type { RunData } from '../../../runner.ts'
import { jsonArg, moltArg, oneMolt, printJson } from '../../_shared.ts'

/** Incidents shown in the human summary; --json carries up to MAX_INCIDENTS. */
const SHOWN_INCIDENTS = 10

export default defineCommand({
  meta: { name: 'history', description: "A molt's uptime, incidents, response times and recent checks" },
  args: {
    ...moltArg,
    limit: { type: 'string', valueHint: 'n', default: '20', description: 'recent checks to list, 1-100000' },
    since: { type: 'string', valueHint: '7d|24h|ISO', description: 'window for incidents and response times (default: all time)' },
    stats: { type: 'boolean', default: true, description: 'compute statistics', negativeDescription: 'skip the statistics pass: list the recent checks only' },
    prune: { type: 'string', valueHint: 'age', description: 'delete checks older than this (e.g. 90d), keeping the rest' },
    'dry-run': { type: 'boolean', description: 'with --prune: count what would be removed, change nothing' },
    ...jsonArg,
  },
  async run({ args, data }) {
    const cli: RunData = data
    const now = Date.now()
    const limit = intOption(args.limit, '--limit', { min: 1, max: 100_000 })!
    const since = args.since === undefined ? null : parseSince(args.since, '--since', now)
    const keep = args.prune === undefined ? null : requireDuration(args.prune, '--prune')
    const molt = oneMolt(cli, args.name)
    const file = historyFile(molt.home)
    const exists = statHomeFile(molt.home, HISTORY_REL) !== null
    if (!exists) cli.log.warn(`no history yet for ${molt.name}`)

    const dryRun = args['dry-run'] === true
    if (dryRun && keep === null) throw new UsageError('--dry-run only applies with --prune (history changes nothing otherwise)')
    if (keep !== null) {
      const result = exists ? pruneHistory(molt.home, { cutoff: now - keep, owner: moltOwner(molt) ?? undefined, dryRun }) : null
      const report = result ?? { cutoff: new Date(now - keep).toISOString(), kept: 0, removed: 0, invalid: 0, normalized: 0, bytes_before: 0, bytes_after: 0, appended_during: 0, rewritten: false }
      if (args.json) printJson(cli, { molt: molt.name, file, ...report, dry_run: dryRun })
      else if (result && dryRun) cli.stdout(`${molt.name}: would keep ${result.kept} checks since ${when(result.cutoff)}, remove ${result.removed}${result.invalid ? ` and ${result.invalid} unreadable` : ''}; ${result.bytes_before} → ${result.bytes_after} bytes (dry run: nothing was changed)\n`)
      else if (result) {
        const extra = [result.invalid && `${result.invalid} unreadable dropped`, result.normalized && `${result.normalized} legacy rewritten`].filter(Boolean)
        cli.stdout(`${molt.name}: kept ${result.kept} checks since ${when(result.cutoff)}, removed ${result.removed}${extra.length ? ` (${extra.join(', ')})` : ''}; ${result.bytes_before} → ${result.bytes_after} bytes\n`)
      }
      return 0
    }

    const { exists: _exists, ...report } = moltHistory(molt, { now, since, limit, stats: args.stats !== false })
    if (args.json) {
      printJson(cli, report)
      return 0
    }
    if (!exists) return 0
    if (report.stats) cli.stdout(renderStats(molt.name, report.stats))
    cli.stdout(renderRecent(report.recent, cli.color))
    if (!report.stats && report.recent_skipped) cli.log.warn(`${report.recent_skipped} unreadable lines skipped`)
    return 0
  },
})

const when = (iso: string) => iso.replace('T', ' ').replace(/\.\d+Z$|Z$/, 'Z')

function renderStats(name: string, s: HistoryStats): string {
  const out: string[] = []
  const span = s.first_check && s.last_check ? `, ${when(s.first_check)} → ${when(s.last_check)}` : ''
  const skipped = s.skipped_lines ? ` (${s.skipped_lines} unreadable lines skipped)` : ''
  out.push(`${name}: ${s.total_checks} checks${span}${skipped}`, '')
  const rows = (['24h', '7d', '30d', 'all'] as UptimeWindowName[]).map((w) => {
    const u = s.uptime[w]
    return [w, u.percent === null ? '-' : `${u.percent.toFixed(2)}%`, String(u.checks)]
  })
  out.push(renderTable(['WINDOW', 'UPTIME', 'CHECKS'], rows))
  const scope = s.since ? `since ${when(s.since)}` : 'all time'
  const shown = s.incidents.slice(-SHOWN_INCIDENTS)
  const more = s.incident_count > shown.length ? `, newest ${shown.length} shown` : ''
  out.push(`Incidents (${scope}): ${s.incident_count}${more}`)
  if (shown.length) {
    const incidentRows = shown.map((i) => [when(i.start), i.end ? when(i.end) : 'ongoing', formatDuration(i.duration_ms), i.worst, String(i.checks)])
    out.push(renderTable(['START', 'END', 'DURATION', 'WORST', 'CHECKS'], incidentRows).trimEnd())
  }
  const r = s.response_time_ms
  out.push('', r.count ? `Response time (${scope}): p50 ${formatMs(r.p50)}  p95 ${formatMs(r.p95)}  max ${formatMs(r.max)}  (${r.count} answers)` : `Response time (${scope}): no answers`, '')
  return `${out.join('\n')}\n`
}

function renderRecent(checks: HealthRecord[], color: boolean): string {
  if (!checks.length) return 'Recent checks: none\n'
  const rows = checks.map((c) => [when(c.timestamp), paintStatus(c.status, color), String(c.http_status ?? '-'), formatMs(c.response_time_ms), c.reason ?? ''])
  return `Recent checks (last ${checks.length}):\n${renderTable(['TIME', 'STATUS', 'HTTP', 'RESPONSE', 'REASON'], rows)}`
}
