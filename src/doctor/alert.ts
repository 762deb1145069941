import { existsSync, type Stats } from 'node:fs'
import { SafeFsError } from '../lib/safe-fs.ts'
import { readRegularFile } from '../lib/safe-read.ts'
import { join, resolve } from 'node:path'
import { parseMailbox } from '../alert/address.ts'
import { chooseMailRoute, type AlertSettings } from '../alert/deliver.ts'
import { buildMessage, defaultFrom, mailHost } from '../alert/message.ts'
import { chooseMsmtpConfig, findMsmtp, msmtpArgv, sendWithMsmtp, type MsmtpConfigChoice } from '../alert/msmtp.ts'
import { agentHook, commanderHooks, sendToCommander, WEBHOOK_TIMEOUT_MS } from '../alert/webhook.ts'
import type { FleetConfig } from '../fleet/config.ts'
import { findMolt, type Molt } from '../fleet/discover.ts'
import type { Notice, NoticeKind } from '../health/watch.ts'
import { systemUsers, userByUid } from '../lib/users.ts'
import type { ScheduleTarget } from '../schedule/target.ts'
import type { DoctorContext } from './context.ts'
import { tcpConnect } from './net.ts'
import { fail, octal, ok, skip, warn, type Finding } from './types.ts'

export interface AlertShared {
  /** route key → the molt whose check sends the test alert, and how it went (set before sending: molts run at once) */
  testAlerts: Map<string, { molt: string; finding: Promise<Finding> }>
}

const SEND_TIMEOUT_MS = 30_000

/**
 * The alert settings the molt's watch runs with: the flags on its scheduled command line over
 * clmnt.json, as `health watch` resolves them.
 */
export function watchAlertSettings(command: string[] | null, config: FleetConfig, baseDir: string, env = process.env): AlertSettings {
  const flags = scheduledFlags(command)
  const emails = flags.get('--alert-email') ?? []
  const one = (flag: string) => flags.get(flag)?.at(-1)
  const msmtpFlag = one('--msmtp-config')
  return {
    emails: emails.length ? emails : (config.alert_emails ?? []),
    mailer: (one('--mailer') as AlertSettings['mailer'] | undefined) ?? config.mailer ?? 'auto',
    msmtpConfig: msmtpFlag ? resolve(msmtpFlag) : config.msmtp_config ? resolve(baseDir, config.msmtp_config) : null,
    smtpUrl: env.CLMNT_SMTP_URL || config.smtp_url || null,
    from: config.from ? parseMailbox(config.from) : null,
    notifyMolt: one('--notify-molt') ?? config.notify_molt ?? null,
  }
}

function scheduledFlags(command: string[] | null): Map<string, string[]> {
  const flags = new Map<string, string[]>()
  const words = command ?? []
  for (let i = words.indexOf('watch') + 1; i > 0 && i < words.length; i++) {
    const word = words[i]!
    const eq = word.indexOf('=')
    const [flag, value] = word.startsWith('--') && eq > 0 ? [word.slice(0, eq), word.slice(eq + 1)] : [word, words[i + 1]]
    if (!['--alert-email', '--mailer', '--msmtp-config', '--notify-molt'].includes(flag) || value === undefined) continue
    flags.set(flag, [...(flags.get(flag) ?? []), value])
    if (eq < 0 || !word.startsWith('--')) i++
  }
  return flags
}

export async function alertChecks(molt: Molt, ctx: DoctorContext, target: ScheduleTarget, command: string[] | null, shared: AlertShared): Promise<Finding[]> {
  if (!ctx.config || !ctx.baseDir) return [skip('monitoring.alert', 'alert route', ctx.configError ? 'clmnt.json is unusable' : 'no base dir')]
  const settings = watchAlertSettings(command, ctx.config.config, ctx.baseDir.dir)
  const findings: Finding[] = []
  if (!settings.emails.length && !settings.notifyMolt) {
    findings.push(warn('monitoring.alert', 'alert route', "no alert channel: alerts only reach cron's MAILTO, if it is set", 'set alert_emails in clmnt.json (or --alert-email in setup), or notify_molt'))
  } else if (settings.emails.length) {
    const mail = await mailCheck(molt, settings, target, ctx)
    findings.push(mail.finding)
    if (ctx.sendTestAlert) findings.push(await testAlert(molt, settings, mail.route, shared))
  } else findings.push(ok('monitoring.alert', 'alert route', 'no mail: the commander molt only'))
  if (settings.notifyMolt) {
    const route = await webhookCheck(settings.notifyMolt, ctx)
    findings.push(route)
    if (ctx.sendTestAlert) findings.push(route.level === 'ok' ? await testWebhook(molt, settings.notifyMolt, ctx, shared) : skip('monitoring.test-webhook', 'test alert to the commander', 'the commander route has a problem (above)'))
  }
  if (ctx.sendTestAlert && !settings.emails.length) findings.push(skip('monitoring.test-alert', 'test alert', 'no alert address to send it to'))
  return findings
}

