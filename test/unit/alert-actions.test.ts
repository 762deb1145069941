import { describe, expect, test } from 'bun:test'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { dashboardLink } from '../../src/alert/actions.ts'
import { heartbeatTarget, redact } from '../../src/alert/heartbeat.ts'
import { gatewayLogCandidates, tailGatewayLog } from '../../src/health/gateway-log.ts'
import { tempDir } from '../helpers/fleet.ts'

describe('heartbeat URLs', () => {
  test.each([
    ['https://hc-ping.com/abc', true, 'https://hc-ping.com/abc'],
    ['https://hc-ping.com/abc', false, 'https://hc-ping.com/abc/fail'],
    ['https://hc-ping.com/abc/', false, 'https://hc-ping.com/abc/fail'],
    ['https://hc-ping.com/key/slug?rid=7', false, 'https://hc-ping.com/key/slug/fail?rid=7'],
  ])('%s ok=%p → %s', (url, ok, expected) => {
    expect(heartbeatTarget(url, ok)).toBe(expected)
  })
  test('logs show the host, never the ping key', () => {
    expect(redact('https://hc-ping.com/6f1e-secret')).toBe('https://hc-ping.com/…')
  })
})

describe('gateway log', () => {
  test('logging.file of openclaw.json first; /tmp defaults only for a molt with its own user; the toolkit file last', () => {
    const home = tempDir()
    mkdirSync(join(home, '.openclaw'))
    writeFileSync(join(home, '.openclaw', 'openclaw.json'), JSON.stringify({ logging: { file: '/var/log/mybot.log' } }))
    const day = new Date(2026, 11, 5)
    expect(gatewayLogCandidates(home, null, day)).toEqual(['/var/log/mybot.log', join(home, '.openclaw', 'gateway.log')])
    expect(gatewayLogCandidates(home, { uid: 1001, dedicated: true }, day)).toEqual([
      '/var/log/mybot.log', '/tmp/openclaw/openclaw-2026-12-05.log', '/tmp/openclaw-1001/openclaw-2026-12-05.log', join(home, '.openclaw', 'gateway.log'),
    ])
  })
  test('a FIFO is skipped without blocking', () => {
    const home = tempDir()
    mkdirSync(join(home, '.openclaw'))
    Bun.spawnSync(['mkfifo', join(home, '.openclaw', 'gateway.log')])
    expect(tailGatewayLog(home, null)).toBeNull()
  })
  test('a dashboard link opens the molt', () => {
    expect(dashboardLink('https://mon.example.org/', 'my_bot')).toBe('https://mon.example.org/#molt=my_bot')
  })
})
