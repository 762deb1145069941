import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'bun:test'
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pidFile, watchStateFile } from '../../src/health/paths.ts'
import { runCli } from '../helpers/cli.ts'
import { buildFleet, startGateway, writeConfig } from '../helpers/fleet.ts'
import { decodeHeader, startSmtpSink, type SmtpSink } from '../helpers/smtp.ts'

// Alerts through the real msmtp binary and through nodemailer, into a real SMTP server.
const MSMTP = ['/usr/bin/msmtp', '/usr/local/bin/msmtp'].find((p) => existsSync(p))
let fleet: Awaited<ReturnType<typeof buildFleet>>
let sink: SmtpSink
let rc: string
const home = (name: string) => join(fleet.baseDir, name)
const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8'))
const fresh = (name: string) => rmSync(join(home(name), '.molt-state'), { recursive: true, force: true })
const watch = (args: string[], env: Record<string, string> = {}) =>
  runCli(['molt', 'health', 'watch', ...args, '-d', fleet.baseDir, '--timeout', '2000', '--consecutive-failures', '1'], { env })

beforeAll(async () => {
  fleet = await buildFleet([
    { name: 'delta', mode: 'dead', pidFile: true },
    { name: 'echo', mode: 'stopped' },
    { name: 'foxtrot', mode: 'dead' },
  ])
  writeConfig(fleet.baseDir)
  sink = await startSmtpSink()
  rc = sink.msmtprc(fleet.baseDir, 'clmnt-sender@example.org')
})
afterAll(async () => {
  fleet.cleanup()
  await sink.close()
})
beforeEach(() => {
  sink.messages.length = 0
  sink.rejectWith = null
})

