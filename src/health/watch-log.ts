import type { Owner } from '../lib/atomic.ts'
import { formatDuration } from '../lib/duration.ts'
import { inHomeDir, type HomeDir } from '../lib/safe-fs.ts'
import { WATCH_LOG_REL } from './paths.ts'
import type { HealthRecord } from './record.ts'
import { restartOutcome } from './watch-notices.ts'
import type { WatchRunResult } from './watch-run.ts'
import { RESTART_MAX_ATTEMPTS, type WatchFile } from './watch-types.ts'

/**
 * `.molt-state/health.log`: one line per watch run, what `health logs` shows. Appended with one
 * write on an O_APPEND descriptor (a skipped run writes beside the lock holder without mixing
 * lines); rotated by size by the lock holder only: health.log → .1 → .2 → .3, oldest dropped.
 * `health logs -f` follows across the rename.
 */
export const WATCH_LOG_MAX_BYTES = 1024 * 1024
export const WATCH_LOG_KEEP = 3

export interface WatchLogOptions {
  owner?: Owner
  /** only the run holding the watch lock rotates */
  rotate?: boolean
  maxBytes?: number
  keep?: number
}

/** One line: control characters become spaces, so a reason or an error text cannot fake a line. */
export function logLine(at: string, text: string): string {
  return `${at} ${text.replace(/[\x00-\x1f\x7f]+/g, ' ').trim()}\n`
}

export function appendWatchLog(home: string, line: string, options: WatchLogOptions = {}): void {
  inHomeDir(home, WATCH_LOG_REL, { owner: options.owner, create: true }, (dir, name) => {
    if (options.rotate) rotateLog(dir, name, Buffer.byteLength(line), options.maxBytes ?? WATCH_LOG_MAX_BYTES, options.keep ?? WATCH_LOG_KEEP)
    dir.append(name, line)
  })
}

/** Rotate when the next line would take the file past `maxBytes`. Returns true when it did. */
export function rotateLog(dir: HomeDir, name: string, incoming: number, maxBytes: number, keep: number): boolean {
  const size = dir.stat(name)?.size ?? 0
  if (size === 0 || size + incoming <= maxBytes) return false
  for (let i = keep - 1; i >= 1; i--) {
    try {
      dir.rename(`${name}.${i}`, `${name}.${i + 1}`)
    } catch {}
  }
  dir.rename(name, `${name}.1`)
  return true
}

/** The run in one health.log line. */
export function describeRun(name: string, state: WatchFile, record: HealthRecord, result: WatchRunResult): string {
  const phase = state.phase === 'pending' ? `PENDING ${state.consecutive_failures}/${state.threshold}` : state.phase.toUpperCase()
  const detail = record.status === 'healthy'
    ? `HTTP ${record.http_status}${record.response_time_ms === null ? '' : ` in ${record.response_time_ms} ms`}`
    : `${record.reason ?? ''}`
  const parts = [`watch ${name}: ${phase} ${record.status}${detail ? ` (${detail})` : ''}`]
  if (state.phase === 'down' && state.incident) parts.push(`failing since ${state.incident.id} (${formatDuration(Date.parse(record.timestamp) - Date.parse(state.incident.id))}), ${state.consecutive_failures} failure${state.consecutive_failures === 1 ? '' : 's'}`)
  if (result.flapping === 'started') parts.push('flapping started')
  else if (result.flapping === 'ended') parts.push('flapping ended')
  else if (result.flapping === 'ongoing') parts.push('flapping')
  const r = result.restart
  if (r) parts.push(`restart ${r.attempt}/${RESTART_MAX_ATTEMPTS}: ${r.command}${r.user ? ` as ${r.user}` : ''} ${restartOutcome(r)}, then ${r.result}`)
  for (const n of result.notices) {
    const verb = result.fleet_outbox ? 'handed to the fleet outbox for' : 'sent via'
    const sent = n.delivered.length ? [`${verb} ${n.delivered.join(', ')}`] : []
    const failed = n.errors.map((e) => `${e.permanent ? 'FAILED for good' : 'not delivered'} via ${e.channel} (${e.error})`)
    const kept = !n.pending ? '' : n.errors.some((e) => !e.permanent) ? ', will retry' : ', kept until the alert settings change'
    parts.push(`${n.kind} notice: ${[...sent, ...failed].join(', ')}${kept}`)
  }
  if (result.silenced) parts.push(`silenced until ${result.silenced.until} (${result.silenced.id})${result.silenced.held.length ? `: held ${result.silenced.held.join(', ')} notice` : ''}`)
  for (const subject of result.host ?? []) parts.push(`host notice: ${subject}`)
  if (result.rate_limited) parts.push(`rate limit: held back ${result.rate_limited.join(', ')} notice (counted in the next one)`)
  for (const id of result.silence_summaries ?? []) parts.push(`silence ${id} is over: summary handed over`)
  for (const m of result.fleet_outbox?.sent ?? []) parts.push(`${m.digest ? `digest of ${m.notices} notices` : 'fleet outbox notice'} sent via ${m.channel}: ${m.subject}`)
  if (result.waiting && !result.notices.length) parts.push(`${result.waiting} notice(s) waiting`)
  for (const p of result.problems) if (!/ notice \S+ via /.test(p)) parts.push(`ERROR ${p}`)
  return parts.join('; ')
}
