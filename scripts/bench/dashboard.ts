/**
 * `clmnt dashboard` at 500 molts with 90 days of 5-minute checks each (~26,000 history lines,
 * ~3.6 MB per molt, ~1.8 GB in all), on loopback, with a bounded number of requests:
 *
 * - time to the first snapshot after the start (what a first page load waits for) and until the
 *   weeks of history are read whole (`partial` false);
 * - `GET /api/molts` latency for one client and for 200 concurrent clients (goals: p95 ≤ 50 ms
 *   alone, ≤ 200 ms under 200 clients);
 * - refresh cost: a full fetch, a 304 (If-None-Match), and an SSE-driven refresh (the event, then
 *   `?since=<generation>`) after a few molts changed — bytes on the wire and milliseconds.
 *
 * The reference, in the same run and server: a static asset of the page (no molt file read), so
 * the ratios show what the fleet data costs on top of HTTP itself on this machine as loaded now.
 *
 *   bun scripts/bench/dashboard.ts [--molts 500] [--days 90] [--requests 400] [--clients 200] [--keep] [--reuse]
 *   (BENCH_BASE=/dir keeps the fleet in a folder of your choice; --reuse takes the fleet found there)
 */
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { historyLine, type HealthRecord } from '../../src/health/record.ts'
import { seeded } from './fleet-gen.ts'

const { values } = parseArgs({ options: { molts: { type: 'string', default: '500' }, days: { type: 'string', default: '90' }, requests: { type: 'string', default: '400' }, clients: { type: 'string', default: '200' }, keep: { type: 'boolean' }, reuse: { type: 'boolean' } } })
const MOLTS = Number(values.molts)
const DAYS = Number(values.days)
const REQUESTS = Number(values.requests)
const CLIENTS = Number(values.clients)
const TOKEN = 'bench-token-0123456789abcdefghijklmnopqrstuvwxyz'
const CLI = join(import.meta.dir, '..', '..', 'src', 'cli.ts')

const base = process.env.BENCH_BASE ?? mkdtempSync(join(tmpdir(), 'clmnt-bench-dashboard-'))
const marker = join(base, `.bench-${MOLTS}x${DAYS}`)
const now = Date.now()
const nameOf = (m: number) => `molt${String(m).padStart(3, '0')}`

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

