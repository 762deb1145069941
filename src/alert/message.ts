import { hostname } from 'node:os'
import type { Facts, Notice, NoticeKind } from '../health/watch.ts'
import type { Mailbox } from './address.ts'
import { TEMPLATES } from './templates.ts'

/**
 * A notice as text (templates/alert/<kind>.txt: a "Subject:" line, a blank line, the body) and as
 * an RFC 5322 message. Every value is cleaned before it lands anywhere: the subject and every
 * header are single lines of printable text, addresses are validated beforehand (address.ts),
 * so no value can add a header or a recipient.
 */
export interface RenderedNotice {
  subject: string
  body: string
}

export interface RenderContext {
  host: string
  /** extra values: restart_log, … */
  extra?: Facts
}

const MAX_VALUE = 500
const MAX_SUBJECT = 200

/** A value for a single line: control characters become spaces, long values are cut. */
export function oneLine(value: string, max = MAX_VALUE): string {
  return inline(value, max).trim()
}

/** oneLine without the trim: a value inside a line keeps its own leading space. */
function inline(value: string, max = MAX_VALUE): string {
  const text = value.replace(/[\x00-\x1f\x7f\u2028\u2029\u0085]+/g, ' ').replace(/ {2,}/g, ' ')
  return text.length > max ? `${text.slice(0, max - 1)}…` : text
}

/** A value for the body: may keep its own line breaks (restart notes), nothing else. */
function bodyValue(value: string): string {
  return value.split(/\r\n|\r|\n/).map((line) => inline(line)).join('\n')
}

export function renderNotice(notice: Pick<Notice, 'kind' | 'id' | 'facts'>, context: RenderContext, templates: Record<NoticeKind, string> = TEMPLATES): RenderedNotice {
  // rendered without the run's actions (actions.ts), commands still read as commands
  const facts: Facts = { clmnt: 'clmnt', restart_command: '', dashboard: '', gateway_log: '', rate_note: '', ...notice.facts, ...context.extra, host: context.host, notice_id: notice.id }
  const template = templates[notice.kind]
  const newline = template.indexOf('\n')
  const first = template.slice(0, newline < 0 ? undefined : newline)
  if (!first.startsWith('Subject:')) throw new Error(`template ${notice.kind} does not start with a Subject: line`)
  const subject = oneLine(fill(first.slice('Subject:'.length), facts, inline), MAX_SUBJECT)
  const lines: string[] = []
  for (const line of template.slice(newline + 1).replace(/^\r?\n/, '').split(/\r?\n/)) {
    // a line that is only one placeholder disappears when it has nothing to say
    const alone = /^\s*\{\{(\w+)\}\}\s*$/.exec(line)
    if (alone) {
      const value = facts[alone[1]!]
      if (value === null || value === undefined || value === '') continue
    }
    lines.push(fill(line, facts, bodyValue))
  }
  const body = lines.join('\n').replace(/\n{3,}/g, '\n\n').trim()
  return { subject, body: `${body}\n` }
}

function fill(text: string, facts: Facts, clean: (v: string) => string): string {
  return text.replace(/\{\{(\w+)\}\}/g, (_, key: string) => {
    const value = facts[key]
    return value === null || value === undefined ? '-' : clean(String(value))
  })
}

/** The host name as it may appear in a Message-ID and a default From address. */
export function mailHost(name = hostname()): string {
  const host = name.toLowerCase().replace(/[^a-z0-9.-]+/g, '-').replace(/^[-.]+|[-.]+$/g, '')
  return host || 'localhost'
}

export function messageId(notice: Pick<Notice, 'id'>, molt: string, host: string): string {
  return `<clmnt.${molt}.${notice.id}@${host}>`
}

export function defaultFrom(host: string): Mailbox {
  return { name: 'Claw Mountain', address: `clmnt@${host}` }
}

export interface MessageOptions {
  from: Mailbox
  to: string[]
  host: string
  molt: string
  /** "\r\n" for SMTP; msmtp takes "\n" and converts */
  eol?: string
}

/** The whole message. Date and Message-ID come from the notice, so a retry is the same message. */
export function buildMessage(notice: Notice, rendered: RenderedNotice, options: MessageOptions): string {
  const parent = notice.in_reply_to ? messageId({ id: notice.in_reply_to }, options.molt, options.host) : null
  const extra: [string, string][] = [['X-Clmnt-Molt', options.molt], ['X-Clmnt-Notice', notice.kind]]
  if (notice.incident) extra.push(['X-Clmnt-Incident', oneLine(notice.incident, 64)])
  return buildMail({ date: notice.created_at, messageId: messageId(notice, options.molt, options.host), references: parent ? [parent] : [], headers: extra }, rendered, options)
}

