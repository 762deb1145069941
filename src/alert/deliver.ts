import { existsSync, statSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import type { Molt } from '../fleet/discover.ts'
import type { Mailer } from '../fleet/config.ts'
import { findMolt } from '../fleet/discover.ts'
import { restartLogFile } from '../health/restart.ts'
import type { Channel, DeliveryOutcome, Facts, Notice } from '../health/watch.ts'
import type { Mailbox } from './address.ts'
import { buildMail, defaultFrom, messageId, oneLine, plainText, renderNotice, type MailParts, type RenderedNotice } from './message.ts'
import { chooseMsmtpConfig, findMsmtp, MSMTP_TIMEOUT_MS, sendWithMsmtp, type MsmtpConfigChoice } from './msmtp.ts'
import { agentHook, sendToCommander, WEBHOOK_TIMEOUT_MS } from './webhook.ts'

/** Where a run's notices go: resolved from flags over clmnt.json. */
export interface AlertSettings {
  emails: string[]
  mailer: Mailer
  msmtpConfig: string | null
  smtpUrl: string | null
  /** configured sender; null: "Claw Mountain <clmnt@host>" */
  from: Mailbox | null
  notifyMolt: string | null
}

/** No channel configured: the notice goes to stderr, which cron mails to MAILTO. */
export function channelsFor(settings: AlertSettings): Channel[] {
  const channels: Channel[] = []
  if (settings.emails.length) channels.push('email')
  if (settings.notifyMolt) channels.push('webhook')
  return channels.length ? channels : ['stderr']
}

/**
 * What the alert settings are, as a short hash: a notice refused for good is tried again once this
 * changes. Covers the files whose fixing should count too (msmtp configs, the commander's token).
 */
export function settingsFingerprint(settings: AlertSettings, moltHome: string, baseDir: string): string {
  const mtime = (path: string) => {
    try {
      const st = statSync(path)
      return `${st.mtimeMs}:${st.size}`
    } catch {
      return null
    }
  }
  const files = [settings.msmtpConfig, join(moltHome, '.msmtprc'), join(homedir(), '.msmtprc'), '/etc/msmtprc']
  if (settings.notifyMolt) files.push(join(baseDir, settings.notifyMolt, '.openclaw', 'openclaw.json'))
  const seen = { ...settings, files: files.map((f) => (f ? [f, mtime(f)] : null)) }
  return Bun.hash(JSON.stringify(seen)).toString(16)
}

type MailRoute =
  | { kind: 'msmtp'; msmtp: string; config: MsmtpConfigChoice }
  | { kind: 'smtp'; url: string }
  | { kind: 'none'; error: string }

/**
 * auto: msmtp when it is installed and has a configuration to use; else SMTP when a URL is set;
 * else msmtp anyway (its own error then says what is missing).
 */
export interface RouteProbe {
  findMsmtp(): string | null
  exists(path: string): boolean
  home: string
}

export function chooseMailRoute(settings: AlertSettings, moltHome: string, probe: RouteProbe = { findMsmtp: () => findMsmtp(), exists: existsSync, home: homedir() }): MailRoute {
  const msmtp = settings.mailer === 'smtp' ? null : probe.findMsmtp()
  const msmtpRoute = (): MailRoute => {
    if (!msmtp) return { kind: 'none', error: 'msmtp is not installed (apt-get install msmtp), or use --mailer smtp with smtp_url' }
    const config = chooseMsmtpConfig(settings.msmtpConfig, moltHome)
    return 'error' in config ? { kind: 'none', error: config.error } : { kind: 'msmtp', msmtp, config }
  }
  const smtpRoute = (): MailRoute =>
    settings.smtpUrl ? { kind: 'smtp', url: settings.smtpUrl } : { kind: 'none', error: 'no SMTP URL: set smtp_url in clmnt.json or CLMNT_SMTP_URL' }
  if (settings.mailer === 'msmtp') return msmtpRoute()
  if (settings.mailer === 'smtp') return smtpRoute()
  const hasMsmtpConfig = Boolean(settings.msmtpConfig) || probe.exists(join(moltHome, '.msmtprc')) || probe.exists(join(probe.home, '.msmtprc')) || probe.exists('/etc/msmtprc')
  if (msmtp && hasMsmtpConfig) return msmtpRoute()
  if (settings.smtpUrl) return smtpRoute()
  return msmtpRoute()
}

export interface DispatchContext {
  molt: Molt
  baseDir: string
  host: string
  settings: AlertSettings
  /** ms left in the run's time budget */
  remaining(): number
  /** where the stderr channel writes */
  stderr(text: string): void
  /** values every notice of the run may show (actions.ts: commands, dashboard link, gateway log) */
  extra?: Facts
}

/** Sends notices over the run's channels; the mail route and the commander are resolved once. */
export class Dispatcher {
  #route: MailRoute | undefined
  #commander: { molt: Molt } | { error: string } | undefined

  constructor(readonly context: DispatchContext) {}

  render(notice: Notice): RenderedNotice {
    return renderNotice(notice, { host: this.context.host, extra: { ...this.context.extra, molt: this.context.molt.name, restart_log: restartLogFile(this.context.molt.home) } })
  }

  /** "msmtp (/home/x/.msmtprc)", "smtp", "commander"… for the log */
  describe(channel: Channel): string {
    if (channel !== 'email') return channel === 'webhook' ? `webhook to ${this.context.settings.notifyMolt}` : 'stderr'
    const route = this.route()
    return route.kind === 'msmtp' ? `msmtp${route.config.file ? ` -C ${route.config.file}` : ''}` : route.kind === 'smtp' ? 'smtp' : 'email'
  }

  async send(notice: Notice, channel: Channel): Promise<DeliveryOutcome> {
    const rendered = this.render(notice)
    const { host, molt } = this.context
    const parent = notice.in_reply_to ? messageId({ id: notice.in_reply_to }, molt.name, host) : null
    const headers: [string, string][] = [['X-Clmnt-Molt', molt.name], ['X-Clmnt-Notice', notice.kind]]
    if (notice.incident) headers.push(['X-Clmnt-Incident', oneLine(notice.incident, 64)])
    const parts: MailParts = { date: notice.created_at, messageId: messageId(notice, molt.name, host), references: parent ? [parent] : [], headers }
    return this.sendRendered(channel, rendered, parts, `clmnt health: ${molt.name} ${notice.kind}`, notice.id)
  }

  /** Any clmnt mail (a notice, or a digest of several) over one channel; `title` names the agent turn. */
  async sendRendered(channel: Channel, rendered: RenderedNotice, parts: MailParts, title: string, idempotencyKey: string): Promise<DeliveryOutcome> {
    const budget = (ms: number) => Math.max(1, Math.min(ms, this.context.remaining()))
    if (channel === 'stderr') {
      const note = 'no alert channel configured (--alert-email, --notify-molt or clmnt.json): this output is the alert'
      this.context.stderr(`${rendered.subject}\n(${note})\n\n${rendered.body}`)
      return { ok: true }
    }
    if (channel === 'webhook') {
      const commander = this.commander()
      if ('error' in commander) return { ok: false, permanent: true, error: commander.error }
      const hook = agentHook(title, plainText(rendered))
      // the key keeps its value across retries: the commander replays, it does not run twice
      return sendToCommander(commander.molt, hook, idempotencyKey, budget(WEBHOOK_TIMEOUT_MS))
    }
    const route = this.route()
    if (route.kind === 'none') return { ok: false, permanent: true, error: route.error }
    const { settings, host } = this.context
    const from = settings.from ?? defaultFrom(host)
    if (route.kind === 'msmtp') {
      const message = buildMail(parts, rendered, { from, to: settings.emails, eol: '\n' })
      return sendWithMsmtp(message, { msmtp: route.msmtp, config: route.config, readEnvelopeFrom: settings.from !== null, timeoutMs: budget(MSMTP_TIMEOUT_MS) })
    }
    const message = buildMail(parts, rendered, { from, to: settings.emails })
    const { sendWithSmtp } = await import('./smtp.ts')
    return sendWithSmtp(message, { url: route.url, envelope: { from: from.address, to: settings.emails }, timeoutMs: budget(60_000) })
  }

  /** Why the channel cannot take anything with these settings (for the fleet outbox: refuse before queueing). */
  problem(channel: Channel): string | null {
    if (channel === 'email') {
      const route = this.route()
      return route.kind === 'none' ? route.error : null
    }
    if (channel === 'webhook') {
      const commander = this.commander()
      return 'error' in commander ? commander.error : null
    }
    return null
  }

  private route(): MailRoute {
    return (this.#route ??= chooseMailRoute(this.context.settings, this.context.molt.home))
  }

  private commander(): { molt: Molt } | { error: string } {
    if (!this.#commander) {
      try {
        this.#commander = { molt: findMolt(this.context.baseDir, this.context.settings.notifyMolt!).molt }
      } catch (error) {
        this.#commander = { error: `commander molt: ${(error as Error).message}` }
      }
    }
    return this.#commander
  }
}
