import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { escapeLabelValue, formatValue, renderFamilies, type MetricFamily } from '../../src/metrics/exposition.ts'
import { backupFamilies, buildInfoFamily, healthFamilies, type MoltMetrics } from '../../src/metrics/families.ts'
import { readBackupStatus, recordBackupSuccess } from '../../src/metrics/backup-state.ts'
import { collectFleetMetrics, renderFleetMetrics, writeBackupTextfile, writeHealthTextfile } from '../../src/metrics/fleet.ts'
import { ExpositionError, parseExposition } from '../../src/metrics/parse.ts'
import { mergeFamilies, promFileProblem, updateTextfile } from '../../src/metrics/textfile.ts'
import type { HealthRecord } from '../../src/health/record.ts'
import { writeRegistry } from '../../src/fleet/registry.ts'
import { removeDir, tempDir, writeMoltHome, writeState } from '../helpers/fleet.ts'

const record = (status: HealthRecord['status'], extra: Partial<HealthRecord> = {}): HealthRecord => ({
  timestamp: '2026-02-02T10:30:00.250Z',
  status,
  pid: 1234,
  port: 19001,
  http_status: status === 'healthy' ? 200 : null,
  response_time_ms: status === 'healthy' ? 12 : null,
  reason: status === 'healthy' ? null : 'why',
  ...extra,
})

const values = (text: string, name: string) =>
  Object.fromEntries(parseExposition(text).find((f) => f.name === name)?.samples.map((s) => [JSON.stringify(s.labels), s.value]) ?? [])

describe('exposition text', () => {
  test.each([
    ['plain', 'plain'],
    ['back\\slash', 'back\\\\slash'],
    ['"quoted"', '\\"quoted\\"'],
    ['two\nlines', 'two\\nlines'],
    ['ünï ✉ {}=,', 'ünï ✉ {}=,'],
  ])('label value %p is written as %p and read back unchanged', (value, escaped) => {
    expect(escapeLabelValue(value)).toBe(escaped)
    const text = renderFamilies([{ name: 'x', help: 'h', type: 'gauge', samples: [{ labels: { destination: value }, value: 1 }] }])
    expect(text).toBe(`# HELP x h\n# TYPE x gauge\nx{destination="${escaped}"} 1\n`)
    expect(parseExposition(text)[0]!.samples[0]!.labels.destination).toBe(value)
  })

  test('HELP escapes backslash and line feed; values NaN and ±Inf; samples sorted by labels', () => {
    const text = renderFamilies([{ name: 'x_seconds', help: 'a\\b\nc "q"', type: 'gauge', samples: [{ labels: { molt: 'b' }, value: Infinity }, { labels: { molt: 'a' }, value: Number.NaN }, { labels: { molt: 'c' }, value: -Infinity }] }])
    expect(text).toBe('# HELP x_seconds a\\\\b\\nc "q"\n# TYPE x_seconds gauge\nx_seconds{molt="a"} NaN\nx_seconds{molt="b"} +Inf\nx_seconds{molt="c"} -Inf\n')
    expect(parseExposition(text)[0]!.help).toBe('a\\b\nc "q"')
    expect([formatValue(0.012), formatValue(1795224962.031), formatValue(1e21)]).toEqual(['0.012', '1795224962.031', '1e+21'])
  })

  test('an empty family is left out; a duplicate series or a bad name is a bug, thrown', () => {
    expect(renderFamilies([{ name: 'x', help: 'h', type: 'gauge', samples: [] }])).toBe('')
    expect(() => renderFamilies([{ name: 'x', help: 'h', type: 'gauge', samples: [{ labels: { a: '1' }, value: 1 }, { labels: { a: '1' }, value: 2 }] }])).toThrow('duplicate series')
    expect(() => renderFamilies([{ name: '1x', help: 'h', type: 'gauge', samples: [{ labels: {}, value: 1 }] }])).toThrow('invalid metric name')
    expect(() => renderFamilies([{ name: 'x', help: 'h', type: 'gauge', samples: [{ labels: { __name: 'a' }, value: 1 }] }])).toThrow('invalid label name')
  })
})