if (values.reuse && existsSync(marker)) console.log(`reusing the fleet in ${base}`)
else {
  console.log(`building ${MOLTS} molts with ${DAYS} days of history in ${base} …`)
  const started = performance.now()
  const registry: Record<string, unknown> = {}
  // a few distinct histories, written out per molt (distinct files, as on a real host)
  const histories = Array.from({ length: 8 }, (_, i) => history(i + 1))
  let bytes = 0
  for (let m = 0; m < MOLTS; m++) {
    const name = nameOf(m)
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
  writeFileSync(marker, '')
  console.log(`  ${(bytes / 2 ** 30).toFixed(2)} GiB of history in ${((performance.now() - started) / 1000).toFixed(1)} s`)
}

const spawned = performance.now()
const server = Bun.spawn([process.execPath, CLI, 'dashboard', '--port', '0', '-d', base], { env: { ...process.env, CLMNT_DASHBOARD_TOKEN: TOKEN, NO_COLOR: '1' }, stdout: 'pipe', stderr: 'inherit' })
const reader = server.stdout.getReader()
let out = ''
while (!out.includes('\n')) {
  const { value, done } = await reader.read()
  if (done) throw new Error('the dashboard did not start')
  out += new TextDecoder().decode(value)
}
const listening = performance.now()
const url = out.trim()
const headers = { Authorization: `Bearer ${TOKEN}`, 'Accept-Encoding': 'gzip' }

interface Timed {
  ms: number
  status: number
  /** body bytes as sent (gzipped when it was) */
  bytes: number
  etag: string | null
}

async function timed(path: string, extra: Record<string, string> = {}): Promise<Timed> {
  const t = performance.now()
  // the body is received whole but not inflated: that is the client's work, not the server's
  const r = await fetch(new URL(path, url), { headers: { ...headers, ...extra }, decompress: false } as RequestInit)
  const body = await r.arrayBuffer()
  if (r.status !== 200 && r.status !== 304) throw new Error(`${path}: HTTP ${r.status}`)
  return { ms: performance.now() - t, status: r.status, bytes: body.byteLength, etag: r.headers.get('etag') }
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!
}
const fmt = (xs: number[]) => `p50 ${pct(xs, 50).toFixed(1)} ms, p95 ${pct(xs, 95).toFixed(1)} ms, p99 ${pct(xs, 99).toFixed(1)} ms, max ${Math.max(...xs).toFixed(1)} ms`
const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`

async function serial(path: string, n: number, extra: Record<string, string> = {}): Promise<number[]> {
  const times: number[] = []
  for (let i = 0; i < n; i++) times.push((await timed(path, extra)).ms)
  return times
}
async function concurrent(path: string, clients: number, total: number, extra: Record<string, string> = {}): Promise<{ times: number[]; seconds: number }> {
  const times: number[] = []
  let left = total
  const t = performance.now()
  await Promise.all(Array.from({ length: clients }, async () => {
    while (left-- > 0) times.push((await timed(path, extra)).ms)
  }))
  return { times, seconds: (performance.now() - t) / 1000 }
}

/** Server-sent events of /api/events, one at a time. */
async function events() {
  const response = await fetch(new URL('/api/events', url), { headers })
  const body = response.body!.getReader()
  let buffer = ''
  return {
    async next(): Promise<{ generation: number; changed: string[] | null; bytes: number }> {
      for (;;) {
        const end = buffer.indexOf('\n\n')
        if (end >= 0) {
          const block = buffer.slice(0, end + 2)
          buffer = buffer.slice(end + 2)
          const data = /^data: (.*)$/m.exec(block)?.[1]
          if (data) return { ...JSON.parse(data), bytes: Buffer.byteLength(block) }
          continue
        }
        const { value, done } = await body.read()
        if (done) throw new Error('the event stream ended')
        buffer += new TextDecoder().decode(value)
      }
    },
    close: () => body.cancel(),
  }
}

try {
  const first = await timed('/api/molts')
  const firstMs = performance.now() - listening
  const firstPartial = JSON.parse(new TextDecoder().decode(Bun.gunzipSync(new Uint8Array((await (await fetch(new URL('/api/molts', url), { headers, decompress: false } as RequestInit)).arrayBuffer()))))).partial
  // until the weeks are read whole: a 304 costs nothing while nothing changed
  let etag = first.etag!
  let complete = firstPartial ? null : firstMs
  for (let i = 0; complete === null && i < 3000; i++) {
    const r = await timed('/api/molts', { 'If-None-Match': etag })
    if (r.status === 200) {
      etag = r.etag!
      const doc = await (await fetch(new URL('/api/molts', url), { headers })).json()
      if (!doc.partial) complete = performance.now() - listening
    } else await Bun.sleep(100)
  }
  console.log(`\nstart-up, ${MOLTS} molts × ${DAYS} days:`)
  console.log(`  process start → listening:             ${(listening - spawned).toFixed(0)} ms`)
  console.log(`  listening → first /api/molts answered:  ${firstMs.toFixed(0)} ms   (${firstPartial ? 'partial: each history\'s tail; uptime windows filled next' : 'complete'})`)
  console.log(`  listening → the weeks read whole:       ${complete === null ? 'not within the bound' : `${complete.toFixed(0)} ms`}`)

  const asset = [...(await (await fetch(url, { headers })).text()).matchAll(/(?:href|src)="(\/[^"]+\.(?:css|js))"/g)][0]![1]!
  const refOne = await serial(asset, REQUESTS)
  const one = await serial('/api/molts', REQUESTS)
  const refMany = await concurrent(asset, CLIENTS, CLIENTS * 10)
  const many = await concurrent('/api/molts', CLIENTS, CLIENTS * 10)
  const full = await timed('/api/molts')
  const notModified = await serial('/api/molts', REQUESTS, { 'If-None-Match': full.etag! })
  const manyNotModified = await concurrent('/api/molts', CLIENTS, CLIENTS * 10, { 'If-None-Match': full.etag! })

  // SSE-driven refresh: a few molts get a check (as their watches would), the event says so, the
  // page fetches what changed since its generation
  const stream = await events()
  let generation = (await stream.next()).generation
  const changedPerRound = 5
  const refresh: { eventBytes: number; bytes: number; ms: number; molts: number }[] = []
  for (let round = 0; round < 10; round++) {
    for (let k = 0; k < changedPerRound; k++) {
      const name = nameOf((round * changedPerRound + k) % MOLTS)
      appendFileSync(join(base, name, '.molt-state', 'health-history.jsonl'), historyLine({ timestamp: new Date().toISOString(), status: 'healthy', pid: 4000, port: 19001, http_status: 200, response_time_ms: 10, reason: null }))
    }
    let event = await stream.next()
    while (event.generation <= generation) event = await stream.next()
    const delta = await timed(`/api/molts?since=${generation}`)
    const doc = await (await fetch(new URL(`/api/molts?since=${generation}`, url), { headers })).json()
    refresh.push({ eventBytes: event.bytes, bytes: delta.bytes, ms: delta.ms, molts: doc.molts.length })
    generation = event.generation
  }
  await stream.close()
  const median = (xs: number[]) => pct(xs, 50)

  console.log(`\n/api/molts, ${MOLTS} molts × ${DAYS} days, loopback:`)
  console.log(`  1 client, ${REQUESTS} requests:          ${fmt(one)}   (goal p95 ≤ 50 ms)`)
  console.log(`    reference (static asset):      ${fmt(refOne)}   ratio p95 ${(pct(one, 95) / pct(refOne, 95)).toFixed(1)}×`)
  console.log(`  ${CLIENTS} clients, ${CLIENTS * 10} requests:     ${fmt(many.times)}   ${(many.times.length / many.seconds).toFixed(0)} req/s   (goal p95 ≤ 200 ms)`)
  console.log(`    reference (static asset):      ${fmt(refMany.times)}   ratio p95 ${(pct(many.times, 95) / pct(refMany.times, 95)).toFixed(1)}×`)
  console.log(`\nrefresh cost (body bytes as sent, gzip):`)
  console.log(`  full fetch:                       ${kb(full.bytes)}, p50 ${median(one).toFixed(1)} ms (1 client)`)
  console.log(`  304 (If-None-Match), 1 client:    0 KB, ${fmt(notModified)}`)
  console.log(`  304, ${CLIENTS} clients:               0 KB, ${fmt(manyNotModified.times)}   ${(manyNotModified.times.length / manyNotModified.seconds).toFixed(0)} req/s`)
  console.log(`  SSE-driven (${changedPerRound} molts changed):   event ${median(refresh.map((r) => r.eventBytes))} B + ?since= ${kb(median(refresh.map((r) => r.bytes)))} (${median(refresh.map((r) => r.molts))} molts), p50 ${median(refresh.map((r) => r.ms)).toFixed(1)} ms   vs full ${kb(full.bytes)}: ${(full.bytes / median(refresh.map((r) => r.bytes))).toFixed(0)}× fewer bytes`)
  const ok = pct(one, 95) <= 50 && pct(many.times, 95) <= 200
  console.log(ok ? '\nboth latency goals met' : '\nA LATENCY GOAL IS MISSED')
} finally {
  server.kill('SIGTERM')
  await server.exited
  if (!values.keep) rmSync(base, { recursive: true, force: true })
}
