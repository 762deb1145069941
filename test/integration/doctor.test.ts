import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { chmodSync, copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { basename, join } from 'node:path'
import { backupFleet } from '../../src/archive/backup.ts'
import { gzipHeader } from '../../src/archive/seek-index.ts'
import type { Check, DoctorReport } from '../../src/doctor/types.ts'
import { writeRegistry } from '../../src/fleet/registry.ts'
import { addBulk } from '../helpers/archive.ts'
import { runCli } from '../helpers/cli.ts'
import { startCommander, type FakeCommander } from '../helpers/commander.ts'
import { buildFleet, removeDir, tempDir, writeMoltHome } from '../helpers/fleet.ts'

/**
 * `clmnt doctor` against a fleet of real fake gateways where most molts are broken on purpose,
 * each in one way, plus two commander-style gateways that check a bearer token.
 */
let fleet: Awaited<ReturnType<typeof buildFleet>>
let good: FakeCommander
let badToken: FakeCommander
const home = (name: string) => join(fleet.baseDir, name)
const port = (name: string) => fleet.molts.find((m) => m.name === name)!.port
const doctor = (...args: string[]) => runCli(['doctor', ...args, '-d', fleet.baseDir, '--timeout', '1500'], { timeoutMs: 30_000 })

beforeAll(async () => {
  fleet = await buildFleet([
    { name: 'alpha', mode: 'healthy' },
    { name: 'bravo', mode: 'healthy' },
    { name: 'charlie', mode: 'healthy' },
    { name: 'delta', mode: 'healthy' },
    { name: 'echo', mode: 'healthy' },
    { name: 'foxtrot', mode: 'dead' },
    { name: 'golf', mode: 'error' },
  ])
  // bravo: a .molt-info with a line no parser can read
  writeFileSync(join(home('bravo'), '.molt-info'), `MOLT_NAME=bravo\nMOLT_PORT=${port('bravo')}\nthis is not a KEY=value line $(rm -rf /)\n`)
  // charlie: claims alpha's port
  writeFileSync(join(home('charlie'), '.molt-info'), `MOLT_NAME=charlie\nMOLT_PORT=${port('alpha')}\n`)
  // delta: openclaw.json cut short
  writeFileSync(join(home('delta'), '.openclaw', 'openclaw.json'), '{ "gateway": { "port": 1')
  // echo: a home every user can read
  chmodSync(home('echo'), 0o755)
  // two gateways that check the gateway token on POST /tools/invoke: hotel's matches its openclaw.json, india's does not
  good = startCommander(fleet.baseDir, 'hotel')
  badToken = startCommander(fleet.baseDir, 'india')
  badToken.gatewayToken = 'the-token-the-gateway-really-has'
  // juliet: a folder with .molt-info but no registry entry; kilo: an entry without a folder
  writeMoltHome(home('juliet'), { name: 'juliet', port: 19901 })
  chmodSync(home('juliet'), 0o700)
  const registry = JSON.parse(readFileSync(join(fleet.baseDir, 'molts.json'), 'utf8'))
  registry.molts.kilo = { name: 'kilo', port: 19921, home: join(fleet.baseDir, 'kilo'), created: '2026-01-15' }
  writeRegistry(fleet.baseDir, registry)
})
afterAll(() => {
  good?.stop()
  badToken?.stop()
  fleet.cleanup()
})

const find = (report: DoctorReport, id: string, molt?: string): Check => {
  const check = report.checks.find((c) => c.id === id && c.molt === molt)
  if (!check) throw new Error(`no check ${id} for ${molt ?? 'the host'}`)
  return check
}

describe('a fleet with broken molts', () => {
  let report: DoctorReport
  let text: Awaited<ReturnType<typeof doctor>>
  beforeAll(async () => {
    const json = await doctor('--json')
    expect(json.stderr).toBe('')
    expect(json.code).toBe(1)
    report = JSON.parse(json.stdout)
    text = await doctor()
  }, 60_000)

  test('exit 1, JSON on stdout only, every molt checked, counts that add up', () => {
    expect(report.ok).toBe(false)
    expect(report.base_dir).toBe(fleet.baseDir)
    expect(report.base_dir_rule).toBe('flag')
    expect(report.molts).toEqual(['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india', 'juliet', 'kilo'])
    const sum = report.counts.ok + report.counts.warn + report.counts.fail + report.counts.skip
    expect(sum).toBe(report.checks.length)
    expect(report.counts.fail).toBe(report.checks.filter((c) => c.level === 'fail').length)
    for (const check of report.checks) {
      expect(check.id).toMatch(/^(host|molt|monitoring|backups)\.[a-z-]+$/)
      if (check.level === 'warn' || check.level === 'fail') expect(check.advice).toBeTruthy()
    }
  })

  test('a healthy molt passes every gateway check', () => {
    for (const id of ['molt.name', 'molt.home', 'molt.molt-info', 'molt.openclaw-json', 'molt.bind', 'molt.pid', 'molt.tcp', 'molt.http', 'molt.uptime']) {
      expect([id, find(report, id, 'alpha').level]).toEqual([id, 'ok'])
    }
    expect(find(report, 'molt.http', 'alpha').detail).toMatch(/^HTTP 200 in [\d.]+ ms$/)
    expect(find(report, 'molt.uptime', 'alpha').detail).toMatch(/^up \d+s \(PID \d+\)$/)
    // the stand-in takes its openclaw.json's gateway token on POST /tools/invoke, as the real one does
    expect(find(report, 'molt.token', 'alpha')).toMatchObject({ level: 'ok', detail: 'accepted (POST /tools/invoke: 401 without it, 400 with it)' })
  })

  test.each([
    ['bravo', 'molt.molt-info', 'fail', 'line(s) 3 cannot be read'],
    ['alpha', 'molt.port', 'fail', 'is also the port of charlie'],
    ['charlie', 'molt.port', 'fail', 'is also the port of alpha'],
    ['delta', 'molt.openclaw-json', 'fail', 'openclaw.json: JSON Parse error'],
    ['delta', 'molt.bind', 'skip', 'openclaw.json is unusable'],
    ['echo', 'molt.home', 'warn', 'has mode 0755, not 0700'],
    ['foxtrot', 'molt.pid', 'fail', 'is not running'],
    ['foxtrot', 'molt.tcp', 'fail', 'connection refused'],
    ['foxtrot', 'molt.http', 'skip', 'no TCP connection'],
    ['golf', 'molt.http', 'fail', 'HTTP 500'],
    ['hotel', 'molt.token', 'ok', 'accepted (POST /tools/invoke: 401 without it, 400 with it)'],
    ['india', 'molt.token', 'fail', 'rejected: POST /tools/invoke answers 401 with it'],
    ['kilo', 'molt.home', 'fail', 'ENOENT'],
    ['kilo', 'molt.molt-info', 'warn', 'missing'],
  ])('%s: %s is %s', (molt, id, level, detail) => {
    const check = find(report, id, molt)
    expect(check.level).toBe(level as Check['level'])
    expect(check.detail).toContain(detail)
  })

  test('host: the registry disagrees with the folders; no archive yet', () => {
    const registry = find(report, 'host.registry')
    expect(registry.level).toBe('warn')
    expect(registry.detail).toContain('entries without a folder: kilo')
    expect(registry.detail).toContain('folders without an entry: hotel, india, juliet')
    expect(find(report, 'host.base-dir')).toMatchObject({ level: 'ok', detail: `${fleet.baseDir} (from --base-dir)` })
    expect(find(report, 'host.disk').detail).toMatch(/free in .*backups \(no backup yet/)
    expect(find(report, 'host.backups-writable').level).toBe('ok')
    expect(find(report, 'backups.latest')).toMatchObject({ level: 'warn', detail: `no archive in ${join(fleet.baseDir, 'backups')}` })
    // the probe file is gone again
    expect(readdirSync(fleet.baseDir).filter((f) => f.includes('clmnt-doctor'))).toEqual([])
  })

  test('monitoring: no schedule, no alert channel', () => {
    expect(find(report, 'monitoring.schedule', 'alpha')).toMatchObject({ level: 'warn', advice: 'install it: clmnt molt health setup alpha' })
    expect(find(report, 'monitoring.binary', 'alpha').level).toBe('skip')
    expect(find(report, 'monitoring.alert', 'alpha').level).toBe('warn')
  })

  test('the checklist: a section per molt, one advice line under each problem, a summary', () => {
    expect(text.code).toBe(1)
    const lines = text.stdout.split('\n')
    expect(lines[0]).toBe('Host')
    expect(lines).toContain('Molt bravo')
    expect(lines).toContain('Monitoring of bravo')
    expect(lines).toContain('Backups')
    const at = lines.findIndex((l) => l.startsWith('  [FAIL] .molt-info: line(s) 3 cannot be read'))
    expect(at).toBeGreaterThan(0)
    expect(lines[at + 1]).toBe(`         -> fix ${join(home('bravo'), '.molt-info')}: one KEY=value per line, no shell code`)
    expect(lines).toContain(`  [WARN] home: ${home('echo')} has mode 0755, not 0700: other users can look inside (it holds the gateway token and mail passwords)`)
    expect(lines).toContain(`         -> chmod 700 ${home('echo')}`)
    expect(lines.filter((l) => l.startsWith('  [ OK ] ')).length).toBe(report.counts.ok)
    expect(text.stdout).toEndWith(`problems found: ${report.counts.fail} failed, ${report.counts.warn} warning(s), ${report.counts.ok} ok, ${report.counts.skip} skipped\n`)
  })
})

describe('one molt', () => {
  test('only that molt and the host; exit 0 when nothing failed (warnings allowed)', async () => {
    const r = await doctor('golf', '--json')
    const report: DoctorReport = JSON.parse(r.stdout)
    expect(report.molts).toEqual(['golf'])
    expect(new Set(report.checks.map((c) => c.molt ?? c.group))).toEqual(new Set(['host', 'golf', 'backups']))
    expect(r.code).toBe(1)
    const ok = await doctor('juliet', '--json')
    expect(JSON.parse(ok.stdout).checks.find((c: Check) => c.id === 'molt.pid').level).toBe('fail')
  })

  test('a healthy molt alone exits 0', async () => {
    const small = await buildFleet([{ name: 'alpha', mode: 'healthy' }])
    try {
      const r = await runCli(['doctor', '-d', small.baseDir])
      expect(r.stderr).toBe('')
      expect(r.code).toBe(0)
      expect(r.stdout).not.toContain('[FAIL]')
      expect(r.stdout).toMatch(/\nno failures: 0 failed, \d+ warning\(s\), \d+ ok, \d+ skipped\n$/)
    } finally {
      small.cleanup()
    }
  })

  test('unknown or invalid names and conflicting arguments are usage errors (exit 2)', async () => {
    expect(await doctor('ghost')).toMatchObject({ code: 2, stdout: '', stderr: expect.stringContaining('unknown molt "ghost"') })
    expect(await doctor('../x')).toMatchObject({ code: 2, stderr: expect.stringContaining('invalid molt name') })
    expect(await doctor('alpha', '--all')).toMatchObject({ code: 2, stderr: expect.stringContaining('not both') })
    expect(await doctor('--expect-bind', 'wan')).toMatchObject({ code: 2, stderr: expect.stringContaining('expected one of lan, loopback') })
    expect(await runCli(['doctor', '--timeout', '0', '-d', fleet.baseDir])).toMatchObject({ code: 2, stderr: expect.stringContaining('invalid value "0" for --timeout') })
  })
})

test('a base dir that does not exist is a failed check, not a crash', async () => {
  const r = await runCli(['doctor', '-d', '/nonexistent/fleet'])
  expect(r.code).toBe(1)
  expect(r.stdout).toContain('  [FAIL] base dir: base dir "/nonexistent/fleet" (from --base-dir) is not a directory')
  expect(r.stdout).toContain('  [SKIP] molts.json: no base dir')
})

describe('bind mode (seed 000)', () => {
  let dir: string
  beforeAll(() => {
    dir = tempDir()
    for (const [name, bind, token] of [['lanmolt', 'lan', true], ['openmolt', 'lan', false], ['loopmolt', null, true], ['tailmolt', '100.64.0.7', true]] as const) {
      writeMoltHome(join(dir, name), { name, port: 19001 + 20 * name.length })
      const gateway: Record<string, unknown> = { port: 19001 + 20 * name.length }
      if (bind) gateway.bind = bind
      if (token) gateway.auth = { token: 'x' }
      writeFileSync(join(dir, name, '.openclaw', 'openclaw.json'), JSON.stringify({ gateway }))
    }
  })
  afterAll(() => removeDir(dir))
  const bindOf = async (...args: string[]) => {
    const r = await runCli(['doctor', '--json', '-d', dir, '--timeout', '300', ...args])
    const report: DoctorReport = JSON.parse(r.stdout)
    return Object.fromEntries(report.checks.filter((c) => c.id === 'molt.bind').map((c) => [c.molt, `${c.level}: ${c.detail}`]))
  }

  test('judged only when the host says where molts must be reachable from', async () => {
    const plain = await bindOf()
    expect(plain.loopmolt).toBe('ok: loopback (the default): reachable from this host only (set expect_bind in clmnt.json to have it judged)')
    expect(plain.lanmolt).toStartWith('ok: lan: reachable from the LAN, with a token')
    expect(plain.openmolt).toBe('fail: lan: reachable from the LAN without a gateway token')
    expect(plain.tailmolt).toBe('warn: 100.64.0.7: the gateway does not listen on 127.0.0.1, where clmnt checks it')
    const lan = await bindOf('--expect-bind', 'lan')
    expect(lan.loopmolt).toBe("warn: loopback (the default): unreachable from the LAN, where this host's molts must answer")
    expect(lan.lanmolt).toBe('ok: lan: reachable from the LAN, with a token')
    writeFileSync(join(dir, 'clmnt.json'), JSON.stringify({ expect_bind: 'loopback' }))
    const configured = await bindOf()
    expect(configured.lanmolt).toBe("warn: lan: reachable from the LAN, where this host's molts must stay local")
    expect(configured.loopmolt).toStartWith('ok: ')
    rmSync(join(dir, 'clmnt.json'))
  })
})

describe('backups', () => {
  test('newest archive, its size against free space, and --verify-latest', async () => {
    const small = await buildFleet([{ name: 'alpha', mode: 'healthy' }])
    // big enough that the manifest at the head stays readable when the tail is damaged
    addBulk(join(small.baseDir, 'alpha'), 8, 64 * 1024)
    try {
      const backup = await runCli(['fleet', 'backup', '-d', small.baseDir, '--json'])
      expect(backup.code).toBe(0)
      const archive = JSON.parse(backup.stdout).path as string
      let r = await runCli(['doctor', '--json', '-d', small.baseDir])
      let report: DoctorReport = JSON.parse(r.stdout)
      expect(find(report, 'backups.latest').detail).toMatch(/^fleet-.*\.tar\.gz, (just now|\d+s ago), [\d.]+ KiB, 1 molt\(s\)$/)
      expect(find(report, 'backups.verify')).toMatchObject({ level: 'skip' })
      expect(find(report, 'host.disk').detail).toMatch(/free in .*; the last backup is [\d.]+ KiB$/)
      expect(find(report, 'host.backups-writable')).toMatchObject({ level: 'ok', detail: `${join(small.baseDir, 'backups')}, mode 0700` })

      r = await runCli(['doctor', '--json', '--verify-latest', '-d', small.baseDir])
      report = JSON.parse(r.stdout)
      expect(find(report, 'backups.verify')).toMatchObject({ level: 'ok', detail: expect.stringMatching(/sha256 verified$/) })

      // a flipped byte near the end: the head still reads (list-backups says ok), verify does not
      const bytes = readFileSync(archive)
      bytes[Math.floor(bytes.length * 0.9)]! ^= 0xff
      writeFileSync(archive, bytes)
      r = await runCli(['doctor', '--json', '--verify-latest', '-d', small.baseDir])
      report = JSON.parse(r.stdout)
      expect(r.code).toBe(1)
      expect(find(report, 'backups.latest').level).toBe('ok')
      expect(find(report, 'backups.verify')).toMatchObject({ level: 'fail', advice: 'do not rely on it: make a new backup and verify that' })

      // damaged at the head too (in the manifest's deflate data, past the gzip header and its comment): no good archive left, which is worse than none
      bytes[gzipHeader().length + 10]! ^= 0xff
      writeFileSync(archive, bytes)
      report = JSON.parse((await runCli(['doctor', '--json', '-d', small.baseDir])).stdout)
      expect(find(report, 'backups.latest')).toMatchObject({ level: 'fail', detail: expect.stringContaining('no good archive in') })
    } finally {
      small.cleanup()
    }
  }, 30_000)

  test('an incremental newest archive: its chain is checked link by link, and --verify-latest verifies every archive of it; a broken or damaged parent is one failing line', async () => {
    const small = await buildFleet([{ name: 'alpha', mode: 'healthy' }])
    addBulk(join(small.baseDir, 'alpha'), 8, 64 * 1024)
    const out = `${join(small.baseDir, 'backups')}/`
    mkdirSync(out, { mode: 0o700 })
    const backup = (ago: number, extra: Partial<Parameters<typeof backupFleet>[0]> = {}) => backupFleet({ baseDir: small.baseDir, output: out, clmntVersion: '9.9.9', crontab: false, incremental: true, now: new Date(Date.now() - ago), ...extra })
    const run = async (...args: string[]) => {
      const r = await runCli(['doctor', '--json', ...args, '-d', small.baseDir])
      return { code: r.code, report: JSON.parse(r.stdout) as DoctorReport }
    }
    const failing = (report: DoctorReport) => report.checks.filter((c) => c.level === 'fail').map((c) => `${c.id}: ${c.detail}`)
    try {
      const full = (await backup(60_000)).path!
      writeFileSync(join(small.baseDir, 'alpha', 'notes.txt'), 'written after the full backup\n')
      const inc = (await backup(30_000)).path!
      const [fullName, incName] = [basename(full), basename(inc)]

      let { code, report } = await run('--verify-latest')
      expect(failing(report)).toEqual([])
      expect(code).toBe(0)
      expect(find(report, 'backups.latest').detail).toMatch(new RegExp(`^${incName.replace(/\./g, '\\.')}, .*, 1 molt\\(s\\), incremental \\(chain of 2, from ${fullName.replace(/\./g, '\\.')}\\)$`))
      expect(find(report, 'backups.verify')).toMatchObject({ level: 'ok', detail: expect.stringMatching(/sha256 verified; its chain of 1 earlier archive\(s\) too$/) })

      // damaged inside, same size and manifest: the links hold; only reading it all finds it
      const bytes = readFileSync(full)
      bytes[Math.floor(bytes.length * 0.6)]! ^= 0x55
      writeFileSync(full, bytes)
      ;({ code, report } = await run())
      expect(failing(report)).toEqual([])
      ;({ code, report } = await run('--verify-latest'))
      expect(code).toBe(1)
      expect(failing(report)).toEqual([expect.stringMatching(new RegExp(`^backups\\.verify: ${incName.replace(/\./g, '\\.')}: \\d+ problem\\(s\\), first: ${fullName.replace(/\./g, '\\.')} \\(in its chain\\): `))])

      // another archive under the parent's name, then none: restore would refuse; said once, without reading it all
      const other = await backup(90_000, { output: join(small.baseDir, 'other.tar.gz'), incremental: false, excludeMaildir: true })
      copyFileSync(other.path!, full)
      for (const args of [[], ['--verify-latest']]) {
        ;({ code, report } = await run(...args))
        expect(code).toBe(1)
        expect(failing(report)).toEqual([`backups.latest: ${incName}, ${find(report, 'backups.latest').detail.split(', ')[1]}, ${find(report, 'backups.latest').detail.split(', ')[2]}, 1 molt(s), incremental; broken chain: ${incName}: its parent ${fullName} was changed or replaced since (not the archive it was made from)`])
        expect(find(report, 'backups.latest').advice).toBe('restore would refuse it: make a full backup now (clmnt fleet backup)')
        expect(find(report, 'backups.verify').level).toBe('skip')
      }
      rmSync(full)
      ;({ code, report } = await run('--verify-latest'))
      expect(code).toBe(1)
      expect(failing(report)).toEqual([expect.stringContaining(`broken chain: ${incName} needs its parent ${fullName}, which is missing from ${join(small.baseDir, 'backups')}`)])
    } finally {
      small.cleanup()
    }
  }, 60_000)

  test('a backups/ that is a file cannot take archives', async () => {
    const dir = tempDir()
    try {
      mkdirSync(join(dir, 'alpha'))
      writeFileSync(join(dir, 'backups'), 'not a folder')
      const report: DoctorReport = JSON.parse((await runCli(['doctor', '--json', '-d', dir])).stdout)
      expect(find(report, 'host.backups-writable')).toMatchObject({ level: 'fail', detail: `${join(dir, 'backups')} is not a folder` })
    } finally {
      removeDir(dir)
    }
  })
})
