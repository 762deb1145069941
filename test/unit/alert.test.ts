import { describe, expect, test } from 'bun:test'
import { isMailAddress, parseMailbox } from '../../src/alert/address.ts'
import { channelsFor, chooseMailRoute, type AlertSettings } from '../../src/alert/deliver.ts'
import { buildMessage, encodeHeader, formatMailbox, mailHost, messageId, oneLine, quotedPrintable, renderNotice, rfc5322Date } from '../../src/alert/message.ts'
import { msmtpArgv } from '../../src/alert/msmtp.ts'
import { classifySmtpError, redact } from '../../src/alert/smtp.ts'
import { TEMPLATES } from '../../src/alert/templates.ts'
import { agentHook } from '../../src/alert/webhook.ts'
import { NOTICE_KINDS, type Notice } from '../../src/health/watch.ts'

const notice = (over: Partial<Notice> = {}): Notice => ({
  id: 'down.20260202T100000000Z',
  kind: 'down',
  created_at: '2026-02-02T10:05:00.000Z',
  incident: '2026-02-02T10:00:00.000Z',
  in_reply_to: null,
  facts: {
    molt: 'mybot', status: 'dead', reason: 'PID 4242 from gateway.pid is not running', pid: 4242, port: 19001, http_status: null, response_time: null,
    checked_at: '2026-02-02 10:05:00 UTC', last_success: '2026-02-02 09:55:00 UTC', first_failure: '2026-02-02 10:00:00 UTC', first_reason: 'PID gone',
    failures: 2, threshold: 2, restart_note: '',
  },
  attempts: 0, last_attempt_at: null, last_error: null, delivered: {}, failed: {},
  ...over,
})
const FROM = { name: 'Claw Mountain', address: 'clmnt@vm.example.org' }
const headersOf = (message: string) => message.split('\r\n\r\n')[0]!.split('\r\n')

describe('rendering from templates/alert', () => {
  test('DOWN: the subject and every field of the body', () => {
    const { subject, body } = renderNotice(notice(), { host: 'vm.example.org' })
    expect(subject).toBe('[Claw Mountain] molt mybot is DOWN (dead)')
    for (const line of [
      'Molt mybot on vm.example.org is DOWN: dead (PID 4242 from gateway.pid is not running).',
      'first failure   2026-02-02 10:00:00 UTC',
      'failures        2 consecutive checks (alert after 2)',
      'PID             4242',
      'port            19001',
      'HTTP status     -',
      'response time   -',
      'last success    2026-02-02 09:55:00 UTC',
      'host            vm.example.org',
      'clmnt molt health status mybot',
      'clmnt molt health logs mybot',
    ]) expect(body).toContain(line)
    // an empty note leaves no gap
    expect(body).not.toMatch(/\n\n\n/)
  })

  test.each([...NOTICE_KINDS])('%s: every placeholder is filled', (kind) => {
    const { subject, body } = renderNotice(notice({ kind }), { host: 'h', extra: { restart_log: '/x/restart.log' } })
    expect(`${subject}\n${body}`).not.toContain('{{')
    expect(TEMPLATES[kind]).toStartWith('Subject: [Claw Mountain] molt {{molt}} ')
  })

  test('a multi-line note keeps its lines; a line of only an empty placeholder disappears', () => {
    const withNote = renderNotice(notice({ facts: { ...notice().facts, restart_note: 'Automatic restart 1 of 3: x (exit 1); then dead.\nRecovery failed after 3 attempts.' } }), { host: 'h' })
    expect(withNote.body).toContain('then dead.\nRecovery failed after 3 attempts.\n')
  })
})

