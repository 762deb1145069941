import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { statfsSync } from 'node:fs'
import { join } from 'node:path'
import type { BackupListing } from '../../src/archive/list.ts'
import { watchAlertSettings } from '../../src/doctor/alert.ts'
import type { DoctorContext } from '../../src/doctor/context.ts'
import { hostChecks } from '../../src/doctor/host.ts'
import { bindScope } from '../../src/doctor/molt.ts'
import { probeToken, tcpConnect } from '../../src/doctor/net.ts'
import { renderReport, wantUnicode } from '../../src/doctor/render.ts'
import { summarize, type Check } from '../../src/doctor/types.ts'
import { processUptimeSeconds, uptimeFrom } from '../../src/doctor/uptime.ts'
import { discoverFleet } from '../../src/fleet/discover.ts'
import { ProcessTable } from '../../src/lib/proc.ts'
import { freePort, removeDir, tempDir, writeMoltHome } from '../helpers/fleet.ts'

describe('process uptime from /proc', () => {
  test('field 22 after a command name with spaces and parentheses', () => {
    const stat = `4242 (my (odd) gw) S 1 4242 4242 0 -1 4194560 100 0 0 0 5 3 0 0 20 0 1 0 123456 1000 200 18446744073709551615`
    expect(uptimeFrom(stat, '5000.50 9000.00\n')).toBeCloseTo(5000.5 - 1234.56, 5)
    expect(uptimeFrom('garbage', '1 2')).toBeNull()
  })

  test('this very process: as old as its own clock says', () => {
    // performance.now() counts from this process's start, so the two agree however long the suite has run
    const seconds = processUptimeSeconds(process.pid)!
    expect(Math.abs(seconds - performance.now() / 1000)).toBeLessThan(5)
    expect(processUptimeSeconds(2 ** 30)).toBeNull()
  })
})

test.each([
  [undefined, 'loopback'],
  [null, 'loopback'],
  ['loopback', 'loopback'],
  ['127.0.0.1', 'loopback'],
  ['localhost', 'loopback'],
  ['lan', 'lan'],
  ['0.0.0.0', 'lan'],
  ['LAN', 'lan'],
  ['tailnet', 'one-address'],
  ['192.168.1.5', 'one-address'],
  ['fd00::1', 'one-address'],
  ['auto', 'other'],
] as const)('bind %p is %p', (bind, scope) => {
  expect(bindScope(bind)).toBe(scope)
})

describe('the alert settings a scheduled watch runs with', () => {
  const watch = ['/usr/bin/clmnt', 'molt', 'health', 'watch', 'alpha', '--base-dir', '/srv', '--alert-email', 'a@x.org', '--alert-email=b@x.org', '--notify-molt', 'boss', '--mailer=msmtp', '--msmtp-config', '/etc/m.rc']
  test('flags on the line win over clmnt.json', () => {
    const settings = watchAlertSettings(watch, { alert_emails: ['cfg@x.org'], mailer: 'smtp', notify_molt: 'other', msmtp_config: 'rel.rc' }, '/srv', {})
    expect(settings).toMatchObject({ emails: ['a@x.org', 'b@x.org'], mailer: 'msmtp', notifyMolt: 'boss', msmtpConfig: '/etc/m.rc', smtpUrl: null })
  })
  test('without a schedule: clmnt.json, paths relative to the base dir, the SMTP URL from the environment first', () => {
    const settings = watchAlertSettings(null, { alert_emails: ['cfg@x.org'], msmtp_config: 'rel.rc', smtp_url: 'smtp://a:1', from: 'Ops <ops@x.org>' }, '/srv', { CLMNT_SMTP_URL: 'smtp://env:2' })
    expect(settings).toEqual({ emails: ['cfg@x.org'], mailer: 'auto', msmtpConfig: '/srv/rel.rc', smtpUrl: 'smtp://env:2', from: { name: 'Ops', address: 'ops@x.org' }, notifyMolt: null })
  })
  test('a value that looks like a flag name is still a value', () => {
    expect(watchAlertSettings([...watch.slice(0, 5), '--notify-molt', '--alert-email'], {}, '/srv', {}).notifyMolt).toBe('--alert-email')
  })
})

