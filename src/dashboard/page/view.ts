/// <reference lib="dom" />
import { formatBytes } from '../../archive/format.ts'
import type { HealthStatus } from '../../health/record.ts'
import type { BackupEntry, DashboardMolt, HistoryResponse, RecentPoint, SeriesResponse } from '../types.ts'
import { responseChart } from './charts.ts'
import { fill, h, svg } from './dom.ts'
import { ago, duration, formatMs, formatPercent, sparkline, statusLabel, TONE_GLYPH, toneOf, type BackupVerdict, type Tone } from './format.ts'

/** Rendering of the page's parts; text only goes in through text nodes and attributes (see dom.ts). */

export function statusBadge(status: HealthStatus | null): HTMLElement {
  const tone = toneOf(status)
  const label = statusLabel(status)
  const el = h('span', { class: `badge tone-${tone} status-${label.replace(' ', '-')}` }, h('span', { class: 'glyph', 'aria-hidden': 'true' }, TONE_GLYPH[tone]), label)
  el.dataset.tone = tone
  return el
}

function chip(text: string, tone: Tone, title?: string): HTMLElement {
  return h('span', { class: `chip tone-${tone}`, title }, text)
}

const localTime = (iso: string) => {
  const d = new Date(iso)
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' })
}

function time(iso: string, text = localTime(iso)): HTMLElement {
  return h('time', { datetime: iso, title: iso }, text)
}

export function renderCardBody(body: HTMLElement, m: DashboardMolt, now: number): void {
  const pid = m.pid ? ` ${m.pid}` : ''
  const gateway = m.gateway === 'running' ? `gateway running, pid${pid}` : m.gateway === 'stale PID' ? `gateway gone (stale PID${pid})` : m.gateway === 'unknown' ? 'gateway unknown (permission denied)' : 'gateway stopped'
  const chips: HTMLElement[] = []
  if (m.stale && m.checked_at) chips.push(chip('stale', 'none', 'the last check is older than 3 × the watch interval: is the schedule running?'))
  if (m.phase === 'pending') chips.push(chip(`pending ${m.consecutive_failures ?? '?'} of ${m.threshold ?? '?'}`, 'warn', 'failing, not yet DOWN: no alert sent yet'))
  if (m.phase === 'down') chips.push(chip('DOWN', 'bad', 'the watch declared an incident and alerted'))
  if (m.watcher_stopped) chips.push(chip('watch stopped', 'bad', `no watch run for 3 intervals (last ${m.last_watch_run ? ago(m.last_watch_run, now) : 'never'}): nothing checks it and no alert would come`))

  const last = m.health === null ? null : m.health === 'healthy' ? `HTTP ${m.http_status ?? '?'} in ${formatMs(m.response_time_ms)}` : (m.reason ?? (m.http_status ? `HTTP ${m.http_status}` : null))
  const u24 = m.uptime['24h']
  const u7 = m.uptime['7d']

  fill(
    body,
    h('p', { class: 'meta' }, `port ${m.port ?? '?'}`, ' · ', gateway),
    h('p', { class: 'checked' }, m.checked_at ? 'checked ' : 'never checked', m.checked_at && time(m.checked_at, ago(m.checked_at, now)), ...chips.flatMap((c) => [' ', c])),
    last && h('p', { class: `last${m.health === 'healthy' ? '' : ' is-problem'}` }, last),
    h(
      'div',
      { class: 'trend' },
      sparklineSvg(m.recent),
      h('dl', { class: 'uptime' }, h('div', {}, h('dt', {}, 'uptime 24 h'), h('dd', {}, formatPercent(u24.percent))), h('div', {}, h('dt', {}, '7 d'), h('dd', {}, formatPercent(u7.percent)))),
    ),
    m.incident && h('p', { class: `incident tone-${toneOf(m.incident.status)}` }, h('strong', {}, 'Incident'), ` ongoing for ${duration(m.incident.duration_ms)}, since `, time(m.incident.since), ` (${m.incident.status}${m.incident.reason ? `: ${m.incident.reason}` : ''})`),
    m.warnings.length > 0 && h('details', { class: 'warnings' }, h('summary', {}, `⚠ ${m.warnings.length} warning${m.warnings.length > 1 ? 's' : ''}`), h('ul', {}, ...m.warnings.map((w) => h('li', {}, w)))),
  )
}

const SPARK_W = 120
const SPARK_H = 32

/** Stretches to its box (preserveAspectRatio none); strokes keep their width (CSS vector-effect). */
export function sparklineSvg(points: RecentPoint[], className = 'sparkline'): Element {
  const line = sparkline(points, SPARK_W, SPARK_H)
  const label = line.answered ? `response time over the last ${points.length} checks: ${formatMs(line.min)} to ${formatMs(line.max)}${line.failures.length ? `, ${line.failures.length} failed` : ''}` : points.length ? `no answers in the last ${points.length} checks` : 'no checks yet'
  return svg(
    'svg',
    { class: className, viewBox: `0 0 ${SPARK_W} ${SPARK_H}`, preserveAspectRatio: 'none', role: 'img', 'aria-label': label },
    svg('title', {}, label),
    svg('line', { class: 'spark-base', x1: 0, x2: SPARK_W, y1: SPARK_H - 1, y2: SPARK_H - 1 }),
    ...line.failures.map((x) => svg('line', { class: 'spark-fail', x1: x, x2: x, y1: SPARK_H - 7, y2: SPARK_H })),
    line.path ? svg('path', { class: 'spark-line', d: line.path }) : null,
  )
}

// ------------------------------------------------------------------------------------------

