import { formatDuration } from '../lib/duration.ts'
import { DEFAULT_STARTUP_GRACE_MS, type HealthRecord, type HealthStatus } from './record.ts'
import { downAlertNote, downFacts, downReference, makeNotice, recordFacts, restartNote, stamp, when } from './watch-notices.ts'
import { alertSent, iso, wasDelivered } from './watch-outbox.ts'
import { RESTART_MAX_ATTEMPTS, type Flapping, type Incident, type Notice, type Phase, type RestartAttempt, type StoredState, type WatchFile } from './watch-types.ts'

/**
 * The watch's state machine, as plain functions over plain data with the clock passed in:
 *
 *   UP ──fail──▶ PENDING (k of N) ──N-th fail──▶ DOWN ──healthy──▶ UP
 *                      └──healthy (a blip: nothing sent)──▶ UP
 *   (`starting`, a gateway not ready yet within its start-up grace, leaves every phase as it is)
 *
 * One incident per run of failures: its id is the time of its first failing check. DOWN is sent
 * once per incident; RECOVERED once when it ends after a DOWN was due; reminders by time; a molt
 * that keeps flipping gets one FLAPPING notice instead of a DOWN/RECOVERED stream. Notices wait in
 * an outbox until a transport accepts them, keeping their Message-ID across retries.
 */

export * from './watch-types.ts'
export * from './watch-outbox.ts'
export { restartNote, stamp, when } from './watch-notices.ts'

export interface DecideOptions {
  /** N, 1-64 */
  threshold: number
  remindMs: number | null
  restart: { enabled: boolean; unhealthy: boolean }
  /** how long `starting` may last across runs before it counts as a failure (default 2 min) */
  startupGraceMs?: number
}

export interface Decision {
  state: WatchFile
  /** notices added to the outbox by this check */
  queued: Notice[]
  /** undelivered notices this check made pointless (merged into a RECOVERED) */
  dropped: Notice[]
  /** the shell should run the restart command now */
  restart: { attempt: number; max: number } | null
  /** phase before the check; `to` is state.phase */
  from: Phase
  flapping: 'started' | 'ended' | null
}

export const FLAP_WINDOW = 20
/** flapping starts when at least this many flips weigh at least FLAP_START of the window */
export const FLAP_MIN_CHANGES = 3
export const FLAP_START = 0.4
export const FLAP_MIN_SPAN = 9
/** and ends after this many identical results */
export const FLAP_STABLE = 10
export const RESTART_SPACING_MS = 5 * 60_000
/** cron starts runs a few seconds late or early: a 5-minute slot must not be skipped for that */
export const SCHEDULE_SLACK_MS = 15_000
export const OUTBOX_MAX = 10

const RESTARTABLE: readonly HealthStatus[] = ['dead', 'stopped']

export function initialState(threshold: number): WatchFile {
  return {
    version: 2,
    consecutive_failures: 0,
    last_check: null,
    last_status: null,
    last_success: null,
    alert_sent: false,
    interval_minutes: null,
    phase: 'up',
    threshold,
    recent: '',
    incident: null,
    flapping: null,
    last_restart_at: null,
    last_incident: null,
    outbox: [],
    alert_config: null,
  }
}

/**
 * Any stored state → version 2. A bash-toolkit state ("consecutive_failures": "3", "alert_sent": 1)
 * becomes an ongoing incident whose start is estimated; an alert it sent counts as delivered.
 */
export function upgradeState(stored: StoredState | null, threshold: number, now: number): WatchFile {
  if (!stored) return initialState(threshold)
  const state = structuredClone(stored) as WatchFile
  const defaults = initialState(threshold) as Record<string, unknown>
  for (const key of Object.keys(defaults)) if ((state as Record<string, unknown>)[key] === undefined) (state as Record<string, unknown>)[key] = defaults[key]
  if (stored.version === 2) return state
  state.version = 2
  const failures = state.consecutive_failures
  state.recent = failures ? 'F'.repeat(Math.min(failures, FLAP_WINDOW)) : state.last_success ? 'S' : ''
  if (failures > 0) {
    const since = state.last_check && !Number.isNaN(Date.parse(state.last_check)) ? iso(Date.parse(state.last_check)) : iso(now)
    const status = (HEALTH_FAILURES as readonly string[]).includes(state.last_status ?? '') ? (state.last_status as HealthStatus) : 'unknown'
    state.incident = newIncident(since, status, null)
    state.incident.estimated = true
    if (stored.alert_sent) {
      state.incident.down_notice = 'legacy'
      state.incident.down_notified_at = since
      state.incident.down_at = since
    }
  }
  state.alert_sent = Boolean(state.incident?.down_notified_at)
  state.phase = phaseOf(failures, threshold)
  return state
}