type Route = { kind: 'msmtp'; msmtp: string; config: MsmtpConfigChoice } | { kind: 'smtp'; url: string } | null

async function mailCheck(molt: Molt, settings: AlertSettings, target: ScheduleTarget, ctx: DoctorContext): Promise<{ finding: Finding; route: Route }> {
  const id = 'monitoring.alert'
  const title = 'alert mail'
  const to = settings.emails.join(', ')
  // as the watch will see it: its user's home and uid, not ours
  const route = chooseMailRoute(settings, molt.home, { findMsmtp: () => findMsmtp(), exists: existsSync, home: target.home })
  if (route.kind === 'none') return { finding: fail(id, title, `to ${to}: ${route.error}`, 'install msmtp with a configuration, or set smtp_url in clmnt.json'), route: null }
  if (route.kind === 'smtp') {
    const url = new URL(route.url)
    const port = Number(url.port) || (url.protocol === 'smtps:' ? 465 : 587)
    const where = `${url.protocol}//${url.hostname}:${port}`
    const tcp = await tcpConnect(url.hostname, port, ctx.timeoutMs)
    if (!tcp.ok) return { finding: fail(id, title, `to ${to} over SMTP ${where}: ${tcp.error}`, 'check smtp_url (host, port) and the firewall towards the mail server'), route }
    return { finding: ok(id, title, `to ${to} over SMTP ${where} (reachable in ${tcp.ms} ms)`), route }
  }
  const choice = chooseMsmtpConfig(settings.msmtpConfig, molt.home, target.uid)
  if ('error' in choice) return { finding: fail(id, title, choice.error, 'give the msmtp configuration a user entry, or set msmtp_config'), route: null }
  // root checking a schedule that runs as the molt: msmtp will run as that user
  const config = choice.user === null && ctx.uid === 0 && target.uid !== 0 ? { ...choice, user: target.user } : choice
  const msmtpRoute: Route = { kind: 'msmtp', msmtp: route.msmtp, config }
  const runAs = config.user ?? target.user
  const file = config.file ?? [join(target.home, '.msmtprc'), '/etc/msmtprc'].find((f) => existsSync(f)) ?? null
  const via = `to ${to} via ${route.msmtp}`
  if (!file) return { finding: fail(id, title, `${via}: no configuration (${join(target.home, '.msmtprc')}, /etc/msmtprc)`, `write ~/.msmtprc for ${runAs} (mode 0600), or set msmtp_config`), route: msmtpRoute }
  const problem = msmtprcProblem(file, runAs, settings)
  if (problem) return { finding: { ...problem, id, title, detail: `${via} -C ${file}: ${problem.detail}` }, route: msmtpRoute }
  return { finding: ok(id, title, `${via} -C ${file} (as ${runAs})`), route: msmtpRoute }
}

/**
 * msmtp refuses (exit 78) a file holding a password that is not its user's own or that others can
 * read, and a mail without an envelope-from address. /etc/msmtprc is shared by design.
 */
function msmtprcProblem(file: string, runAs: string, settings: AlertSettings): Pick<Finding, 'level' | 'detail' | 'advice'> | null {
  let text: string
  let st: Stats
  try {
    // it may be a molt's own file: no link followed, no FIFO waited on (safe-fs.ts)
    ;({ stats: st, text } = readRegularFile(file, 1024 * 1024))
  } catch (error) {
    const why = error instanceof SafeFsError ? error.message : `cannot read it: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`
    return { level: 'fail', detail: why, advice: `make it a regular file readable by ${runAs}` }
  }
  const secret = /^\s*password\s/m.test(text)
  const expected = systemUsers().get(runAs)?.uid
  const system = file === '/etc/msmtprc'
  if (!system && expected !== undefined && st.uid !== expected) {
    const owner = userByUid(st.uid)?.name ?? `uid ${st.uid}`
    return { level: secret ? 'fail' : 'warn', detail: `owned by ${owner}, but msmtp runs as ${runAs}${secret ? ' and refuses a password file not its own' : ''}`, advice: `chown ${runAs}: ${file}` }
  }
  if (!system && st.mode & 0o077) {
    return { level: secret ? 'fail' : 'warn', detail: `mode ${octal(st.mode)}${secret ? ': msmtp refuses a password file others can read' : ', not 0600'}`, advice: `chmod 600 ${file}` }
  }
  if (!/^\s*from\s+\S/m.test(text) && !settings.from) {
    return { level: 'fail', detail: 'no `from` line: msmtp stops with "envelope-from address is missing"', advice: `add "from clmnt@<your domain>" to ${file}, or set "from" in clmnt.json` }
  }
  return null
}

