import type { HealthStatus } from './record.ts'

/**
 * The data of the watch's state machine (watch.ts): what health-watch-state.json holds, version 2.
 */
export type Phase = 'up' | 'pending' | 'down'
export const NOTICE_KINDS = ['down', 'recovered', 'reminder', 'flapping', 'restart-failed'] as const
export type NoticeKind = (typeof NOTICE_KINDS)[number]
export const CHANNELS = ['email', 'webhook', 'stderr'] as const
export type Channel = (typeof CHANNELS)[number]
export type Facts = Record<string, string | number | null>
/** automatic restarts per incident at the most */
export const RESTART_MAX_ATTEMPTS = 3

export interface Notice {
  /** unique and stable: the Message-ID's local part */
  id: string
  kind: NoticeKind
  /** the Date header, kept across retries */
  created_at: string
  incident: string | null
  in_reply_to: string | null
  /** what the templates show, frozen once a delivery was attempted */
  facts: Facts
  attempts: number
  last_attempt_at: string | null
  last_error: string | null
  /** channel → when it accepted the notice */
  delivered: Partial<Record<Channel, string>>
  /** channel → the permanent failure it gave (not retried) */
  failed: Partial<Record<Channel, string>>
}

export interface RestartAttempt {
  attempt: number
  at: string
  command: string
  user: string | null
  exit_code: number | null
  signal: string | null
  error: string | null
  duration_ms: number
  output: string
  /** what the check after the command found */
  result: HealthStatus | null
}

export interface Incident {
  /** ISO time of the incident's first failing check */
  id: string
  first_status: HealthStatus
  first_reason: string | null
  /** carried over from the bash toolkit's state, which did not keep the start: a guess */
  estimated: boolean
  /** when the N-th consecutive failure came */
  down_at: string | null
  /** id of the DOWN notice once one was due ("legacy" when the bash toolkit sent it) */
  down_notice: string | null
  down_notified_at: string | null
  reminders: number
  last_reminder_at: string | null
  restarts: RestartAttempt[]
  restart_failed_notice: string | null
}

export interface Flapping {
  since: string
  notice: string
  notified_at: string | null
}

export interface PastIncident {
  id: string
  first_status: HealthStatus
  first_reason: string | null
  ended_at: string
  duration_ms: number
  down_notified_at: string | null
  restarts: number
}

/** The legacy-tolerant reading of any earlier state file (see watch-state.ts). */
export interface StoredState {
  consecutive_failures: number
  last_check: string | null
  last_status: string | null
  last_success: string | null
  /** a DOWN (or FLAPPING) notice of the current trouble was delivered */
  alert_sent: boolean
  interval_minutes: number | null
  [key: string]: unknown
}

/** health-watch-state.json, version 2. The fields of StoredState are what the bash toolkit wrote too. */
export interface WatchFile extends StoredState {
  version: 2
  phase: Phase
  /** N: consecutive failures that make a molt DOWN */
  threshold: number
  /** the last results, oldest first: S healthy, F not */
  recent: string
  incident: Incident | null
  flapping: Flapping | null
  last_restart_at: string | null
  /** the first of the current run of `starting` checks; null when the last check was something else */
  starting_since?: string | null
  last_incident: PastIncident | null
  outbox: Notice[]
  /** fingerprint of the alert settings the outbox was last tried with (no secrets in it) */
  alert_config: string | null
}