const HEALTH_FAILURES = ['unhealthy', 'dead', 'stopped', 'unknown'] as const

export function phaseOf(failures: number, threshold: number): Phase {
  return failures === 0 ? 'up' : failures < threshold ? 'pending' : 'down'
}

/** One check's effect on the state: counting, incidents, flapping, the notices it makes due. */
export function decide(previous: WatchFile, checked: HealthRecord, now: number, options: DecideOptions): Decision {
  let record = checked
  const s = structuredClone(previous)
  const from = s.phase
  const N = options.threshold
  const at = record.timestamp
  const healthy = record.status === 'healthy'
  const queued: Notice[] = []
  const dropped: Notice[] = []
  const queue = (notice: Notice) => {
    queued.push(notice)
    s.outbox.push(notice)
  }
  let restart: Decision['restart'] = null
  let flapping: Decision['flapping'] = null

  s.threshold = N
  s.last_check = at
  s.last_status = record.status
  // a gateway within its start-up grace is neither a failure nor a recovery: the count holds. Each
  // start of a gateway that keeps crashing is young again, so the grace also runs across checks:
  // starting for longer than it is a failure (a restart loop never gets ready)
  if (record.status === 'starting') {
    s.starting_since ??= at
    const grace = options.startupGraceMs ?? DEFAULT_STARTUP_GRACE_MS
    const since = Date.parse(s.starting_since)
    if (Number.isNaN(since) || now - since < grace) return { state: s, queued, dropped, restart, from, flapping }
    record = { ...record, status: 'unhealthy', reason: `not ready for ${formatDuration(now - since)}, longer than the ${formatDuration(grace)} start-up grace (restarting again and again?): ${record.reason ?? ''}` }
    s.last_status = 'unhealthy'
  } else s.starting_since = null
  s.recent = (s.recent + (healthy ? 'S' : 'F')).slice(-FLAP_WINDOW)

  let flapEnded: Flapping | null = null
  if (!s.flapping) {
    const flips = flipsOf(s.recent)
    if (flips.changes >= FLAP_MIN_CHANGES && flips.weight >= FLAP_START) {
      const notice = makeNotice('flapping', `flapping.${stamp(at)}`, at, s.incident?.id ?? null, null, {
        ...recordFacts(record, s),
        changes: flips.changes,
        window: s.recent.length,
        failed: [...s.recent].filter((c) => c === 'F').length,
      })
      s.flapping = { since: at, notice: notice.id, notified_at: null }
      queue(notice)
      flapping = 'started'
    }
  } else if (s.recent.length >= FLAP_STABLE && new Set(s.recent.slice(-FLAP_STABLE)).size === 1) {
    flapEnded = s.flapping
    s.flapping = null
    // the flips are behind us: judge the next ones on a clean window
    s.recent = s.recent.slice(-FLAP_STABLE)
    flapping = 'ended'
    drop(s, dropped, (n) => n.id === flapEnded!.notice && !wasDelivered(n))
  }

  if (healthy) {
    s.consecutive_failures = 0
    s.last_success = at
    const incident = s.incident
    if (incident) {
      const duration = Math.max(0, Date.parse(at) - Date.parse(incident.id))
      if (incident.down_notice !== null && !s.flapping) {
        const undelivered = drop(s, dropped, (n) => n.incident === incident.id && !wasDelivered(n))
        const down = undelivered.find((n) => n.kind === 'down')
        queue(makeNotice('recovered', `recovered.${stamp(incident.id)}`, at, incident.id, downReference(incident, down), {
          ...recordFacts(record, s),
          first_failure: when(incident.id) + (incident.estimated ? ' (estimated)' : ''),
          first_reason: incident.first_reason,
          first_status: incident.first_status,
          outage: formatDuration(duration),
          subject_note: ` after ${formatDuration(duration)}`,
          down_alert: downAlertNote(incident, down),
          restart_note: restartNote(incident),
          flapping_note: '',
        }))
      }
      s.last_incident = {
        id: incident.id,
        first_status: incident.first_status,
        first_reason: incident.first_reason,
        ended_at: at,
        duration_ms: duration,
        down_notified_at: incident.down_notified_at,
        restarts: incident.restarts.length,
      }
      s.incident = null
    }
    if (flapEnded && !queued.some((n) => n.kind === 'recovered')) {
      queue(makeNotice('recovered', `recovered.${stamp(flapEnded.since)}.flapping`, at, null, flapEnded.notified_at ? flapEnded.notice : null, {
        ...recordFacts(record, s),
        first_failure: null,
        outage: null,
        subject_note: ' (stable again)',
        down_alert: '',
        restart_note: '',
        flapping_note: `It had been flapping since ${when(flapEnded.since)}; the last ${FLAP_STABLE} checks were all healthy.`,
      }))
    }
  } else {
    s.consecutive_failures += 1
    s.incident ??= newIncident(at, record.status, record.reason ?? null)
    const incident = s.incident
    const failures = s.consecutive_failures
    if (failures >= N) {
      incident.down_at ??= at
      if (!s.flapping && incident.down_notice === null) {
        const notice = makeNotice('down', `down.${stamp(incident.id)}`, at, incident.id, null, downFacts(record, s, incident))
        incident.down_notice = notice.id
        queue(notice)
      } else if (!s.flapping && options.remindMs && incident.down_notified_at) {
        const last = Date.parse(incident.last_reminder_at ?? incident.down_notified_at)
        const waiting = s.outbox.some((n) => n.kind === 'reminder' && n.incident === incident.id)
        if (!waiting && now - last >= options.remindMs - SCHEDULE_SLACK_MS) {
          incident.reminders += 1
          incident.last_reminder_at = iso(now)
          queue(makeNotice('reminder', `reminder.${stamp(incident.id)}.${incident.reminders}`, at, incident.id, downReference(incident), {
            ...downFacts(record, s, incident),
            reminder: incident.reminders,
            down_for: formatDuration(Math.max(0, Date.parse(at) - Date.parse(incident.id))),
          }))
        }
      }
      const restartable = RESTARTABLE.includes(record.status) || (options.restart.unhealthy && record.status === 'unhealthy')
      const spaced = !s.last_restart_at || now - Date.parse(s.last_restart_at) >= RESTART_SPACING_MS - SCHEDULE_SLACK_MS
      if (options.restart.enabled && restartable && spaced && incident.restarts.length < RESTART_MAX_ATTEMPTS) {
        restart = { attempt: incident.restarts.length + 1, max: RESTART_MAX_ATTEMPTS }
      }
      if (incident.restarts.length >= RESTART_MAX_ATTEMPTS && incident.restart_failed_notice === null) {
        const notice = makeNotice('restart-failed', `restart-failed.${stamp(incident.id)}`, at, incident.id, downReference(incident), {
          ...downFacts(record, s, incident),
          attempts: incident.restarts.length,
        })
        incident.restart_failed_notice = notice.id
        queue(notice)
      }
    }
  }

  trimOutbox(s, dropped)
  s.phase = phaseOf(s.consecutive_failures, N)
  s.alert_sent = alertSent(s)
  return { state: s, queued, dropped, restart, from, flapping }
}

