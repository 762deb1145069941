import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { spawnSync } from 'node:child_process'
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseExposition, type ParsedFamily } from '../../src/metrics/parse.ts'
import { runCli } from '../helpers/cli.ts'
import { buildFleet, removeDir, tempDir } from '../helpers/fleet.ts'

// --prom-file as node_exporter's textfile collector reads it, checked by our strict parser and by
// promtool; the alert rule templates checked and unit-tested by promtool.
const PROMTOOL = Bun.which('promtool')
const CI = process.env.CI === 'true' || process.env.CI === '1'
const TEMPLATES = join(import.meta.dir, '..', '..', 'templates', 'prometheus')
if (!PROMTOOL) {
  const what = 'promtool is not installed (Debian: apt-get install prometheus)'
  if (CI) console.error(`${what}: CI needs it, so its tests fail here`)
  else console.warn(`${what}: the promtool checks of the metrics and of templates/prometheus are SKIPPED`)
}
/** Skipped without promtool, except on CI, where they must run (and fail if it is missing). */
const withPromtool = PROMTOOL || CI ? test : test.skip

function promtool(args: string[], input?: string): { code: number | null; out: string } {
  if (!PROMTOOL) throw new Error('promtool is not installed (Debian: apt-get install prometheus)')
  const result = spawnSync(PROMTOOL, args, { input, encoding: 'utf8', cwd: TEMPLATES })
  return { code: result.status, out: `${result.stdout}${result.stderr}` }
}

let fleet: Awaited<ReturnType<typeof buildFleet>>
let textfile: string
const prom = () => join(textfile, 'clmnt.prom')
const series = (families: ParsedFamily[], name: string) => Object.fromEntries((families.find((f) => f.name === name)?.samples ?? []).map((s) => [Object.entries(s.labels).map(([k, v]) => `${k}=${v}`).join(','), s.value]))

beforeAll(async () => {
  fleet = await buildFleet([
    { name: 'alpha', mode: 'healthy' },
    { name: 'bravo', mode: 'error' },
    { name: 'delta', mode: 'dead' },
    { name: 'echo', mode: 'stopped' },
  ])
  textfile = tempDir('clmnt-textfile-')
})
afterAll(() => {
  fleet.cleanup()
  removeDir(textfile)
})

describe('molt health check --all --prom-file', () => {
  let text: string
  let families: ParsedFamily[]
  let code: number
  beforeAll(async () => {
    const before = Date.now() / 1000
    const result = await runCli(['molt', 'health', 'check', '--all', '-d', fleet.baseDir, '--prom-file', prom(), '--timeout', '2000'])
    code = result.code
    text = readFileSync(prom(), 'utf8')
    families = parseExposition(text)
    expect(result.stderr).toBe('')
    const checked = series(families, 'clmnt_molt_last_check_timestamp_seconds')
    for (const at of Object.values(checked)) expect(at).toBeGreaterThanOrEqual(Math.floor(before))
  })

  test('the exit code is still the check\'s (1: not all healthy); the file is written whole, no temp file left', () => {
    expect(code).toBe(1)
    expect(readdirSync(textfile)).toEqual(['clmnt.prom'])
    expect(text.endsWith('\n')).toBe(true)
  })

  test('per molt: up, one-hot status, response time, last check', () => {
    expect(series(families, 'clmnt_molt_up')).toEqual({ 'molt=alpha': 1, 'molt=bravo': 0, 'molt=delta': 0, 'molt=echo': 0 })
    const status = series(families, 'clmnt_molt_health_status')
    expect(Object.keys(status).length).toBe(4 * 6)
    expect(Object.entries(status).filter(([, v]) => v === 1).map(([k]) => k).sort()).toEqual(['molt=alpha,status=healthy', 'molt=bravo,status=unhealthy', 'molt=delta,status=dead', 'molt=echo,status=stopped'])
    const times = series(families, 'clmnt_molt_response_time_seconds')
    expect(Object.keys(times).sort()).toEqual(['molt=alpha', 'molt=bravo'])
    for (const t of Object.values(times)) expect(t).toBeGreaterThan(0)
    for (const t of Object.values(times)) expect(t).toBeLessThan(2)
    expect(families.find((f) => f.name === 'clmnt_build_info')!.samples[0]!.labels.version).toMatch(/^\d+\.\d+\.\d+/)
  })

  withPromtool('promtool check metrics finds nothing to complain about', () => {
    expect(promtool(['check', 'metrics'], text)).toEqual({ code: 0, out: '' })
  })
})