async function webhookCheck(name: string, ctx: DoctorContext): Promise<Finding> {
  const id = 'monitoring.webhook'
  const title = 'commander molt'
  let commander: Molt
  try {
    commander = findMolt(ctx.baseDir!.dir, name).molt
  } catch (error) {
    return fail(id, title, (error as Error).message, 'fix notify_molt (clmnt.json or --notify-molt in setup)')
  }
  if (commander.port === null) return fail(id, title, `${name}: gateway port unknown`, `set MOLT_PORT in ${join(commander.home, '.molt-info')}`)
  const hooks = commanderHooks(commander.home)
  if ('error' in hooks) return fail(id, title, `${name}: ${hooks.error}`, hooks.advice)
  const tcp = await tcpConnect('127.0.0.1', commander.port, ctx.timeoutMs)
  if (!tcp.ok) return fail(id, title, `${name} on 127.0.0.1:${commander.port}: ${tcp.error}`, `start the commander's gateway: alerts to it wait until it answers`)
  return ok(id, title, `${name} on 127.0.0.1:${commander.port} answers, hooks on at ${hooks.path} with a token`)
}

/**
 * --send-test-alert through the commander: a real agent turn on its hooks, as the watch sends one,
 * so a 401 (token), 404 (hooks off or another path) or 400 (payload, agent) shows up now.
 */
async function testWebhook(molt: Molt, name: string, ctx: DoctorContext, shared: AlertShared): Promise<Finding> {
  const id = 'monitoring.test-webhook'
  const title = 'test alert to the commander'
  const key = `webhook:${name}`
  const earlier = shared.testAlerts.get(key)
  if (earlier) {
    const finding = await earlier.finding
    return { ...finding, detail: `same commander as ${earlier.molt}: ${finding.detail}` }
  }
  const finding = (async (): Promise<Finding> => {
    let commander: Molt
    try {
      commander = findMolt(ctx.baseDir!.dir, name).molt
    } catch (error) {
      return skip(id, title, (error as Error).message)
    }
    const host = mailHost()
    const now = new Date().toISOString()
    const message = `[Claw Mountain] test alert from ${host}\n\nThis is a test of the alert route of ${molt.name}, sent by \`clmnt doctor --send-test-alert\` at ${now}. Nothing is wrong; no action is needed.`
    const result = await sendToCommander(commander, agentHook(`clmnt doctor: test alert from ${host}`, message), `doctor-${Date.now().toString(36)}`, WEBHOOK_TIMEOUT_MS)
    return result.ok
      ? ok(id, title, `admitted by ${name}'s gateway as an agent turn`)
      : fail(id, title, `not admitted: ${result.error}`, "fix the commander's hooks settings; the watch would fail the same way")
  })()
  shared.testAlerts.set(key, { molt: molt.name, finding })
  return finding
}

/** One test mail per distinct route and recipients, through the same senders the watch uses. */
async function testAlert(molt: Molt, settings: AlertSettings, route: Route, shared: AlertShared): Promise<Finding> {
  const id = 'monitoring.test-alert'
  const title = 'test alert'
  if (!route) return skip(id, title, 'no usable mail route')
  const key = JSON.stringify([route.kind === 'msmtp' ? msmtpArgv({ msmtp: route.msmtp, config: route.config, readEnvelopeFrom: settings.from !== null }) : route.url, settings.emails])
  const earlier = shared.testAlerts.get(key)
  if (earlier) {
    const finding = await earlier.finding
    return { ...finding, detail: `same route as ${earlier.molt}: ${finding.detail}` }
  }
  const finding = sendTest(molt, settings, route)
  shared.testAlerts.set(key, { molt: molt.name, finding })
  return finding
}

async function sendTest(molt: Molt, settings: AlertSettings, route: NonNullable<Route>): Promise<Finding> {
  const id = 'monitoring.test-alert'
  const title = 'test alert'
  const host = mailHost()
  const from = settings.from ?? defaultFrom(host)
  const now = new Date().toISOString()
  // not a notice of the watch: "test" is no NoticeKind, and the X-Clmnt-Notice header says so
  const notice = { id: `doctor-${Date.now().toString(36)}`, kind: 'test' as NoticeKind, created_at: now, incident: null, in_reply_to: null } as Notice
  const rendered = {
    subject: `clmnt doctor: test alert from ${host}`,
    body: `This is a test of the alert route of ${molt.name} on ${host}, sent by \`clmnt doctor --send-test-alert\` at ${now}.\nNothing is wrong. When this arrives, real alerts will too.\n`,
  }
  let result
  if (route.kind === 'msmtp') {
    const message = buildMessage(notice, rendered, { from, to: settings.emails, host, molt: molt.name, eol: '\n' })
    result = await sendWithMsmtp(message, { msmtp: route.msmtp, config: route.config, readEnvelopeFrom: settings.from !== null, timeoutMs: SEND_TIMEOUT_MS })
  } else {
    const message = buildMessage(notice, rendered, { from, to: settings.emails, host, molt: molt.name })
    const { sendWithSmtp } = await import('../alert/smtp.ts')
    result = await sendWithSmtp(message, { url: route.url, envelope: { from: from.address, to: settings.emails }, timeoutMs: SEND_TIMEOUT_MS })
  }
  return result.ok
    ? ok(id, title, `sent to ${settings.emails.join(', ')}: check that it arrived`)
    : fail(id, title, `not sent: ${result.error}`, 'fix the mail route; the watch would fail the same way')
}