describe('the checklist', () => {
  const check = (level: Check['level'], title: string, advice: string | null = null, molt?: string): Check => ({ id: `x.${title}`, group: molt ? 'molt' : 'host', molt, level, title, detail: `${title} detail`, advice })
  const report = summarize(
    [check('ok', 'fine'), check('warn', 'meh', 'do this'), check('fail', 'bad', 'fix that', 'alpha'), check('skip', 'later', null, 'alpha')],
    { clmnt_version: '0.1.0', base_dir: '/srv', base_dir_rule: 'flag', molts: ['alpha'] },
  )

  test('counts, and ok only when nothing failed', () => {
    expect(report.counts).toEqual({ ok: 1, warn: 1, fail: 1, skip: 1 })
    expect(report.ok).toBe(false)
    expect(summarize([check('warn', 'meh', 'x')], { clmnt_version: '', base_dir: null, base_dir_rule: null, molts: [] }).ok).toBe(true)
  })

  test('ASCII tags, one advice line under each problem', () => {
    expect(renderReport(report, { unicode: false, color: false })).toBe(
      [
        'Host',
        '  [ OK ] fine: fine detail',
        '  [WARN] meh: meh detail',
        '         -> do this',
        '',
        'Molt alpha',
        '  [FAIL] bad: bad detail',
        '         -> fix that',
        '  [SKIP] later: later detail',
        '',
        'problems found: 1 failed, 1 warning(s), 1 ok, 1 skipped',
        '',
      ].join('\n'),
    )
  })

  test('marks on a UTF-8 terminal, in colour when asked', () => {
    const text = renderReport(report, { unicode: true, color: false })
    expect(text).toContain('  ✓ fine: fine detail\n  ! meh: meh detail\n    → do this\n')
    expect(text).toContain('  ✗ bad: bad detail\n    → fix that\n  – later: later detail\n')
    const colored = renderReport(report, { unicode: true, color: true })
    expect(colored).toContain('\x1b[31m✗\x1b[39m bad')
    expect(colored).toContain('\x1b[1mHost\x1b[22m')
  })

  test.each([
    [{ isTTY: true }, { LANG: 'en_US.UTF-8' }, true],
    [{ isTTY: true }, { LC_ALL: 'C.utf8' }, true],
    [{ isTTY: false }, { LANG: 'en_US.UTF-8' }, false],
    [{ isTTY: true }, { LANG: 'C' }, false],
    [{ isTTY: true }, {}, false],
    [{ isTTY: true }, { LANG: 'en_US.UTF-8', TERM: 'dumb' }, false],
  ])('unicode for %p with %p: %p', (stream, env, expected) => {
    expect(wantUnicode(stream, env)).toBe(expected)
  })
})

describe('host checks from a given context', () => {
  let dir: string
  beforeAll(() => {
    dir = tempDir()
    writeMoltHome(join(dir, 'alpha'), { name: 'alpha', port: 19001 })
  })
  afterAll(() => removeDir(dir))

  const context = (backups: Partial<BackupListing>[]): DoctorContext => ({
    version: '0.1.0', timeoutMs: 100, expectBind: null, verifyLatest: false, sendTestAlert: false, binaryTimeoutMs: 1000, now: Date.now(),
    baseDir: { dir, rule: 'cwd' }, baseDirError: null, fleet: discoverFleet(dir), registry: null, registryWarning: null,
    config: { config: {}, path: join(dir, 'clmnt.json'), found: false, warnings: [] }, configError: null, processes: new ProcessTable(),
    backups: backups as BackupListing[], backupsError: null, uid: 0,
  })
  const disk = (backups: Partial<BackupListing>[]) => hostChecks(context(backups)).find((c) => c.id === 'host.disk')!

  test('free space against the last backup: fits, barely fits, does not fit', () => {
    const fs = statfsSync(dir)
    const free = Number(fs.bavail) * Number(fs.bsize)
    expect(disk([]).detail).toContain('no backup yet to compare with')
    expect(disk([{ status: 'ok', size_bytes: 1024 }]).level).toBe('ok')
    expect(disk([{ status: 'ok', size_bytes: Math.floor(free * 0.7) }]).level).toBe('warn')
    expect(disk([{ status: 'corrupt', size_bytes: free * 10 }])).toMatchObject({ level: 'fail', detail: expect.stringContaining('the next one will not fit') })
    // a half-written archive says nothing about the size of the next one
    expect(disk([{ status: 'incomplete', size_bytes: free * 10 }]).level).toBe('ok')
  })

  test('no registry: molts found by their folders; the cwd rule is fine when it finds molts', () => {
    const checks = hostChecks(context([]))
    expect(checks.find((c) => c.id === 'host.registry')).toMatchObject({ level: 'ok', detail: 'no molts.json; 1 molt(s) found by their folders (.molt-info)' })
    expect(checks.find((c) => c.id === 'host.base-dir')).toMatchObject({ level: 'ok', detail: `${dir} (the current folder: no molts.json here or above)` })
    expect(checks.find((c) => c.id === 'host.version')!.detail).toStartWith(`0.1.0, Bun ${Bun.version}`)
  })
})

describe('network probes', () => {
  let server: ReturnType<typeof Bun.serve>
  beforeAll(() => {
    server = Bun.serve({
      hostname: '127.0.0.1',
      port: 0,
      fetch(request) {
        // POST /tools/invoke with an empty request, which names no tool and so runs nothing
        if (request.method !== 'POST' || new URL(request.url).pathname !== '/tools/invoke') return new Response('a probe must only POST /tools/invoke', { status: 500 })
        return request.headers.get('authorization') === 'Bearer right' ? Response.json({ ok: false, error: { message: 'tools.invoke requires name' } }, { status: 400 }) : new Response('unauthorized', { status: 401 })
      },
    })
  })
  afterAll(() => server.stop(true))

  test('TCP: connected, refused', async () => {
    expect(await tcpConnect('127.0.0.1', server.port!, 1000)).toMatchObject({ ok: true })
    expect(await tcpConnect('127.0.0.1', await freePort(), 1000)).toEqual({ ok: false, error: 'connection refused' })
  })

  test('token: accepted, rejected; a gateway without the endpoint says nothing', async () => {
    expect(await probeToken(server.port!, 'right', 1000)).toEqual({ result: 'accepted', without: 401, with: 400 })
    expect(await probeToken(server.port!, 'wrong', 1000)).toEqual({ result: 'rejected', without: 401, with: 401 })
    const closed = await probeToken(await freePort(), 'x', 500)
    expect(closed.result).toBe('unknown')
  })
})