test('health watch --prom-file: each molt updates its own series, runs at once lose none; check <name> touches only its molt', async () => {
  const path = join(textfile, 'watch.prom')
  const names = fleet.molts.map((m) => m.name)
  const runs = await Promise.all(names.map((name) => runCli(['molt', 'health', 'watch', name, '-d', fleet.baseDir, '--prom-file', path, '--interval', '2', '--timeout', '2000'])))
  for (const run of runs) expect(run.code).toBe(0)
  let families = parseExposition(readFileSync(path, 'utf8'))
  expect(series(families, 'clmnt_molt_up')).toEqual({ 'molt=alpha': 1, 'molt=bravo': 0, 'molt=delta': 0, 'molt=echo': 0 })
  expect(series(families, 'clmnt_molt_consecutive_failures')).toEqual({ 'molt=alpha': 0, 'molt=bravo': 1, 'molt=delta': 1, 'molt=echo': 1 })
  expect(series(families, 'clmnt_watch_interval_seconds')).toEqual({ 'molt=alpha': 120, 'molt=bravo': 120, 'molt=delta': 120, 'molt=echo': 120 })
  const lastRun = series(families, 'clmnt_watch_last_run_timestamp_seconds')
  expect(lastRun).toEqual(series(families, 'clmnt_molt_last_check_timestamp_seconds'))
  for (const at of Object.values(lastRun)) expect(Math.abs(at - Date.now() / 1000)).toBeLessThan(60)

  // a second watch of bravo: its counter goes up, the others stay as they were
  const before = readFileSync(path, 'utf8')
  expect((await runCli(['molt', 'health', 'watch', 'bravo', '-d', fleet.baseDir, '--prom-file', path, '--interval', '2'])).code).toBe(0)
  families = parseExposition(readFileSync(path, 'utf8'))
  expect(series(families, 'clmnt_molt_consecutive_failures')).toEqual({ 'molt=alpha': 0, 'molt=bravo': 2, 'molt=delta': 1, 'molt=echo': 1 })
  const others = (text: string) => text.split('\n').filter((l) => /molt="(alpha|delta|echo)"/.test(l))
  expect(others(readFileSync(path, 'utf8'))).toEqual(others(before))

  // `check <name>` reads the watch state of the molt it checks: the file stays complete
  expect((await runCli(['molt', 'health', 'check', 'alpha', '-d', fleet.baseDir, '--prom-file', path])).code).toBe(0)
  families = parseExposition(readFileSync(path, 'utf8'))
  expect(Object.keys(series(families, 'clmnt_molt_up')).length).toBe(4)
  expect(series(families, 'clmnt_molt_consecutive_failures')['molt=alpha']).toBe(0)
  expect(readdirSync(textfile).filter((f) => !f.endsWith('.prom'))).toEqual([])
}, 30_000)

describe('--prom-file is checked before anything is done', () => {
  test.each([
    ['check', ['molt', 'health', 'check', 'alpha']],
    ['watch', ['molt', 'health', 'watch', 'alpha']],
    ['backup', ['fleet', 'backup']],
  ])('%s: a name not ending in .prom, a missing folder', async (_, args) => {
    const wrongName = await runCli([...args, '-d', fleet.baseDir, '--prom-file', join(textfile, 'clmnt.txt')])
    expect(wrongName.code).toBe(2)
    expect(wrongName.stderr).toContain('the file name must end with .prom')
    const noFolder = await runCli([...args, '-d', fleet.baseDir, '--prom-file', join(textfile, 'nope', 'clmnt.prom')])
    expect(noFolder.code).toBe(2)
    expect(noFolder.stderr).toContain(`folder ${join(textfile, 'nope')} does not exist`)
  })

  test('a file that cannot be written: check reports it and exits 1, even for a healthy molt', async () => {
    const locked = join(textfile, 'locked')
    mkdirSync(locked)
    writeFileSync(join(locked, 'clmnt.prom'), '')
    // a folder in place of the temp file's target: the rename fails, whoever runs the test
    mkdirSync(join(locked, 'dir.prom'))
    const result = await runCli(['molt', 'health', 'check', 'alpha', '-d', fleet.baseDir, '--prom-file', join(locked, 'dir.prom')])
    expect(result.code).toBe(1)
    expect(result.stdout).toStartWith('alpha: healthy')
    expect(result.stderr).toContain(`cannot write the metrics file ${join(locked, 'dir.prom')}`)
  })
})

describe('templates/prometheus', () => {
  test('the rules name only metrics clmnt writes', () => {
    const rules = readFileSync(join(TEMPLATES, 'clmnt.rules.yml'), 'utf8')
    const used = new Set(rules.match(/\bclmnt_[a-z_]+/g))
    expect([...used].sort()).toEqual(['clmnt_backup_last_success_timestamp_seconds', 'clmnt_molt_up', 'clmnt_watch_interval_seconds', 'clmnt_watch_last_run_timestamp_seconds'])
  })

  withPromtool('promtool check rules: the three alerts', () => {
    const result = promtool(['check', 'rules', 'clmnt.rules.yml'])
    expect(result.out).toContain('SUCCESS: 3 rules found')
    expect(result.code).toBe(0)
  })

  withPromtool('promtool test rules: down for 10 m, no watch run for 3 intervals, no backup for 26 h', () => {
    const result = promtool(['test', 'rules', 'clmnt.rules.test.yml'])
    expect(result.out).toContain('SUCCESS')
    expect(result.code).toBe(0)
  })

  withPromtool('promtool check config: the scrape example', () => {
    const result = promtool(['check', 'config', '--syntax-only', 'prometheus.yml'])
    expect(result.code).toBe(0)
  })

  test('the Alertmanager example routes clmnt alerts to an e-mail receiver that exists', () => {
    const config = Bun.YAML.parse(readFileSync(join(TEMPLATES, 'alertmanager.yml'), 'utf8')) as {
      global: Record<string, unknown>
      route: { receiver: string; routes: { matchers: string[]; receiver: string }[] }
      receivers: { name: string; email_configs?: { to: string }[] }[]
    }
    const receivers = new Map(config.receivers.map((r) => [r.name, r]))
    expect(receivers.has(config.route.receiver)).toBe(true)
    const clmnt = config.route.routes.find((r) => r.matchers.some((m) => /alertname\s*=~\s*"Clmnt\.\*"/.test(m)))!
    expect(receivers.get(clmnt.receiver)?.email_configs?.[0]?.to).toContain('@')
    expect(config.global.smtp_smarthost).toMatch(/:\d+$/)
    // the alert names the route and the inhibition speak of are the rules'
    const rules = readFileSync(join(TEMPLATES, 'clmnt.rules.yml'), 'utf8')
    for (const name of readFileSync(join(TEMPLATES, 'alertmanager.yml'), 'utf8').match(/Clmnt[A-Z][A-Za-z]+/g) ?? []) expect(rules).toContain(`alert: ${name}`)
  })
})
