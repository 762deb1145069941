import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { chmodSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { isCleanConfig, readFleetConfig } from '../../src/fleet/config.ts'
import { InputError } from '../../src/lib/errors.ts'
import { removeDir, tempDir } from '../helpers/fleet.ts'

let dir: string
beforeEach(() => {
  dir = tempDir()
})
afterEach(() => removeDir(dir))

const write = (value: unknown, mode = 0o600) => {
  const path = join(dir, 'clmnt.json')
  writeFileSync(path, typeof value === 'string' ? value : JSON.stringify(value))
  chmodSync(path, mode)
}

const FULL = {
  alert_emails: ['ops@example.org', 'oncall@example.org'],
  mailer: 'smtp',
  smtp_url: 'smtps://alerts:pw@mail.example.org:465',
  msmtp_config: '/etc/msmtprc',
  from: 'Claw Mountain <clmnt@example.org>',
  consecutive_failures: 3,
  remind: '2h',
  notify_molt: 'commander',
  restart: true,
  restart_unhealthy: false,
  restart_cmd: "openclaw gateway restart --reason 'health watch'",
  restart_verify_seconds: 20,
  dashboard: { token: 'abc', port: 8080 },
}

test('no clmnt.json: an empty config', () => {
  expect(readFleetConfig(dir)).toEqual({ config: {}, path: join(dir, 'clmnt.json'), found: false, warnings: [] })
})

test('every key, read as written; unknown keys (the dashboard section) pass through', () => {
  write(FULL)
  const read = readFleetConfig(dir)
  expect(read.config).toEqual(FULL as never)
  expect(read.warnings).toEqual([])
  expect(isCleanConfig(FULL)).toBe(true)
})

test('a single address is a list of one', () => {
  write({ alert_emails: 'ops@example.org' })
  expect(readFleetConfig(dir).config.alert_emails).toEqual(['ops@example.org'])
})

test('an SMTP password in a file others can read is a warning', () => {
  write({ smtp_url: 'smtp://u:secret@h:25' }, 0o644)
  expect(readFleetConfig(dir).warnings).toEqual([expect.stringContaining('holds an SMTP password and is readable by other users: chmod 600')])
  write({ smtp_url: 'smtp://h:25' }, 0o644)
  expect(readFleetConfig(dir).warnings).toEqual([])
})

describe('invalid values are exit-2 errors naming the key', () => {
  test.each([
    ['alert_emails: expected a list of mail addresses', { alert_emails: ['ops@example.org\r\nBcc: x@y.org'] }],
    ['mailer: expected one of auto, msmtp, smtp', { mailer: 'sendmail' }],
    ['smtp_url: expected an smtp:// or smtps:// URL', { smtp_url: 'http://mail' }],
    ['from: expected a mail address', { from: 'Evil <a@b.org>\nBcc: c@d.org' }],
    ['consecutive_failures: expected a whole number from 1 to 64', { consecutive_failures: 0 }],
    ['consecutive_failures: expected a whole number from 1 to 64', { consecutive_failures: '2' }],
    ['remind: expected a duration like 1h', { remind: 'hourly' }],
    ['notify_molt: expected a molt name', { notify_molt: '../etc' }],
    ['restart: expected true or false', { restart: 'yes' }],
    ["restart_cmd: ';' is shell syntax", { restart_cmd: 'openclaw gateway restart; reboot' }],
    ['expected a JSON object', [1, 2]],
    ['is not valid JSON', '{"mailer": '],
  ])('%s', (message, value) => {
    write(value)
    expect(() => readFleetConfig(dir)).toThrow(message)
    try {
      readFleetConfig(dir)
    } catch (error) {
      expect(error).toBeInstanceOf(InputError)
      expect((error as InputError).exitCode).toBe(2)
    }
  })
})