describe('header injection is impossible', () => {
  const evil = 'dead\r\nBcc: victim@example.org\r\n\r\nforged body'
  test('a CR/LF in any fact stays inside its line', () => {
    const n = notice({ facts: { ...notice().facts, status: evil, reason: evil } })
    const rendered = renderNotice(n, { host: 'h' })
    expect(rendered.subject).toBe('[Claw Mountain] molt mybot is DOWN (dead Bcc: victim@example.org forged body)')
    const message = buildMessage(n, rendered, { from: FROM, to: ['ops@example.org'], host: 'h', molt: 'mybot' })
    const headers = headersOf(message)
    expect(headers.filter((h) => /^bcc:/i.test(h))).toEqual([])
    expect(headers.find((h) => h.startsWith('Subject:'))).toBe('Subject: [Claw Mountain] molt mybot is DOWN (dead Bcc: victim@example.org forged body)')
  })

  test.each([
    ['ops@example.org\r\nBcc: x@y.org', false],
    ['ops@example.org, x@y.org', false],
    ['"a b"@example.org', false],
    ['ops@example.org>', false],
    ['ops@[127.0.0.1]', false],
    ['ops', false],
    ['ops@example.org', true],
    ['first.last+alerts@mail.example.org', true],
    ['o\'neil@example.org', true],
  ])('address %p valid: %p', (address, valid) => expect(isMailAddress(address)).toBe(valid))

  test('a display name cannot carry quotes, brackets or line breaks', () => {
    expect(parseMailbox('Claw Mountain <clmnt@example.org>')).toEqual({ name: 'Claw Mountain', address: 'clmnt@example.org' })
    expect(parseMailbox('clmnt@example.org')).toEqual({ name: null, address: 'clmnt@example.org' })
    expect(parseMailbox('Evil\r\nBcc: x@y.org <clmnt@example.org>')).toBeNull()
    expect(parseMailbox('"Quoted" <clmnt@example.org>')).toBeNull()
    expect(formatMailbox({ name: 'Claw Mountain', address: 'a@b.org' })).toBe('"Claw Mountain" <a@b.org>')
    expect(formatMailbox({ name: 'Gipfel Überwachung', address: 'a@b.org' })).toMatch(/^=\?UTF-8\?B\?[A-Za-z0-9+/=]+\?= <a@b\.org>$/)
  })

  test('the host name is cleaned before it names a message', () => {
    expect(mailHost('VM_01\r\nBcc: x')).toBe('vm-01-bcc-x')
    expect(mailHost('')).toBe('localhost')
    expect(messageId({ id: 'down.20260202T100000000Z' }, 'mybot', 'vm')).toBe('<clmnt.mybot.down.20260202T100000000Z@vm>')
  })
})

describe('the message', () => {
  test('From, To, Date, Message-ID, Subject from the notice; a retry is byte for byte the same', () => {
    const n = notice()
    const build = () => buildMessage(n, renderNotice(n, { host: 'vm' }), { from: FROM, to: ['ops@example.org', 'oncall@example.org'], host: 'vm', molt: 'mybot' })
    const message = build()
    expect(headersOf(message)).toEqual([
      'Date: Mon, 02 Feb 2026 10:05:00 +0000',
      'From: "Claw Mountain" <clmnt@vm.example.org>',
      'To: ops@example.org, oncall@example.org',
      'Subject: [Claw Mountain] molt mybot is DOWN (dead)',
      'Message-ID: <clmnt.mybot.down.20260202T100000000Z@vm>',
      'MIME-Version: 1.0',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Transfer-Encoding: 7bit',
      'Auto-Submitted: auto-generated',
      'X-Clmnt-Molt: mybot',
      'X-Clmnt-Notice: down',
      'X-Clmnt-Incident: 2026-02-02T10:00:00.000Z',
    ])
    expect(build()).toBe(message)
    expect(message).toEndWith('\r\n')
    expect(message.replace(/\r\n/g, '')).not.toContain('\n')
  })

  test('RECOVERED answers the DOWN (In-Reply-To, References)', () => {
    const n = notice({ kind: 'recovered', id: 'recovered.20260202T100000000Z', in_reply_to: 'down.20260202T100000000Z' })
    const headers = headersOf(buildMessage(n, renderNotice(n, { host: 'vm' }), { from: FROM, to: ['ops@example.org'], host: 'vm', molt: 'mybot' }))
    expect(headers).toContain('In-Reply-To: <clmnt.mybot.down.20260202T100000000Z@vm>')
    expect(headers).toContain('References: <clmnt.mybot.down.20260202T100000000Z@vm>')
  })

  test('non-ASCII: RFC 2047 subject, quoted-printable body', () => {
    expect(encodeHeader('plain')).toBe('plain')
    const encoded = encodeHeader('molt ist ausgefallen: Verbindung verweigert – Gateway tot ☠')
    expect(encoded).toMatch(/^(=\?UTF-8\?B\?[A-Za-z0-9+/=]+\?=)( =\?UTF-8\?B\?[A-Za-z0-9+/=]+\?=)*$/)
    for (const word of encoded.split(' ')) expect(word.length).toBeLessThanOrEqual(75)
    expect(quotedPrintable('Grüße = fine ')).toBe('Gr=C3=BC=C3=9Fe =3D fine=20')
    const long = quotedPrintable('ä'.repeat(60))
    for (const line of long.split('\n')) expect(line.length).toBeLessThanOrEqual(76)
    const n = notice({ facts: { ...notice().facts, reason: 'Zeitüberschreitung' } })
    const message = buildMessage(n, renderNotice(n, { host: 'vm' }), { from: FROM, to: ['ops@example.org'], host: 'vm', molt: 'mybot', eol: '\n' })
    expect(message).toContain('Content-Transfer-Encoding: quoted-printable\n')
    expect(message).toContain('Zeit=C3=BCberschreitung')
  })

  test('oneLine and the date format', () => {
    expect(oneLine('a\nb\r\tc\u2028d')).toBe('a b c d')
    expect(oneLine('x'.repeat(600)).length).toBe(500)
    expect(rfc5322Date('2026-02-02T10:05:00.000Z')).toBe('Mon, 02 Feb 2026 10:05:00 +0000')
  })
})