describe('the strict parser refuses what a scrape would', () => {
  test.each([
    ['no final line feed', 'x 1', 'line feed'],
    ['a family in two groups', 'x 1\ny 1\nx{a="b"} 2\n', 'two separate groups'],
    ['TYPE after a sample', 'x 1\n# TYPE x gauge\n', 'TYPE line for x after its samples'],
    ['two TYPE lines', '# TYPE x gauge\n# TYPE x gauge\n', 'second TYPE'],
    ['two HELP lines', '# HELP x a\n# HELP x b\n', 'second HELP'],
    ['an unknown type', '# TYPE x speedometer\n', 'unknown type'],
    ['a duplicate series', 'x{a="1",b="2"} 1\nx{b="2",a="1"} 2\n', 'duplicate series'],
    ['a bad escape in a label', 'x{a="\\t"} 1\n', 'invalid escape'],
    ['an unterminated label value', 'x{a="b} 1\n', 'unterminated'],
    ['a label twice', 'x{a="1",a="2"} 1\n', 'label a twice'],
    ['a reserved label', 'x{__a="1"} 1\n', 'reserved label'],
    ['a bad value', 'x 1,5\n', 'invalid value'],
    ['a bad timestamp', 'x 1 soon\n', 'invalid timestamp'],
    ['a bad metric name', '# HELP 1x h\n', 'invalid metric name'],
    ['junk', '{a="b"} 1\n', 'not a sample'],
  ])('%s', (_, text, message) => {
    expect(() => parseExposition(text)).toThrow(ExpositionError)
    expect(() => parseExposition(text)).toThrow(message)
  })

  test('comments, blank lines, timestamps, a trailing comma, histograms', () => {
    const text = '# a comment\n\n# HELP h_seconds lat\n# TYPE h_seconds histogram\nh_seconds_bucket{le="1"} 2\nh_seconds_bucket{le="+Inf"} 3\nh_seconds_sum 4.5\nh_seconds_count 3\nx{a="b",} 1 1700000000000\n'
    const families = parseExposition(text)
    expect(families.map((f) => [f.name, f.type, f.samples.length])).toEqual([['h_seconds', 'histogram', 4], ['x', 'untyped', 1]])
    expect(families[1]!.samples[0]).toEqual({ name: 'x', labels: { a: 'b' }, value: 1, timestamp: 1700000000000 })
  })
})

describe('clmnt families', () => {
  const molts: MoltMetrics[] = [
    { molt: 'mybot', record: record('healthy'), watch: { lastRunMs: Date.parse('2026-02-02T10:30:00Z'), consecutiveFailures: 0, intervalMinutes: 5 } },
    { molt: 'dead-one', record: record('dead'), watch: null },
    { molt: 'never', record: null, watch: null },
  ]
  const text = renderFamilies([...healthFamilies(molts), buildInfoFamily('0.1.0')])

  test('up, one-hot status, response time in seconds, timestamps in seconds', () => {
    expect(values(text, 'clmnt_molt_up')).toEqual({ '{"molt":"dead-one"}': 0, '{"molt":"mybot"}': 1 })
    const status = values(text, 'clmnt_molt_health_status')
    for (const molt of ['mybot', 'dead-one']) {
      const hot = Object.entries(status).filter(([k, v]) => JSON.parse(k).molt === molt && v === 1)
      expect(hot.length).toBe(1)
      expect(Object.keys(status).filter((k) => JSON.parse(k).molt === molt).length).toBe(6)
    }
    expect(status['{"molt":"dead-one","status":"dead"}']).toBe(1)
    expect(values(text, 'clmnt_molt_response_time_seconds')).toEqual({ '{"molt":"mybot"}': 0.012 })
    expect(values(text, 'clmnt_molt_last_check_timestamp_seconds')['{"molt":"mybot"}']).toBe(Date.parse('2026-02-02T10:30:00.250Z') / 1000)
    expect(values(text, 'clmnt_watch_last_run_timestamp_seconds')).toEqual({ '{"molt":"mybot"}': Date.parse('2026-02-02T10:30:00Z') / 1000 })
    expect(values(text, 'clmnt_watch_interval_seconds')).toEqual({ '{"molt":"mybot"}': 300 })
    expect(values(text, 'clmnt_molt_consecutive_failures')).toEqual({ '{"molt":"mybot"}': 0 })
  })

  test('what nobody knows is left out, not written as 0: a molt never checked has no series', () => {
    expect(text).not.toContain('never')
    expect(text).not.toContain('clmnt_molt_response_time_seconds{molt="dead-one"}')
  })

  test('names and units per the conventions: clmnt_ prefix, base units, gauges, HELP for each', () => {
    const families = parseExposition(renderFamilies([...healthFamilies(molts), ...backupFamilies([{ destination: 's3://b/p/', finishedMs: 1_700_000_000_123, sizeBytes: 5, durationMs: 1234.5678, archive: 'a' }]), buildInfoFamily('1')]))
    for (const f of families) {
      expect(f.name).toMatch(/^clmnt_[a-z_]+$/)
      expect(f.type).toBe('gauge')
      expect(f.help?.length).toBeGreaterThan(10)
      expect(f.name).not.toMatch(/_(ms|milliseconds|total|kb|mb)$/)
      if (/time|duration/.test(f.name)) expect(f.name).toMatch(/_seconds$/)
    }
    expect(families.map((f) => f.name)).toContain('clmnt_backup_size_bytes')
    const backup = families.find((f) => f.name === 'clmnt_backup_duration_seconds')!
    expect(backup.samples[0]).toMatchObject({ labels: { destination: 's3://b/p/' }, value: 1.235 })
  })
})