/** The restart the shell ran (and what the check after it found) joins the incident. */
export function recordRestart(previous: WatchFile, attempt: RestartAttempt): WatchFile {
  const s = structuredClone(previous)
  s.last_restart_at = attempt.at
  if (!s.incident) return s
  s.incident.restarts.push(attempt)
  // notices not yet tried say what the restart did
  const note = restartNote(s.incident)
  for (const notice of s.outbox) if (notice.incident === s.incident.id && notice.attempts === 0) notice.facts.restart_note = note
  return s
}

/**
 * Flips in the window, weighted from 0.8 (oldest) to 1.2 (newest) as Nagios does, as a share of
 * at least FLAP_MIN_SPAN transitions: a short history (a fresh molt) is not flapping after two blips.
 */
export function flipsOf(recent: string): { changes: number; weight: number } {
  const n = recent.length - 1
  if (n < 1) return { changes: 0, weight: 0 }
  let changes = 0
  let weighted = 0
  let total = 0
  for (let i = 0; i < n; i++) {
    const w = n === 1 ? 1 : 0.8 + (0.4 * i) / (n - 1)
    total += w
    if (recent[i] !== recent[i + 1]) {
      changes++
      weighted += w
    }
  }
  return { changes, weight: weighted / Math.max(total, FLAP_MIN_SPAN) }
}

function newIncident(at: string, status: HealthStatus, reason: string | null): Incident {
  return {
    id: at,
    first_status: status,
    first_reason: reason,
    estimated: false,
    down_at: null,
    down_notice: null,
    down_notified_at: null,
    reminders: 0,
    last_reminder_at: null,
    restarts: [],
    restart_failed_notice: null,
  }
}

/** Undelivered notices matching `pick` leave the outbox; returns them. */
function drop(s: WatchFile, dropped: Notice[], pick: (n: Notice) => boolean): Notice[] {
  const gone = s.outbox.filter(pick)
  s.outbox = s.outbox.filter((n) => !gone.includes(n))
  dropped.push(...gone)
  return gone
}

/** A mail server down for days must not grow the state file: the oldest notices go first. */
function trimOutbox(s: WatchFile, dropped: Notice[]): void {
  while (s.outbox.length > OUTBOX_MAX) dropped.push(s.outbox.shift()!)
}
