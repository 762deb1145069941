import type { DeliveryOutcome } from '../health/watch.ts'
import { oneLine } from './message.ts'

/**
 * SMTP through nodemailer, loaded only here (it costs start-up time every cron run would pay).
 * nodemailer's defaults wait up to 2 min to connect and 10 min on a silent socket: ours are
 * 10 s / 10 s / 30 s, all cut to what is left of the run's time budget.
 */
export const SMTP_TIMEOUTS = { connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 30_000 }

export interface SmtpOptions {
  url: string
  envelope: { from: string; to: string[] }
  /** the whole send, whatever nodemailer's own timers do */
  timeoutMs: number
}

const TEMPORARY_CODES = new Set(['ETIMEDOUT', 'ESOCKET', 'ECONNECTION', 'EDNS', 'EABORT', 'EPROXY', 'EMAXLIMIT'])

/** nodemailer error → retry later or give up. A 4xx reply is temporary, 5xx (but 503) permanent. */
export function classifySmtpError(error: unknown): { permanent: boolean; error: string } {
  const e = error as { code?: string; responseCode?: number; message?: string }
  const text = redact(oneLine(e.message ?? String(error), 300))
  const described = e.code ? `${e.code}: ${text}` : text
  if (typeof e.responseCode === 'number' && e.responseCode >= 400 && e.responseCode < 500) return { permanent: false, error: described }
  if (typeof e.responseCode === 'number' && e.responseCode >= 500) return { permanent: e.responseCode !== 503, error: described }
  if (e.code && TEMPORARY_CODES.has(e.code)) return { permanent: false, error: described }
  // EAUTH, ENOAUTH, ETLS, ECONFIG, EENVELOPE, EMESSAGE …: the same message would fail the same way
  if (e.code) return { permanent: true, error: described }
  // no code at all: a socket error of the runtime; try again next run
  return { permanent: false, error: described }
}

/** An error text must never carry the SMTP password. */
export function redact(text: string): string {
  return text.replace(/(smtps?:\/\/)[^@\s/]*@/gi, '$1***@')
}

export async function sendWithSmtp(message: string, options: SmtpOptions): Promise<DeliveryOutcome> {
  // require, not import(): the bundler would hoist the ESM build's `import net/http/zlib …` to
  // the top of the compiled binary and every run would pay ~10 ms; the CJS build stays lazy
  const nodemailer = require('nodemailer') as typeof import('nodemailer')
  const cap = (ms: number) => Math.max(1, Math.min(ms, options.timeoutMs))
  const transport = nodemailer.createTransport({
    url: options.url,
    connectionTimeout: cap(SMTP_TIMEOUTS.connectionTimeout),
    greetingTimeout: cap(SMTP_TIMEOUTS.greetingTimeout),
    socketTimeout: cap(SMTP_TIMEOUTS.socketTimeout),
    dnsTimeout: cap(SMTP_TIMEOUTS.connectionTimeout),
  } as Parameters<typeof nodemailer.createTransport>[0])
  const controller = new AbortController()
  const timer = setTimeout(() => controller.abort(), options.timeoutMs)
  try {
    await transport.sendMail({ envelope: options.envelope, raw: message, signal: controller.signal } as Parameters<typeof transport.sendMail>[0])
    return { ok: true }
  } catch (error) {
    if (controller.signal.aborted) return { ok: false, permanent: false, error: `no answer from the SMTP server within ${Math.round(options.timeoutMs / 1000)} s` }
    return { ok: false, ...classifySmtpError(error) }
  } finally {
    clearTimeout(timer)
    transport.close()
  }
}