describe('textfile', () => {
  let dir: string
  beforeEach(() => {
    dir = tempDir()
  })
  afterEach(() => removeDir(dir))

  test('the path must end with .prom and its folder exist', () => {
    expect(promFileProblem(join(dir, 'clmnt.prom'))).toBeNull()
    expect(promFileProblem(join(dir, 'clmnt.txt'))).toContain('must end with .prom')
    expect(promFileProblem(join(dir, '.prom'))).toContain('must end with .prom')
    expect(promFileProblem(join(dir, 'nope', 'clmnt.prom'))).toContain('does not exist')
  })

  test('writers share one file: watch runs replace their own molt, check --all every molt, backup its own families; others are kept', async () => {
    const path = join(dir, 'clmnt.prom')
    writeFileSync(path, '# HELP other_metric someone else\n# TYPE other_metric gauge\nother_metric{x="1"} 7\n')
    const m = (molt: string, status: HealthRecord['status']): MoltMetrics => ({ molt, record: record(status), watch: null })
    await writeHealthTextfile(path, [m('a', 'healthy')], { all: false, version: '1' })
    await writeHealthTextfile(path, [m('b', 'dead')], { all: false, version: '1' })
    await writeBackupTextfile(path, [{ destination: '/srv/backups', finishedMs: 1000, sizeBytes: 10, durationMs: 2000, archive: 'x' }], '1')
    let text = readFileSync(path, 'utf8')
    expect(values(text, 'clmnt_molt_up')).toEqual({ '{"molt":"a"}': 1, '{"molt":"b"}': 0 })
    expect(values(text, 'other_metric')).toEqual({ '{"x":"1"}': 7 })
    expect(values(text, 'clmnt_backup_size_bytes')).toEqual({ '{"destination":"/srv/backups"}': 10 })

    await writeHealthTextfile(path, [m('a', 'unhealthy')], { all: false, version: '1' })
    expect(values(readFileSync(path, 'utf8'), 'clmnt_molt_up')).toEqual({ '{"molt":"a"}': 0, '{"molt":"b"}': 0 })
    // --all: a molt gone from the fleet goes from the file
    await writeHealthTextfile(path, [m('c', 'healthy')], { all: true, version: '2' })
    text = readFileSync(path, 'utf8')
    expect(values(text, 'clmnt_molt_up')).toEqual({ '{"molt":"c"}': 1 })
    expect(values(text, 'clmnt_backup_size_bytes')).toEqual({ '{"destination":"/srv/backups"}': 10 })
    expect(values(text, 'clmnt_build_info')).toEqual({ '{"version":"2"}': 1 })
    // one group per family, clmnt's in a fixed order whoever wrote last
    expect(parseExposition(text).map((f) => f.name)).toEqual(['clmnt_molt_up', 'clmnt_molt_health_status', 'clmnt_molt_response_time_seconds', 'clmnt_molt_last_check_timestamp_seconds', 'clmnt_backup_last_success_timestamp_seconds', 'clmnt_backup_size_bytes', 'clmnt_backup_duration_seconds', 'clmnt_build_info', 'other_metric'])
    // no temp file left in the collector's folder
    expect(readdirSync(dir)).toEqual(['clmnt.prom'])
  })

  test('a file that is not metrics is written afresh, with a warning', async () => {
    const path = join(dir, 'clmnt.prom')
    writeFileSync(path, 'garbage {{{\n')
    const result = await updateTextfile(path, { families: [buildInfoFamily('1')], replaces: () => true })
    expect(result.warning).toContain('could not be read as metrics')
    expect(parseExposition(readFileSync(path, 'utf8')).map((f) => f.name)).toEqual(['clmnt_build_info'])
  })

  test('concurrent writers of different molts lose nothing (they take turns on the folder)', async () => {
    const path = join(dir, 'clmnt.prom')
    const names = Array.from({ length: 12 }, (_, i) => `m${i}`)
    await Promise.all(names.map((molt) => writeHealthTextfile(path, [{ molt, record: record('healthy'), watch: null }], { all: false, version: '1' })))
    expect(Object.keys(values(readFileSync(path, 'utf8'), 'clmnt_molt_up')).length).toBe(12)
  })

  test('mergeFamilies keeps a foreign histogram as it was', () => {
    const existing = parseExposition('# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 2\nh_sum 3\nh_count 2\n')
    const text = mergeFamilies(existing, { families: [buildInfoFamily('1')], replaces: () => false })
    expect(text).toContain('# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 2\nh_sum 3\nh_count 2\n')
    expect(() => parseExposition(text)).not.toThrow()
  })
})

