import { expect, test } from 'bun:test'
import { scanCrontab } from '../../src/schedule/crontab-edit.ts'
import { legacySettings, shellWords } from '../../src/schedule/legacy.ts'

const entry = (job: string) => scanCrontab(`# MOLT-HEALTH-WATCH - Health check every 5min\n${job}\n`).entries[0]!

test.each([
  ['/x/health-watch bot --alert-email a@b.io >> /l 2>&1', ['/x/health-watch', 'bot', '--alert-email', 'a@b.io'], '>> /l 2>&1'],
  [`"/x y/health-watch" 'bot' --alert-email=a@b.io`, ['/x y/health-watch', 'bot', '--alert-email=a@b.io'], ''],
  ['/x/health-watch bot|logger', ['/x/health-watch', 'bot'], '|logger'],
  ['/x/health-watch bot 2>/dev/null', ['/x/health-watch', 'bot'], '2>/dev/null'],
])('shellWords %p', (command, words, rest) => {
  expect(shellWords(command)).toEqual({ words, rest })
})

test.each([
  ['*/5 * * * * /x/health-watch bot --alert-email a@b.io >> /l/health.log 2>&1', { interval: 5, alertEmails: ['a@b.io'], logFile: '/l/health.log', dropped: [] }],
  ['*/15 * * * * /x/health-watch bot --consecutive-failures=4 -v', { interval: 15, alertEmails: [], consecutiveFailures: 4, dropped: ['-v'] }],
  ['@hourly /x/health-watch bot', { interval: 60, alertEmails: [], dropped: [] }],
  ['* * * * * /x/health-watch bot > /dev/null', { interval: 1, alertEmails: [], dropped: [] }],
])('legacySettings %p', (job, settings) => {
  expect(legacySettings(entry(job))).toEqual(settings)
})

test.each([
  ['*/5 * * * * /x/health-watch bot --alert-email', 'ends with --alert-email and no value'],
  ['*/5 * * * * /x/health-watch bot extra', 'passes "extra", which clmnt does not know'],
  ['*/5 * * * * /x/health-watch bot --consecutive-failures 0', 'clmnt takes 1-64'],
  ['0 */2 * * * /x/health-watch bot', 'cannot carry over as an interval'],
  [`*/5 * * * * /x/health-watch bot --alert-email 'a@b.io`, 'cannot be read'],
])('legacySettings refuses %p', (job, message) => {
  expect(() => legacySettings(entry(job))).toThrow(message)
})