describe('transports', () => {
  test.each([
    ['ETIMEDOUT', false, { code: 'ETIMEDOUT', message: 'Connection timeout' }],
    ['ESOCKET', false, { code: 'ESOCKET', message: 'socket closed' }],
    ['ECONNECTION', false, { code: 'ECONNECTION', message: 'Connection closed' }],
    ['EDNS', false, { code: 'EDNS', message: 'no such host' }],
    ['EAUTH 535', true, { code: 'EAUTH', message: 'Invalid login: 535 5.7.8 bad credentials', responseCode: 535 }],
    ['EAUTH', true, { code: 'EAUTH', message: 'Invalid login' }],
    ['EAUTH 454', false, { code: 'EAUTH', message: '454 temporary auth failure', responseCode: 454 }],
    ['EENVELOPE 550', true, { code: 'EENVELOPE', message: 'all recipients were rejected: 550', responseCode: 550 }],
    ['EENVELOPE 451', false, { code: 'EENVELOPE', message: '451 greylisted', responseCode: 451 }],
    ['EMESSAGE 503', false, { code: 'EMESSAGE', message: '503 bad sequence', responseCode: 503 }],
    ['ETLS', true, { code: 'ETLS', message: 'certificate' }],
    ['no code', false, new Error('something odd')],
  ])('nodemailer %s → permanent %p', (_, permanent, error) => expect(classifySmtpError(error).permanent).toBe(permanent))

  test('an SMTP URL in an error text loses its password', () => {
    expect(redact('cannot reach smtps://user:s3cret@mail.example.org:465')).toBe('cannot reach smtps://***@mail.example.org:465')
    expect(classifySmtpError({ code: 'EAUTH', message: 'smtp://a:b@h failed' }).error).not.toContain(':b@')
  })

  test('msmtp: an argument array with -t; a molt\'s own file run as its owner', () => {
    expect(msmtpArgv({ msmtp: '/usr/bin/msmtp', config: { file: null, user: null, source: 'default' }, readEnvelopeFrom: false })).toEqual(['/usr/bin/msmtp', '-t'])
    expect(msmtpArgv({ msmtp: '/usr/bin/msmtp', config: { file: '/etc/x rc', user: null, source: 'option' }, readEnvelopeFrom: true })).toEqual(['/usr/bin/msmtp', '-t', '-C', '/etc/x rc', '--read-envelope-from'])
    const asUser = msmtpArgv({ msmtp: '/usr/bin/msmtp', config: { file: '/home/mybot/.msmtprc', user: 'mybot', source: 'molt' }, readEnvelopeFrom: false })
    expect(asUser.slice(1)).toEqual(['-u', 'mybot', '--', '/usr/bin/msmtp', '-t', '-C', '/home/mybot/.msmtprc'])
    expect(asUser[0]).toEndWith('runuser')
  })

  test("the webhook body is OpenClaw's hook agent payload: message, name, deliver false, agentId when given", () => {
    expect(agentHook('clmnt health: mybot down', 'text')).toEqual({ message: 'text', name: 'clmnt health: mybot down', deliver: false })
    expect(agentHook('n', 'text', 'ops')).toEqual({ message: 'text', name: 'n', deliver: false, agentId: 'ops' })
  })

  const settings = (over: Partial<AlertSettings> = {}): AlertSettings => ({ emails: [], mailer: 'auto', msmtpConfig: null, smtpUrl: null, from: null, notifyMolt: null, ...over })
  const probe = (msmtp: string | null, files: string[] = []) => ({ findMsmtp: () => msmtp, exists: (p: string) => files.includes(p), home: '/root' })

  test('channels: email and/or webhook; none configured → stderr (cron mails it)', () => {
    expect(channelsFor(settings())).toEqual(['stderr'])
    expect(channelsFor(settings({ emails: ['a@b.org'], notifyMolt: 'cmd' }))).toEqual(['email', 'webhook'])
  })

  test.each([
    ['auto, msmtp installed and configured → msmtp', settings(), probe('/usr/bin/msmtp', ['/etc/msmtprc']), 'msmtp'],
    ['auto, msmtp installed without any config, SMTP URL set → smtp', settings({ smtpUrl: 'smtp://h' }), probe('/usr/bin/msmtp'), 'smtp'],
    ['auto, no msmtp, SMTP URL → smtp', settings({ smtpUrl: 'smtp://h' }), probe(null), 'smtp'],
    ['auto, nothing at all → none', settings(), probe(null), 'none'],
    ['smtp without URL → none', settings({ mailer: 'smtp' }), probe('/usr/bin/msmtp', ['/etc/msmtprc']), 'none'],
    ['msmtp forced → msmtp', settings({ mailer: 'msmtp', smtpUrl: 'smtp://h' }), probe('/usr/bin/msmtp'), 'msmtp'],
  ])('%s', (_, s, p, kind) => {
    expect(chooseMailRoute(s, '/nonexistent-molt', p).kind).toBe(kind as never)
  })
})
