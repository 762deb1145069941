import { readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import type { z } from 'zod'
import { isMailAddress, parseMailbox } from '../alert/address.ts'
import { parseRateLimit } from '../alert/rate-limit.ts'
import { splitCommand } from '../health/restart.ts'
import { parseDuration } from '../lib/duration.ts'
import { InputError, quote } from '../lib/errors.ts'
import { lazySchema } from '../lib/schema.ts'
import { s3ConfigProblem, type S3ConfigSection } from '../offsite/settings.ts'
import { isMoltName } from './names.ts'

export const FLEET_CONFIG_FILE = 'clmnt.json'
export const DEFAULT_DIGEST_WAIT_MS = 30_000
export const MAILERS = ['auto', 'msmtp', 'smtp'] as const
export type Mailer = (typeof MAILERS)[number]

/**
 * `<base-dir>/clmnt.json`: fleet-wide settings, so secrets (the SMTP URL) stay out of crontab
 * lines and argv. Flags override it. Keys clmnt does not know pass through untouched (the
 * dashboard adds its own section). Every key is optional:
 *
 *   { "alert_emails": ["ops@example.org"], "mailer": "auto", "smtp_url": "smtps://user:pw@host:465",
 *     "msmtp_config": "/etc/msmtprc", "from": "Claw Mountain <clmnt@example.org>",
 *     "consecutive_failures": 2, "remind": "1h", "notify_molt": "commander",
 *     "restart": false, "restart_unhealthy": false, "restart_cmd": "openclaw gateway restart",
 *     "restart_verify_seconds": 60, "startup_grace": "2m" }
 */
export interface FleetConfig {
  alert_emails?: string[]
  mailer?: Mailer
  smtp_url?: string
  msmtp_config?: string
  from?: string
  consecutive_failures?: number
  /** a duration ("1h"), or null/"off" for no reminders */
  remind?: string | null
  notify_molt?: string
  restart?: boolean
  restart_unhealthy?: boolean
  restart_cmd?: string
  /** how long to wait for the gateway to be ready after a restart command */
  restart_verify_seconds?: number
  /** ping this URL after every watch run (Healthchecks.io convention; `/fail` appended when the run failed) */
  heartbeat_url?: string
  /** how long a gateway that is not ready yet counts as `starting` after it started (a duration) */
  startup_grace?: string
  /** `clmnt dashboard`: the token every request must carry ($CLMNT_DASHBOARD_TOKEN overrides it) */
  dashboard?: DashboardConfig
  /** S3-compatible store for `fleet backup --to s3://…` (the environment's AWS_* variables win) */
  s3?: S3ConfigSection
  [key: string]: unknown
}

export interface DashboardConfig {
  token?: string
  /** where operators open the dashboard (alerts link to it) */
  url?: string
  [key: string]: unknown
}

/** One predicate per known key: the zod schema and the fast path below share them. */
const CHECKS: Record<string, { ok: (v: unknown) => boolean; expected: string }> = {
  alert_emails: { ok: (v) => Array.isArray(v) && v.every((a) => typeof a === 'string' && isMailAddress(a)), expected: 'a list of mail addresses' },
  mailer: { ok: (v) => typeof v === 'string' && (MAILERS as readonly string[]).includes(v), expected: `one of ${MAILERS.join(', ')}` },
  smtp_url: { ok: (v) => typeof v === 'string' && isSmtpUrl(v), expected: 'an smtp:// or smtps:// URL' },
  msmtp_config: { ok: (v) => typeof v === 'string' && v.length > 0 && !/[\r\n\0]/.test(v), expected: 'a file path' },
  from: { ok: (v) => typeof v === 'string' && parseMailbox(v) !== null, expected: 'a mail address, or "Name <address>"' },
  consecutive_failures: { ok: (v) => Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 64, expected: 'a whole number from 1 to 64' },
  remind: { ok: (v) => v === null || v === 'off' || (typeof v === 'string' && parseDuration(v) !== null), expected: 'a duration like 1h or 30m, or "off"' },
  notify_molt: { ok: (v) => typeof v === 'string' && isMoltName(v), expected: 'a molt name' },
  restart: { ok: (v) => typeof v === 'boolean', expected: 'true or false' },
  restart_unhealthy: { ok: (v) => typeof v === 'boolean', expected: 'true or false' },
  restart_cmd: { ok: (v) => typeof v === 'string' && commandError(v) === null, expected: 'a command without shell syntax' },
  restart_verify_seconds: { ok: (v) => Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 300, expected: 'a whole number from 1 to 300' },
  digest_wait: { ok: (v) => typeof v === 'string' && parseDigestWait(v) !== undefined, expected: 'a duration from 0s to 10m (e.g. 30s), or "off"' },
  host_checks: { ok: isHostChecks, expected: 'false, or {"disk_free_min_percent": 10, "memory_used_max_percent": 90}' },
  rate_limit: { ok: (v) => typeof v === 'string' && parseRateLimit(v) !== undefined, expected: 'n/duration like "1/1h" (at most n notices per molt per duration), or "off"' },
  heartbeat_url: { ok: (v) => typeof v === 'string' && isHttpUrl(v), expected: 'an http:// or https:// URL' },
  startup_grace: { ok: (v) => typeof v === 'string' && (v === '0' || parseDuration(v) !== null), expected: 'a duration like 2m or 90s, or "0"' },
  dashboard: { ok: isDashboardConfig, expected: 'an object like {"token": "…", "url": "https://…"} (a token of printable characters without spaces)' },
  s3: { ok: (v) => s3ConfigProblem(v) === null, expected: 'an object: endpoint, region, access_key_id, secret_access_key, session_token, virtual_hosted_style' },
}

function isHostChecks(v: unknown): boolean {
  if (v === false) return true
  if (!v || typeof v !== 'object' || Array.isArray(v)) return false
  const percent = (x: unknown) => x === undefined || (typeof x === 'number' && x >= 0 && x <= 100)
  const r = v as Record<string, unknown>
  return Object.keys(r).every((k) => k === 'disk_free_min_percent' || k === 'memory_used_max_percent') && percent(r.disk_free_min_percent) && percent(r.memory_used_max_percent)
}

function isDashboardConfig(v: unknown): boolean {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return false
  const { token, url } = v as DashboardConfig
  return (token === undefined || (typeof token === 'string' && /^[\x21-\x7e]{1,512}$/.test(token))) && (url === undefined || (typeof url === 'string' && isHttpUrl(url)))
}

/** The digest wait: "30s", "2m", "0s" → ms; "off" → null (no digests); anything else → undefined. */
export function parseDigestWait(text: string): number | null | undefined {
  if (text === 'off') return null
  const match = /^(\d{1,4})(s|m)$/.exec(text)
  if (!match) return undefined
  const ms = Number(match[1]) * (match[2] === 'm' ? 60_000 : 1000)
  return ms <= 10 * 60_000 ? ms : undefined
}

export function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value)
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '' && !url.hash
  } catch {
    return false
  }
}