describe.skipIf(!MSMTP)('msmtp', () => {
  test('one DOWN message: envelope, headers, body', async () => {
    fresh('delta')
    const result = await watch(['delta', '--alert-email', 'ops@example.org', '--alert-email', 'oncall@example.org', '--msmtp-config', rc])
    expect(result).toEqual({ code: 0, stdout: '', stderr: '' })
    expect(sink.messages).toHaveLength(1)
    const [mail] = sink.messages
    expect(mail!.envelope).toEqual({ from: 'clmnt-sender@example.org', to: ['ops@example.org', 'oncall@example.org'] })
    const incident = readJson(watchStateFile(home('delta'))).incident
    expect(mail!.headers).toMatchObject({
      from: '"Claw Mountain" <clmnt@' + mail!.headers['message-id']!.split('@')[1]!.replace('>', '') + '>',
      to: 'ops@example.org, oncall@example.org',
      subject: '[Claw Mountain] molt delta is DOWN (dead)',
      'message-id': expect.stringMatching(/^<clmnt\.delta\.down\.\d{8}T\d{9}Z@[a-z0-9.-]+>$/),
      'x-clmnt-incident': incident.id,
      'auto-submitted': 'auto-generated',
    })
    expect(Date.parse(mail!.headers.date!)).toBe(Math.floor(Date.parse(incident.id) / 1000) * 1000)
    const molt = fleet.molts.find((m) => m.name === 'delta')!
    for (const line of [
      `Molt delta on `,
      `reason          PID ${molt.pid} from gateway.pid is not running`,
      `PID             ${molt.pid}`,
      `port            ${molt.port}`,
      'failures        1 consecutive checks (alert after 1)',
      'last success    never',
      `-d ${fleet.baseDir} molt health status delta`,
      `-d ${fleet.baseDir} molt health logs delta`,
    ]) expect(mail!.body).toContain(line)
    // and only once
    await watch(['delta', '--alert-email', 'ops@example.org', '--msmtp-config', rc])
    expect(sink.messages).toHaveLength(1)
  })

  test("the molt's own ~/.msmtprc is used when no config is given", async () => {
    fresh('foxtrot')
    writeFileSync(join(home('foxtrot'), '.msmtprc'), readFileSync(rc, 'utf8').replace('clmnt-sender@', 'foxtrot@'), { mode: 0o600 })
    try {
      const result = await watch(['foxtrot', '--alert-email', 'ops@example.org', '--mailer', 'msmtp'])
      expect(result.code).toBe(0)
      expect(sink.messages.map((m) => m.envelope.from)).toEqual(['foxtrot@example.org'])
    } finally {
      rmSync(join(home('foxtrot'), '.msmtprc'))
    }
  })

  test('SMTP server down, then up: exit 1 and "will retry", then exactly one DOWN with the same Message-ID', async () => {
    fresh('delta')
    const port = sink.port
    await sink.close()
    let up = false
    try {
      const down = await watch(['delta', '--alert-email', 'ops@example.org', '--msmtp-config', rc])
      expect(down.code).toBe(1)
      expect(down.stderr).toMatch(/down notice down\.\S+ via msmtp -C \S+ not delivered, will retry: msmtp exit 75/)
      const waiting = readJson(watchStateFile(home('delta'))).outbox
      expect(waiting).toMatchObject([{ kind: 'down', attempts: 1, delivered: {} }])
      const again = await watch(['delta', '--alert-email', 'ops@example.org', '--msmtp-config', rc])
      expect(again.code).toBe(1)
      const status = await runCli(['molt', 'health', 'status', 'delta', '--json', '-d', fleet.baseDir])
      expect(status.stderr).toContain('delta: 1 alert notice(s) not delivered yet (down: email: msmtp exit 75')
      expect(JSON.parse(status.stdout).watch).toMatchObject({ phase: 'down', threshold: 1, alert_sent: false, waiting: [{ kind: 'down', id: waiting[0].id }] })
      sink = await startSmtpSink(port)
      up = true
      const delivered = await watch(['delta', '--alert-email', 'ops@example.org', '--msmtp-config', rc])
      expect(delivered).toEqual({ code: 0, stdout: '', stderr: '' })
      expect(sink.messages).toHaveLength(1)
      expect(sink.messages[0]!.headers['message-id']).toStartWith(`<clmnt.delta.${waiting[0].id}@`)
      expect(readJson(watchStateFile(home('delta')))).toMatchObject({ alert_sent: true, outbox: [] })
    } finally {
      if (!up) sink = await startSmtpSink(port)
    }
  })

  test('a rejected recipient (550) is permanent: said loudly, not retried with the same settings', async () => {
    fresh('delta')
    sink.rejectWith = 550
    const first = await watch(['delta', '--alert-email', 'ops@example.org', '--msmtp-config', rc])
    expect(first.code).toBe(1)
    expect(first.stderr).toMatch(/^error delta: down notice \S+ via msmtp -C \S+ FAILED for good \(not retried\): msmtp exit 65/m)
    sink.rejectWith = null
    const second = await watch(['delta', '--alert-email', 'ops@example.org', '--msmtp-config', rc])
    expect(second.code).toBe(1)
    expect(second.stderr).toContain('is waiting undelivered')
    expect(sink.messages).toHaveLength(0)
    // the operator fixes the address: the waiting DOWN goes out
    const fixed = await watch(['delta', '--alert-email', 'ops2@example.org', '--msmtp-config', rc])
    expect(fixed.code).toBe(0)
    expect(sink.messages.map((m) => m.headers.subject)).toEqual(['[Claw Mountain] molt delta is DOWN (dead)'])
  })
})

