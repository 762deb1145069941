import { afterAll, beforeAll, expect, test } from 'bun:test'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { startDashboard, type Dashboard } from '../../src/dashboard/server.ts'
import { runCli } from '../helpers/cli.ts'
import { buildFleet } from '../helpers/fleet.ts'

/**
 * docs/json.md is the contract: each object (molt, check, backup) has one table of fields and
 * types, and every place that prints the object — the CLI's --json and the dashboard API — must
 * print exactly those fields (the dashboard's molt may add its card's own), with those types.
 */
type Doc = Map<string, string[]>

function documented(section: string): Doc {
  const text = readFileSync(join(import.meta.dir, '..', '..', 'docs', 'json.md'), 'utf8')
  const body = text.split(/^## /m).find((s) => s.startsWith(`${section}\n`))
  if (!body) throw new Error(`docs/json.md has no "## ${section}"`)
  const fields: Doc = new Map()
  for (const m of body.matchAll(/^\| `([a-z_]+)` \| (.+?) (?<!\\)\| /gm)) fields.set(m[1]!, m[2]!.split('\\|').map((t) => t.trim()))
  if (!fields.size) throw new Error(`docs/json.md "## ${section}" has no field table`)
  return fields
}

function typeOf(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return value.every((v) => typeof v === 'string') ? 'string[]' : 'array'
  return typeof value
}

/** The object has every documented field with a documented type; `extra` allows more fields (the dashboard card). */
function conforms(doc: Doc, value: Record<string, unknown>, where: string, extra = false): void {
  const keys = Object.keys(value)
  if (!extra) expect({ where, keys: keys.sort() }).toEqual({ where, keys: [...doc.keys()].sort() })
  for (const [field, types] of doc) {
    expect({ where, field, present: field in value }).toEqual({ where, field, present: true })
    expect({ where, field, type: types.includes(typeOf(value[field])) }).toEqual({ where, field, type: true })
  }
}

let fleet: Awaited<ReturnType<typeof buildFleet>>
let dashboard: Dashboard
const cli = async (...args: string[]) => {
  const r = await runCli([...args, '--json', '-d', fleet.baseDir])
  return JSON.parse(r.stdout)
}
const api = async (path: string, init: RequestInit = {}) => (await fetch(new URL(path, dashboard.url), init)).json()

beforeAll(async () => {
  fleet = await buildFleet([{ name: 'alpha', mode: 'healthy' }, { name: 'delta', mode: 'dead' }, { name: 'echo', mode: 'stopped' }])
  await runCli(['molt', 'health', 'check', 'alpha', '-d', fleet.baseDir])
  expect((await runCli(['fleet', 'backup', '-q', '-d', fleet.baseDir])).code).toBe(0)
  dashboard = await startDashboard({ baseDir: fleet.baseDir, host: '127.0.0.1', port: 0, token: null, checkTimeoutMs: 1000 })
}, 60_000)
afterAll(async () => {
  await dashboard?.stop()
  fleet?.cleanup()
})

test('Molt: molt list --json and GET /api/molts', async () => {
  const doc = documented('Molt')
  const listed = (await cli('molt', 'list')) as Record<string, unknown>[]
  expect(listed).toHaveLength(3)
  for (const molt of listed) conforms(doc, molt, `molt list: ${molt.name}`)
  const served = (await api('/api/molts')).molts as Record<string, unknown>[]
  for (const molt of served) conforms(doc, molt, `GET /api/molts: ${molt.name}`, true)
  // the same molt, the same values (the age may tick between the two)
  const strip = ({ age_seconds: _, ...rest }: Record<string, unknown>) => rest
  expect(served.map((m) => strip(Object.fromEntries([...doc.keys()].map((k) => [k, m[k]]))))).toEqual(listed.map(strip))
}, 30_000)

test('Check: health check, status, history --json and the API', async () => {
  const doc = documented('Check')
  const all = (await cli('molt', 'health', 'check', '--all', '--no-record', '--timeout', '2s')) as Record<string, unknown>[]
  for (const record of all) conforms(doc, record, `health check --all: ${record.molt}`)
  conforms(doc, await cli('molt', 'health', 'check', 'delta', '--no-record'), 'health check delta')
  conforms(doc, (await cli('molt', 'health', 'status', 'alpha')).record, 'health status .record')
  conforms(doc, (await cli('molt', 'health', 'history', 'alpha')).recent[0], 'health history .recent[]')
  conforms(doc, (await api('/api/molts/alpha/health')).record, 'GET /api/molts/alpha/health .record')
  conforms(doc, (await api('/api/molts/alpha/history')).recent[0], 'GET /api/molts/alpha/history .recent[]')
  conforms(doc, await api('/api/molts/echo/check', { method: 'POST' }), 'POST /api/molts/echo/check')
  conforms(doc, JSON.parse(readFileSync(join(fleet.baseDir, 'alpha', '.molt-state', 'health-status.json'), 'utf8')), 'health-status.json')
  // a history line is a check without `molt`: the file is the molt's
  const lines = readFileSync(join(fleet.baseDir, 'alpha', '.molt-state', 'health-history.jsonl'), 'utf8').trimEnd().split('\n')
  conforms(doc, { ...JSON.parse(lines.at(-1)!), molt: 'alpha' }, 'health-history.jsonl')
  expect(JSON.parse(lines.at(-1)!)).not.toHaveProperty('molt')
}, 30_000)

test('Backup: fleet list-backups --json and GET /api/backups', async () => {
  const doc = documented('Backup')
  const listed = (await cli('fleet', 'list-backups')) as Record<string, unknown>[]
  expect(listed).toHaveLength(1)
  conforms(doc, listed[0]!, 'fleet list-backups')
  const served = (await api('/api/backups')) as Record<string, unknown>[]
  conforms(doc, served[0]!, 'GET /api/backups')
  expect(served).toEqual(listed)
}, 30_000)
