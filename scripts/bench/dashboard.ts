/**
 * `GET /api/molts` of `clmnt dashboard` at 500 molts with 90 days of 5-minute checks each
 * (~26,000 history lines, ~3.6 MB per molt, ~1.8 GB in all): latency for one client and for 200
 * concurrent clients, on loopback, with a bounded number of requests. Goals: p95 ≤ 50 ms alone,
 * ≤ 200 ms under 200 clients. The reference, in the same run and server: a static asset of the
 * page (no molt file read), so the ratio shows what the fleet data costs on top of HTTP itself.
 *
 *   bun scripts/bench/dashboard.ts [--molts 500] [--days 90] [--requests 400] [--clients 200]
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { historyLine, type HealthRecord } from '../../src/health/record.ts'
import { seeded } from './fleet-gen.ts'

const { values } = parseArgs({ options: { molts: { type: 'string', default: '500' }, days: { type: 'string', default: '90' }, requests: { type: 'string', default: '400' }, clients: { type: 'string', default: '200' }, keep: { type: 'boolean' } } })
const MOLTS = Number(values.molts)
const DAYS = Number(values.days)
const REQUESTS = Number(values.requests)
const CLIENTS = Number(values.clients)
const TOKEN = 'bench-token-0123456789abcdefghijklmnopqrstuvwxyz'
const CLI = join(import.meta.dir, '..', '..', 'src', 'cli.ts')

const base = process.env.BENCH_BASE ?? mkdtempSync(join(tmpdir(), 'clmnt-bench-dashboard-'))
const now = Date.now()

function history(seed: number): string {
  const random = seeded(seed)
  const step = 5 * 60_000
  const parts: string[] = []
  for (let at = now - DAYS * 86_400_000; at <= now - step; at += step) {
    const roll = random()
    const status: HealthRecord['status'] = roll < 0.985 ? 'healthy' : roll < 0.995 ? 'unhealthy' : 'dead'
    const ok = status === 'healthy'
    parts.push(historyLine({ timestamp: new Date(at).toISOString(), status, pid: ok ? 4000 + seed : null, port: 19001, http_status: ok ? 200 : null, response_time_ms: ok ? Math.round(random() * 4000) / 100 : null, reason: ok ? null : 'connection refused' }))
  }
  return parts.join('')
}

console.log(`building ${MOLTS} molts with ${DAYS} days of history in ${base} …`)
let started = performance.now()
const registry: Record<string, unknown> = {}
// a few distinct histories, written out per molt (distinct files, as on a real host)
const histories = Array.from({ length: 8 }, (_, i) => history(i + 1))
let bytes = 0
for (let m = 0; m < MOLTS; m++) {
  const name = `molt${String(m).padStart(3, '0')}`
  const home = join(base, name)
  const port = 19001 + m * 20
  mkdirSync(join(home, '.molt-state'), { recursive: true })
  mkdirSync(join(home, '.openclaw'), { recursive: true })
  writeFileSync(join(home, '.molt-info'), `MOLT_NAME=${name}\nMOLT_PORT=${port}\nMOLT_HOME="${home}"\nCREATED=2026-01-15\n`)
  writeFileSync(join(home, '.openclaw', 'openclaw.json'), JSON.stringify({ gateway: { port, bind: 'loopback' } }))
  const h = histories[m % histories.length]!
  writeFileSync(join(home, '.molt-state', 'health-history.jsonl'), h)
  bytes += h.length
  writeFileSync(join(home, '.molt-state', 'health-status.json'), JSON.stringify({ timestamp: new Date(now - 60_000).toISOString(), molt: name, status: 'healthy', pid: 4000, port, http_status: 200, response_time_ms: 12.5, reason: null }, null, 2))
  registry[name] = { name, port, home, created: '2026-01-15' }
}
writeFileSync(join(base, 'molts.json'), JSON.stringify({ version: '1', updated: new Date().toISOString(), molts: registry }, null, 2))
console.log(`  ${(bytes / 2 ** 30).toFixed(2)} GiB of history in ${((performance.now() - started) / 1000).toFixed(1)} s`)

const server = Bun.spawn([process.execPath, CLI, 'dashboard', '--port', '0', '-d', base], { env: { ...process.env, CLMNT_DASHBOARD_TOKEN: TOKEN, NO_COLOR: '1' }, stdout: 'pipe', stderr: 'inherit' })
const reader = server.stdout.getReader()
let out = ''
while (!out.includes('\n')) {
  const { value, done } = await reader.read()
  if (done) throw new Error('the dashboard did not start')
  out += new TextDecoder().decode(value)
}
const url = out.trim()
const headers = { Authorization: `Bearer ${TOKEN}`, 'Accept-Encoding': 'gzip' }

async function timed(path: string): Promise<number> {
  const t = performance.now()
  // the body is received whole but not inflated: that is the client's work, not the server's
  const r = await fetch(new URL(path, url), { headers, decompress: false } as RequestInit)
  await r.arrayBuffer()
  if (r.status !== 200) throw new Error(`${path}: HTTP ${r.status}`)
  return performance.now() - t
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!
}
const fmt = (xs: number[]) => `p50 ${pct(xs, 50).toFixed(1)} ms, p95 ${pct(xs, 95).toFixed(1)} ms, p99 ${pct(xs, 99).toFixed(1)} ms, max ${Math.max(...xs).toFixed(1)} ms`

try {
  started = performance.now()
  await timed('/api/molts')
  console.log(`first /api/molts (cold: every history's last week read once): ${(performance.now() - started).toFixed(0)} ms`)
  const asset = [...(await (await fetch(url, { headers })).text()).matchAll(/href="(\/[^"]+\.css)"/g)][0]![1]!

  async function serial(path: string, n: number): Promise<number[]> {
    const times: number[] = []
    for (let i = 0; i < n; i++) times.push(await timed(path))
    return times
  }
  async function concurrent(path: string, clients: number, total: number): Promise<{ times: number[]; seconds: number }> {
    const times: number[] = []
    let left = total
    const t = performance.now()
    await Promise.all(Array.from({ length: clients }, async () => {
      while (left-- > 0) times.push(await timed(path))
    }))
    return { times, seconds: (performance.now() - t) / 1000 }
  }

  const refOne = await serial(asset, REQUESTS)
  const one = await serial('/api/molts', REQUESTS)
  const refMany = await concurrent(asset, CLIENTS, CLIENTS * 10)
  const many = await concurrent('/api/molts', CLIENTS, CLIENTS * 10)

  console.log(`\n/api/molts, ${MOLTS} molts × ${DAYS} days, loopback:`)
  console.log(`  1 client, ${REQUESTS} requests:          ${fmt(one)}   (goal p95 ≤ 50 ms)`)
  console.log(`    reference (static asset):      ${fmt(refOne)}   ratio p95 ${(pct(one, 95) / pct(refOne, 95)).toFixed(1)}×`)
  console.log(`  ${CLIENTS} clients, ${CLIENTS * 10} requests:     ${fmt(many.times)}   ${(many.times.length / many.seconds).toFixed(0)} req/s   (goal p95 ≤ 200 ms)`)
  console.log(`    reference (static asset):      ${fmt(refMany.times)}   ratio p95 ${(pct(many.times, 95) / pct(refMany.times, 95)).toFixed(1)}×`)
  const ok = pct(one, 95) <= 50 && pct(many.times, 95) <= 200
  console.log(ok ? '\nboth goals met' : '\nA GOAL IS MISSED')
} finally {
  server.kill('SIGTERM')
  await server.exited
  if (!values.keep) rmSync(base, { recursive: true, force: true })
}