const BACKUP_TONE: Record<BackupEntry['status'], Tone> = { ok: 'ok', legacy: 'warn', incomplete: 'none', corrupt: 'bad' }
const SHOWN_BACKUPS = 8

export function renderBackups(el: HTMLElement, backups: BackupEntry[], verdict: BackupVerdict, now: number): void {
  const warning = verdict.warning && h('p', { class: `notice tone-${verdict.newest ? 'warn' : 'bad'}`, role: 'status' }, `⚠ ${verdict.warning[0]!.toUpperCase()}${verdict.warning.slice(1)}.`)
  if (!backups.length) {
    fill(el, warning, h('p', { class: 'empty' }, 'No archives in the backups folder. Run clmnt fleet backup.'))
    return
  }
  const rows = backups.slice(0, SHOWN_BACKUPS).map((b) =>
    h(
      'li',
      { class: 'backup' },
      h('span', { class: 'backup-file' }, b.file),
      h('span', { class: `badge tone-${BACKUP_TONE[b.status]}` }, b.status === 'legacy' ? 'legacy' : b.status),
      h('span', { class: 'backup-when' }, b.created ? time(b.created, ago(b.created, now)) : 'time unknown'),
      h('span', { class: 'backup-size' }, formatBytes(b.size_bytes)),
      h('span', { class: 'backup-molts', title: b.molts?.join(', ') ?? '' }, b.molts ? `${b.molts.length} molt${b.molts.length === 1 ? '' : 's'}${b.molts.length ? `: ${b.molts.join(', ')}` : ''}` : 'molts unknown'),
      b.reason && h('span', { class: 'backup-reason' }, b.reason),
    ),
  )
  const more = backups.length > SHOWN_BACKUPS && h('p', { class: 'more' }, `and ${backups.length - SHOWN_BACKUPS} older (clmnt fleet list-backups shows them all)`)
  fill(el, warning, h('ul', { class: 'backup-list' }, ...rows), more)
}

// ------------------------------------------------------------------------------------------

/** `series`: the server's 24-hour response-time series when it has one; the history's recent checks otherwise. */
export function renderHistory(el: HTMLElement, data: HistoryResponse, series: SeriesResponse | null = null): void {
  const s = data.stats
  const parts: (Node | null | false)[] = []
  if (s) {
    const windows = (['24h', '7d', '30d', 'all'] as const).map((w) => h('div', { class: 'window' }, h('dt', {}, w === 'all' ? 'all time' : w), h('dd', {}, formatPercent(s.uptime[w].percent)), h('dd', { class: 'sub' }, `${s.uptime[w].checks} checks`)))
    parts.push(h('section', {}, h('h3', {}, 'Uptime'), h('dl', { class: 'windows' }, ...windows)))
    if (series?.points.length) {
      const points = series.points.map((p) => ({ timestamp: p.timestamp, status: p.status, response_time_ms: p.avg_ms }))
      const details = series.points.map((p) => (p.checks > 1 ? `average of ${p.checks} checks, slowest ${formatMs(p.max_ms)}` : null))
      parts.push(h('section', {}, h('h3', {}, 'Response time, last 24 h'), responseChart(points, details)))
    } else if (data.recent.length) {
      parts.push(h('section', {}, h('h3', {}, `Response time, last ${data.recent.length} checks`), responseChart(data.recent)))
    }
    const r = s.response_time_ms
    parts.push(h('p', { class: 'response' }, r.count ? `Response time: p50 ${formatMs(r.p50)} · p95 ${formatMs(r.p95)} · max ${formatMs(r.max)} (${r.count} answers)` : 'Response time: no answers in this window'))
    const incidents = [...s.incidents].reverse()
    parts.push(
      h(
        'section',
        {},
        h('h3', {}, `Incidents: ${s.incident_count}`),
        incidents.length
          ? h('ul', { class: 'incidents' }, ...incidents.map((i) => h('li', {}, statusBadge(i.worst), ' ', time(i.start), i.ongoing ? h('strong', {}, ` ongoing for ${duration(i.duration_ms)}`) : h('span', {}, ' → ', time(i.end!), ` (${duration(i.duration_ms)})`), h('span', { class: 'sub' }, ` · ${i.checks} check${i.checks === 1 ? '' : 's'}`))))
          : h('p', { class: 'empty' }, 'None in the last 7 days.'),
      ),
    )
    if (s.skipped_lines) parts.push(h('p', { class: 'notice tone-warn' }, `${s.skipped_lines} unreadable line${s.skipped_lines === 1 ? '' : 's'} in the history were skipped.`))
  }
  const checks = [...data.recent].reverse()
  parts.push(
    h(
      'section',
      {},
      h('h3', {}, `Recent checks: ${checks.length}`),
      checks.length
        ? h(
            'div',
            { class: 'table-wrap' },
            h(
              'table',
              { class: 'checks' },
              h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'time'), h('th', { scope: 'col' }, 'status'), h('th', { scope: 'col' }, 'HTTP'), h('th', { scope: 'col' }, 'response'), h('th', { scope: 'col' }, 'reason'))),
              h('tbody', {}, ...checks.map((c) => h('tr', {}, h('td', {}, time(c.timestamp)), h('td', {}, statusBadge(c.status)), h('td', {}, c.http_status ?? '–'), h('td', {}, formatMs(c.response_time_ms)), h('td', { class: 'reason' }, c.reason ?? '')))),
            ),
          )
        : h('p', { class: 'empty' }, 'No checks recorded yet.'),
    ),
  )
  fill(el, ...parts)
}
