import type { HealthRecord } from './record.ts'
import { RESTART_MAX_ATTEMPTS, type Facts, type Incident, type Notice, type NoticeKind, type RestartAttempt, type WatchFile } from './watch-types.ts'

/**
 * The notices of the watch's state machine (watch.ts) and what they say: the facts a notice's
 * template fills in, the notes on the DOWN alert and on restarts, the times as a reader sees them.
 */

export function makeNotice(kind: NoticeKind, id: string, at: string, incident: string | null, inReplyTo: string | null, facts: Facts): Notice {
  return { id, kind, created_at: at, incident, in_reply_to: inReplyTo, facts, attempts: 0, last_attempt_at: null, last_error: null, delivered: {}, failed: {} }
}

export function recordFacts(record: HealthRecord, s: WatchFile): Facts {
  return {
    molt: record.molt ?? null,
    status: record.status,
    reason: record.reason ?? null,
    pid: record.pid,
    port: record.port,
    http_status: record.http_status,
    response_time: record.response_time_ms === null ? null : `${record.response_time_ms} ms`,
    checked_at: when(record.timestamp),
    last_success: s.last_success ? when(s.last_success) : 'never',
  }
}

export function downFacts(record: HealthRecord, s: WatchFile, incident: Incident): Facts {
  return {
    ...recordFacts(record, s),
    first_failure: when(incident.id) + (incident.estimated ? ' (estimated)' : ''),
    first_reason: incident.first_reason,
    failures: s.consecutive_failures,
    threshold: s.threshold,
    restart_note: restartNote(incident),
  }
}

export function downReference(incident: Incident, undelivered?: Notice): string | null {
  if (!incident.down_notice || incident.down_notice === 'legacy' || undelivered) return null
  return incident.down_notified_at ? incident.down_notice : null
}

export function downAlertNote(incident: Incident, undelivered: Notice | undefined): string {
  if (incident.down_notified_at) return `The DOWN alert went out at ${when(incident.down_notified_at)}.`
  if (undelivered && undelivered.attempts > 0) return `The DOWN alert could not be delivered (${undelivered.last_error ?? 'no transport accepted it'}).`
  return 'No DOWN alert went out: the molt was back before one was sent.'
}

export function restartNote(incident: Incident): string {
  if (!incident.restarts.length) return ''
  const lines = incident.restarts.map((r) => {
    return `Automatic restart ${r.attempt} of ${RESTART_MAX_ATTEMPTS} at ${when(r.at)}: ${r.command} (${restartOutcome(r)}); ${restartVerdict(r)}`
  })
  const last = incident.restarts.at(-1)!
  if (incident.restarts.length >= RESTART_MAX_ATTEMPTS && last.result !== 'healthy') lines.push(`Recovery failed after ${incident.restarts.length} attempts.`)
  return lines.join('\n')
}

/** How the restart command ended: "exit 1", "killed by SIGKILL", or why it could not run. */
export function restartOutcome(r: RestartAttempt): string {
  return r.error ?? (r.exit_code !== null ? `exit ${r.exit_code}` : `killed by ${r.signal}`)
}

/**
 * A restart counts by what the check after it found, not by the command's exit code:
 * `openclaw gateway restart` exits 0 when no service manager owns the gateway and nothing restarted.
 */
function restartVerdict(r: RestartAttempt): string {
  if (r.result === 'healthy') return 'the check after it found the gateway back and ready.'
  if (r.result === 'starting') return 'the check after it found a new gateway starting (not ready yet).'
  if (r.result === null) return 'then not checked.'
  const still = `the check after it still found it ${r.result}`
  if (r.exit_code === 0 && (r.result === 'dead' || r.result === 'stopped')) {
    return `${still}: the command restarted nothing (a gateway run in the foreground has no service to restart; set restart_cmd to what starts it).`
  }
  return `${still}.`
}

/** "2026-02-02T10:30:00.123Z" → "20260202T103000123Z": usable inside a Message-ID. */
export function stamp(at: string): string {
  return at.replace(/[^0-9TZ]/g, '')
}

/** How times read in a notice. */
export function when(at: string): string {
  const ms = Date.parse(at)
  return Number.isNaN(ms) ? at : `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')} UTC`
}