describe('nodemailer (--mailer smtp)', () => {
  test('one DOWN message with the SMTP URL from CLMNT_SMTP_URL', async () => {
    fresh('delta')
    const result = await watch(['delta', '--alert-email', 'ops@example.org', '--mailer', 'smtp'], { CLMNT_SMTP_URL: sink.url() })
    expect(result).toEqual({ code: 0, stdout: '', stderr: '' })
    expect(sink.messages).toHaveLength(1)
    const [mail] = sink.messages
    expect(mail!.envelope.to).toEqual(['ops@example.org'])
    expect(mail!.headers.subject).toBe('[Claw Mountain] molt delta is DOWN (dead)')
    expect(mail!.headers['message-id']).toMatch(/^<clmnt\.delta\.down\.\S+>$/)
    expect(mail!.headers.date).toMatch(/^\w{3}, \d{2} \w{3} \d{4} \d\d:\d\d:\d\d \+0000$/)
    expect(mail!.body).toContain('What to run next:')
  })

  test('smtp_url and from in clmnt.json; a 451 is retried next run with the same Message-ID', async () => {
    fresh('delta')
    writeConfig(fleet.baseDir, { smtp_url: sink.url(), from: 'Mountain Watch <watch@example.org>', alert_emails: ['ops@example.org'], mailer: 'smtp' }, 0o600)
    try {
      sink.rejectWith = 451
      const first = await watch(['delta', '--json'])
      expect(first.code).toBe(1)
      expect(JSON.parse(first.stdout).notices[0].errors[0]).toMatchObject({ channel: 'email', permanent: false, error: expect.stringContaining('451') })
      sink.rejectWith = null
      const second = await watch(['delta'])
      expect(second.code).toBe(0)
      expect(sink.messages).toHaveLength(1)
      expect(sink.messages[0]!.envelope.from).toBe('watch@example.org')
      expect(sink.messages[0]!.headers.from).toBe('"Mountain Watch" <watch@example.org>')
      expect(sink.messages[0]!.headers['message-id']).toContain(JSON.parse(first.stdout).notices[0].id)
    } finally {
      writeConfig(fleet.baseDir)
    }
  })

  test('a DOWN then a RECOVERED that threads under it', async () => {
    fresh('echo')
    const env = { CLMNT_SMTP_URL: sink.url() }
    await watch(['echo', '--alert-email', 'ops@example.org', '--mailer', 'smtp'], env)
    const gateway = await startGateway('healthy', home('echo'))
    try {
      const info = readFileSync(join(home('echo'), '.molt-info'), 'utf8').replace(/MOLT_PORT=\d+/, `MOLT_PORT=${gateway.port}`)
      writeFileSync(join(home('echo'), '.molt-info'), info)
      writeFileSync(pidFile(home('echo')), `${gateway.child.pid}\n`)
      const result = await watch(['echo', '--alert-email', 'ops@example.org', '--mailer', 'smtp'], env)
      expect(result.code).toBe(0)
    } finally {
      gateway.child.kill('SIGKILL')
      rmSync(pidFile(home('echo')), { force: true })
    }
    expect(sink.messages.map((m) => decodeHeader(m.headers.subject!))).toEqual([
      '[Claw Mountain] molt echo is DOWN (stopped)',
      expect.stringMatching(/^\[Claw Mountain\] molt echo is UP again after \d+s$/),
    ])
    const [down, recovered] = sink.messages
    expect(recovered!.headers['in-reply-to']).toBe(down!.headers['message-id'])
    expect(recovered!.body).toContain('first reason    no gateway lock, no gateway.pid and no gateway process')
    expect(recovered!.body).toContain('The DOWN alert went out at')
  })

  test('an unreachable SMTP server is temporary: will retry', async () => {
    fresh('delta')
    const closed = await watch(['delta', '--alert-email', 'ops@example.org', '--mailer', 'smtp'], { CLMNT_SMTP_URL: 'smtp://127.0.0.1:1' })
    expect(closed.code).toBe(1)
    expect(closed.stderr).toMatch(/via smtp not delivered, will retry: (ESOCKET|ECONNECTION)/)
  })
})

test('no address of a flag or of clmnt.json can add a header', async () => {
  const flag = await watch(['delta', '--alert-email', 'ops@example.org\nBcc: victim@example.org'])
  expect(flag.code).toBe(2)
  writeConfig(fleet.baseDir, { from: 'x <a@b.org>\r\nBcc: victim@example.org' })
  try {
    const config = await watch(['delta'])
    expect(config.code).toBe(2)
    expect(config.stderr).toContain('clmnt.json: from: expected a mail address')
  } finally {
    writeConfig(fleet.baseDir)
  }
  expect(sink.messages).toHaveLength(0)
})