export interface MailParts {
  /** ISO time of the Date header */
  date: string
  messageId: string
  /** Message-IDs this one answers, the direct parent first (In-Reply-To is the first) */
  references: string[]
  /** X-Clmnt-… headers */
  headers: [string, string][]
}

/** Any clmnt mail (a notice, a digest of notices): headers from validated or cleaned values only. */
export function buildMail(parts: MailParts, rendered: RenderedNotice, options: Pick<MessageOptions, 'from' | 'to' | 'eol'>): string {
  const eol = options.eol ?? '\r\n'
  const headers: [string, string][] = [
    ['Date', rfc5322Date(parts.date)],
    ['From', formatMailbox(options.from)],
    ['To', options.to.join(', ')],
    ['Subject', encodeHeader(rendered.subject)],
    ['Message-ID', parts.messageId],
  ]
  if (parts.references.length) headers.push(['In-Reply-To', parts.references[0]!], ['References', parts.references.join(' ')])
  const ascii = !/[^\x00-\x7f]/.test(rendered.body)
  headers.push(
    ['MIME-Version', '1.0'],
    ['Content-Type', 'text/plain; charset=utf-8'],
    ['Content-Transfer-Encoding', ascii ? '7bit' : 'quoted-printable'],
    ['Auto-Submitted', 'auto-generated'],
    ...parts.headers,
  )
  // headers are built from validated or cleaned values; this is the last line of defence
  for (const [name, value] of headers) if (/[\r\n]/.test(value)) throw new Error(`header ${name} would span lines`)
  const body = ascii ? rendered.body : quotedPrintable(rendered.body)
  return [...headers.map(([name, value]) => `${name}: ${value}`), '', ...body.replace(/\n$/, '').split('\n')].join(eol) + eol
}

/** The text a commander molt's agent receives. */
export function plainText(rendered: RenderedNotice): string {
  return `${rendered.subject}\n\n${rendered.body}`
}

export function formatMailbox(mailbox: Mailbox): string {
  if (!mailbox.name) return mailbox.address
  const name = oneLine(mailbox.name, 64).replace(/["\\]/g, '')
  return /[^\x20-\x7e]/.test(name) ? `${encodeWords(name)} <${mailbox.address}>` : `"${name}" <${mailbox.address}>`
}

/** RFC 2047 for a subject with non-ASCII text; plain ASCII stays as it is. */
export function encodeHeader(text: string): string {
  return /[^\x20-\x7e]/.test(text) ? encodeWords(text) : text
}

function encodeWords(text: string): string {
  const words: string[] = []
  let chunk = ''
  for (const char of text) {
    // 45 bytes of UTF-8 → 60 characters of base64: each encoded word stays under 76
    if (Buffer.byteLength(chunk + char) > 45) {
      words.push(chunk)
      chunk = ''
    }
    chunk += char
  }
  if (chunk) words.push(chunk)
  // folded with CRLF + space would make a multi-line header; a space between words is as valid
  return words.map((w) => `=?UTF-8?B?${Buffer.from(w).toString('base64')}?=`).join(' ')
}

export function rfc5322Date(at: string): string {
  const ms = Date.parse(at)
  return new Date(Number.isNaN(ms) ? Date.now() : ms).toUTCString().replace(/GMT$/, '+0000')
}

/** Quoted-printable (RFC 2045) of UTF-8 text, lines kept, soft breaks under 76 characters. */
export function quotedPrintable(text: string): string {
  return text.split('\n').map((line) => {
    let out = ''
    let width = 0
    const bytes = Buffer.from(line, 'utf8')
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i]!
      const last = i === bytes.length - 1
      const plain = (b >= 33 && b <= 126 && b !== 61) || ((b === 32 || b === 9) && !last)
      const piece = plain ? String.fromCharCode(b) : `=${b.toString(16).toUpperCase().padStart(2, '0')}`
      if (width + piece.length > 75) {
        out += '=\n'
        width = 0
      }
      out += piece
      width += piece.length
    }
    return out
  }).join('\n')
}