describe('fleet metrics (what the dashboard serves)', () => {
  let base: string
  beforeEach(() => {
    base = tempDir()
  })
  afterEach(() => removeDir(base))

  test('every molt from its status file and watch state, the recorded backups, the build', () => {
    for (const [name, port] of [['alpha', 19001], ['bravo', 19021]] as const) writeMoltHome(join(base, name), { name, port })
    writeRegistry(base, { version: '1', molts: { alpha: { name: 'alpha', port: 19001, home: join(base, 'alpha'), created: '2026-01-15' }, bravo: { name: 'bravo', port: 19021, home: join(base, 'bravo'), created: '2026-01-15' } } })
    writeState(join(base, 'alpha'), 'health-status.json', record('healthy', { molt: 'alpha' }))
    // the bash toolkit's state: strings everywhere
    writeState(join(base, 'alpha'), 'health-watch-state.json', { consecutive_failures: '0', last_check: '2026-02-02T10:30:00Z', last_status: 'healthy', last_success: '2026-02-02T10:30:00Z', alert_sent: 'false' })
    writeState(join(base, 'bravo'), 'health-status.json', { last_check: '2026-02-02T10:30:00Z', status: 'dead', pid: '99', port: '19021', http_status: '000', response_time_ms: 'null' })
    recordBackupSuccess(base, [{ destination: 's3://b/host1/', finishedMs: 1_700_000_000_000, sizeBytes: 1234, durationMs: 5000, archive: 'fleet-x.tar.gz' }])
    recordBackupSuccess(base, [{ destination: join(base, 'backups'), finishedMs: 1_700_000_100_000, sizeBytes: 1234, durationMs: 4000, archive: 'fleet-x.tar.gz' }])
    expect(readBackupStatus(base).backups.map((b) => b.destination)).toEqual([join(base, 'backups'), 's3://b/host1/'])

    const text = renderFleetMetrics(base, '0.1.0')
    expect(values(text, 'clmnt_molt_up')).toEqual({ '{"molt":"alpha"}': 1, '{"molt":"bravo"}': 0 })
    expect(values(text, 'clmnt_molt_consecutive_failures')).toEqual({ '{"molt":"alpha"}': 0 })
    expect(values(text, 'clmnt_watch_interval_seconds')).toEqual({ '{"molt":"alpha"}': 300 })
    expect(values(text, 'clmnt_backup_last_success_timestamp_seconds')).toEqual({ [`{"destination":"${join(base, 'backups')}"}`]: 1_700_000_100, '{"destination":"s3://b/host1/"}': 1_700_000_000 })
    expect(collectFleetMetrics(base, '0.1.0').warnings).toEqual([])
  })

  test('a damaged backup status file is a warning, not a failure', () => {
    mkdirSync(base, { recursive: true })
    writeFileSync(join(base, '.clmnt-backup-status.json'), '{"version": 7}')
    const { families, warnings } = collectFleetMetrics(base, '1')
    expect(warnings).toEqual([expect.stringContaining('is not a backup status file')])
    expect(renderFamilies(families as MetricFamily[])).toContain('clmnt_build_info')
  })
})
