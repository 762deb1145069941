import { isAbsolute } from 'node:path'
import { assertMoltName } from '../fleet/names.ts'
import { durationOption, requireDuration } from '../lib/duration.ts'
import { InputError, UsageError, quote } from '../lib/errors.ts'
import { intOption } from '../lib/numbers.ts'
import type { SetupRequest } from './plan.ts'

export const DEFAULT_INTERVAL = 5

/** The options `setup` passes on to the watch: all of them are refused with --remove/--status. */
export const INSTALL_OPTIONS = ['interval', 'offset', 'alert-email', 'consecutive-failures', 'remind', 'notify-molt', 'restart', 'timeout'] as const

/**
 * Strict and boring on purpose: letters, digits and . _ + - before the @, a dotted host after it.
 * No quotes, spaces, `;`, `$`, backticks or `%` — nothing a shell or cron could read as syntax —
 * and no leading "-", which the watch would read as an option.
 */
const EMAIL = /^[A-Za-z0-9_][A-Za-z0-9._+-]{0,63}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/

export function assertEmail(value: string): string {
  if (value.length > 254 || !EMAIL.test(value)) throw new UsageError(`invalid value ${quote(value)} for --alert-email: expected an address like ops@example.com`)
  return value
}

/** --interval of setup and watch: whole minutes, 1m to 24h; "5" (minutes) as before, or "5m", "1h". */
export function minutesOption(value: string | undefined): number | undefined {
  const ms = durationOption(value, '--interval', { bare: 'm', min: 60_000, max: 1440 * 60_000, whole: 'm' })
  return ms === undefined ? undefined : ms / 60_000
}

export interface RawSetupArgs {
  interval?: string
  offset?: string
  alertEmails: string[]
  consecutiveFailures?: string
  remind?: string
  notifyMolt?: string
  restart?: boolean
  timeout?: string
  crontabUser?: string
}

/** Command-line strings → a validated request. Every value is checked before anything is read or written. */
export function setupRequest(raw: RawSetupArgs, baseDir: string): SetupRequest {
  const interval = minutesOption(raw.interval) ?? DEFAULT_INTERVAL
  const offsetMs = durationOption(raw.offset, '--offset', { bare: 'm', min: 0, max: (interval - 1) * 60_000, whole: 'm' })
  const offset = offsetMs === undefined ? undefined : offsetMs / 60_000
  const remind = raw.remind?.trim()
  // "off" turns off a reminder the fleet config sets
  if (remind !== undefined && remind !== 'off') requireDuration(remind, '--remind')
  if (raw.notifyMolt !== undefined) assertMoltName(raw.notifyMolt)
  if (!isAbsolute(baseDir)) throw new InputError(`base dir ${quote(baseDir)} is not absolute`)
  return {
    baseDir,
    interval,
    offset,
    alertEmails: [...new Set(raw.alertEmails.map(assertEmail))],
    consecutiveFailures: intOption(raw.consecutiveFailures, '--consecutive-failures', { min: 1, max: 64 }),
    remind,
    notifyMolt: raw.notifyMolt,
    restart: raw.restart === true,
    timeoutMs: durationOption(raw.timeout, '--timeout', { bare: 'ms', min: 1, max: 600_000 }),
    crontabUser: raw.crontabUser,
  }
}