function isSmtpUrl(value: string): boolean {
  try {
    const url = new URL(value)
    return (url.protocol === 'smtp:' || url.protocol === 'smtps:') && url.hostname !== ''
  } catch {
    return false
  }
}

function commandError(value: string): string | null {
  try {
    splitCommand(value)
    return null
  } catch (error) {
    return (error as Error).message
  }
}

export const fleetConfigSchema = lazySchema((z) => {
  const field = (key: string) => {
    const check = CHECKS[key]!
    // a command gets the splitter's own words: they say which character is the problem
    const message = (v: unknown) =>
      key === 'restart_cmd' && typeof v === 'string' ? (commandError(v) ?? `expected ${check.expected}`) : key === 's3' ? (s3ConfigProblem(v) ?? `expected ${check.expected}`) : `expected ${check.expected}`
    return z.unknown().superRefine((v, ctx) => {
      if (!check.ok(v)) ctx.addIssue({ code: 'custom', message: message(v) })
    }).optional()
  }
  // a single address is a list of one: the obvious thing to write by hand
  const emails = z.preprocess((v) => (typeof v === 'string' ? [v] : v), field('alert_emails'))
  return z.looseObject({ ...Object.fromEntries(Object.keys(CHECKS).map((key) => [key, field(key)])), alert_emails: emails })
})

export type FleetConfigSchema = z.infer<ReturnType<typeof fleetConfigSchema>>

/** True when every known key already holds a valid value, so zod need not load (cron runs this often). */
export function isCleanConfig(raw: unknown): raw is FleetConfig {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return false
  const r = raw as Record<string, unknown>
  return Object.entries(CHECKS).every(([key, check]) => r[key] === undefined || check.ok(r[key]))
}

export interface FleetConfigRead {
  config: FleetConfig
  path: string
  /** the file exists */
  found: boolean
  warnings: string[]
}

/** A missing file is an empty config; an unreadable or invalid one is an exit-2 error naming the key. */
export function readFleetConfig(baseDir: string): FleetConfigRead {
  const path = join(baseDir, FLEET_CONFIG_FILE)
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT') return { config: {}, path, found: false, warnings: [] }
    throw new InputError(`cannot read ${path}: ${code ?? (error as Error).message}`, { cause: error })
  }
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch {
    throw new InputError(`${path} is not valid JSON`)
  }
  let config: FleetConfig
  if (isCleanConfig(raw)) config = raw
  else {
    const parsed = fleetConfigSchema().safeParse(raw)
    if (!parsed.success) {
      const issue = parsed.error.issues[0]
      const where = issue?.path.length ? issue.path.join('.') : 'the file'
      throw new InputError(`${path}: ${where}: ${issue?.message ?? 'invalid'}${issue?.path.length ? '' : ' (expected a JSON object)'}`)
    }
    config = parsed.data as FleetConfig
  }
  const warnings: string[] = []
  if (config.smtp_url && hasPassword(config.smtp_url) && readableByOthers(path)) {
    warnings.push(`${path} holds an SMTP password and is readable by other users: chmod 600 ${quote(path)}`)
  }
  if (config.dashboard?.token && readableByOthers(path)) {
    warnings.push(`${path} holds the dashboard token and is readable by other users: chmod 600 ${quote(path)}`)
  }
  if (config.s3?.secret_access_key && readableByOthers(path)) {
    warnings.push(`${path} holds an S3 secret key and is readable by other users: chmod 600 ${quote(path)}`)
  }
  return { config, path, found: true, warnings }
}

function hasPassword(url: string): boolean {
  try {
    return new URL(url).password !== ''
  } catch {
    return false
  }
}

function readableByOthers(path: string): boolean {
  try {
    return (statSync(path).mode & 0o044) !== 0
  } catch {
    return false
  }
}
