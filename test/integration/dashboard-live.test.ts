import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { appendFileSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { startDashboard, type Dashboard } from '../../src/dashboard/server.ts'
import type { IncidentsResponse, MoltsResponse, SeriesResponse, SnapshotEvent } from '../../src/dashboard/types.ts'
import { historyLine } from '../../src/health/record.ts'
import { dashboardFleet } from '../helpers/browser.ts'
import { runCli } from '../helpers/cli.ts'

// Refresh by change (ETag, ?since=, server-sent events) and the fleet-level state the page shows
// (silences, host checks, the watches' liveness, incidents, series), over a real fleet on disk.

const TOKEN = 'dashboard-live-token-0123456789-Kq8ZrWxY'
const MIN = 60_000
let fleet: Awaited<ReturnType<typeof dashboardFleet>>

beforeAll(async () => {
  fleet = await dashboardFleet()
}, 60_000)
afterAll(() => fleet?.cleanup())

const historyOf = (name: 'alpha' | 'bravo') => join(fleet.molt(name).home, '.molt-state', 'health-history.jsonl')
const appendCheck = (name: 'alpha' | 'bravo', status: 'healthy' | 'dead') => {
  const m = fleet.molt(name)
  appendFileSync(historyOf(name), historyLine({ timestamp: new Date().toISOString(), status, pid: m.pid, port: m.port, http_status: status === 'healthy' ? 200 : null, response_time_ms: status === 'healthy' ? 11 : null, reason: status === 'healthy' ? null : 'gone' }))
}

/** Reads server-sent events one at a time from a fetch body. */
function eventReader(body: ReadableStream<Uint8Array>) {
  const reader = body.getReader()
  let buffer = ''
  return {
    async next(): Promise<SnapshotEvent | null> {
      for (;;) {
        const end = buffer.indexOf('\n\n')
        if (end >= 0) {
          const block = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          const data = /^data: (.*)$/m.exec(block)?.[1]
          if (/^event: snapshot$/m.test(block) && data) return JSON.parse(data)
          continue
        }
        const { value, done } = await reader.read()
        if (done) return null
        buffer += new TextDecoder().decode(value)
      }
    },
    /** true once the server ended the stream */
    async ended(): Promise<boolean> {
      for (;;) {
        const { done } = await reader.read().catch(() => ({ done: true }))
        if (done) return true
      }
    },
    cancel: () => reader.cancel().catch(() => {}),
  }
}

describe('refresh by change', () => {
  let dashboard: Dashboard
  // refreshMs 0: every request builds, so what a request sees follows the files at once
  beforeAll(async () => {
    dashboard = await startDashboard({ baseDir: fleet.baseDir, host: '127.0.0.1', port: 0, token: null, refreshMs: 0 })
  })
  afterAll(() => dashboard?.stop())
  const get = (path: string, headers: Record<string, string> = {}) => fetch(new URL(path, dashboard.url), { headers })

  test('the ETag is the generation; the same snapshot again is a 304; a change is a new one', async () => {
    const first = await get('/api/molts')
    const body = (await first.json()) as MoltsResponse
    expect(first.headers.get('etag')).toBe(`"g${body.generation}"`)
    expect(body).toMatchObject({ full: true, removed: [], partial: false })
    // nothing changed but the clock: same generation, 304 without a body
    const again = await get('/api/molts', { 'If-None-Match': first.headers.get('etag')! })
    expect(again.status).toBe(304)
    expect(await again.text()).toBe('')
    expect(again.headers.get('etag')).toBe(first.headers.get('etag'))
    appendCheck('alpha', 'healthy')
    const changed = await get('/api/molts', { 'If-None-Match': first.headers.get('etag')! })
    expect(changed.status).toBe(200)
    const next = (await changed.json()) as MoltsResponse
    expect(next.generation).toBeGreaterThan(body.generation)
  })

  test('?since=<generation> answers only the molts changed after it, with the whole fleet-level state', async () => {
    const base = (await (await get('/api/molts')).json()) as MoltsResponse
    appendCheck('bravo', 'dead')
    const delta = (await (await get(`/api/molts?since=${base.generation}`)).json()) as MoltsResponse
    expect(delta.full).toBe(false)
    expect(delta.molts.map((m) => m.name)).toEqual(['bravo'])
    expect(delta.molts[0]!.recent.at(-1)!.status).toBe('dead')
    expect(Object.keys(delta)).toEqual(Object.keys(base))
    expect(delta.counts).toEqual(base.counts)
    // nothing since the newest: an empty delta
    const none = (await (await get(`/api/molts?since=${delta.generation}`)).json()) as MoltsResponse
    expect(none).toMatchObject({ full: false, molts: [], removed: [], generation: delta.generation })
    // a generation this server never made (an older run's, or garbage from the future): the whole fleet
    for (const since of ['1', String(delta.generation + 10)]) {
      const whole = (await (await get(`/api/molts?since=${since}`)).json()) as MoltsResponse
      expect(whole.full).toBe(true)
      expect(whole.molts).toHaveLength(base.molts.length)
    }
    expect((await get('/api/molts?since=abc')).status).toBe(400)
  })

  test('a molt that leaves the fleet is named in removed', async () => {
    const base = (await (await get('/api/molts')).json()) as MoltsResponse
    const registry = join(fleet.baseDir, 'molts.json')
    const saved = await Bun.file(registry).text()
    const parsed = JSON.parse(saved)
    delete parsed.molts.golf
    writeFileSync(registry, JSON.stringify(parsed))
    const golfHome = fleet.molt('golf').home
    const moltInfo = await Bun.file(join(golfHome, '.molt-info')).text()
    // discovery also finds a folder holding .molt-info: take that away too
    writeFileSync(join(golfHome, '.molt-info.off'), moltInfo)
    require('node:fs').rmSync(join(golfHome, '.molt-info'))
    try {
      const delta = (await (await get(`/api/molts?since=${base.generation}`)).json()) as MoltsResponse
      expect(delta.removed).toEqual(['golf'])
      expect(delta.molts.find((m) => m.name === 'golf')).toBeUndefined()
    } finally {
      writeFileSync(registry, saved)
      writeFileSync(join(golfHome, '.molt-info'), moltInfo)
    }
    const back = (await (await get(`/api/molts?since=${base.generation}`)).json()) as MoltsResponse
    expect(back.removed).toEqual([])
    expect(back.molts.map((m) => m.name)).toContain('golf')
  })
})

describe('GET /api/events', () => {
  test('says where the snapshot is, then each change with the molts changed; heartbeats; ends when the dashboard stops', async () => {
    const dashboard = await startDashboard({ baseDir: fleet.baseDir, host: '127.0.0.1', port: 0, token: null, refreshMs: 100 })
    try {
      const response = await fetch(new URL('/api/events', dashboard.url))
      expect(response.status).toBe(200)
      expect(response.headers.get('content-type')).toStartWith('text/event-stream')
      expect(response.headers.get('content-encoding')).toBeNull()
      const events = eventReader(response.body!)
      const now = await events.next()
      const snapshot = (await (await fetch(new URL('/api/molts', dashboard.url))).json()) as MoltsResponse
      expect(now!.generation).toBeLessThanOrEqual(snapshot.generation)
      appendCheck('alpha', 'dead')
      // the next events, until one names alpha (another may come first: the clock, the other molts)
      let event: SnapshotEvent | null
      do event = await events.next()
      while (event && !event.changed?.includes('alpha'))
      expect(event!.generation).toBeGreaterThan(now!.generation)
      expect(event!.etag).toBe(`"g${event!.generation}"`)
      const delta = (await (await fetch(new URL(`/api/molts?since=${now!.generation}`, dashboard.url))).json()) as MoltsResponse
      expect(delta.molts.find((m) => m.name === 'alpha')!.recent.at(-1)!.status).toBe('dead')
      await dashboard.stop()
      expect(await events.ended()).toBe(true)
    } finally {
      await dashboard.stop()
    }
  }, 30_000)

  test('heartbeat comments keep an idle stream open', async () => {
    const { EventStreams } = await import('../../src/dashboard/live.ts')
    const { FleetSnapshot } = await import('../../src/dashboard/snapshot.ts')
    const snapshot = new FleetSnapshot(fleet.baseDir, 60_000)
    const streams = new EventStreams(snapshot, 4, 20)
    const stream = streams.open(new AbortController().signal, () => true)!
    const reader = stream.getReader()
    let text = ''
    while (!text.includes(': heartbeat')) text += new TextDecoder().decode((await reader.read()).value)
    expect(text).toStartWith('retry: ')
    streams.closeAll()
    snapshot.stop()
    expect((await reader.read()).done).toBe(true)
  })

  test('at most maxEventStreams open: the next gets a 503; a closed one frees its place', async () => {
    const dashboard = await startDashboard({ baseDir: fleet.baseDir, host: '127.0.0.1', port: 0, token: null, maxEventStreams: 2 })
    try {
      const aborts = [new AbortController(), new AbortController()]
      const open = await Promise.all(aborts.map((a) => fetch(new URL('/api/events', dashboard.url), { signal: a.signal })))
      expect(open.map((r) => r.status)).toEqual([200, 200])
      const third = await fetch(new URL('/api/events', dashboard.url))
      expect(third.status).toBe(503)
      expect(third.headers.get('retry-after')).toBe('30')
      expect((await third.json()).error).toMatch(/too many open event streams/)
      // the first page goes away
      const events = eventReader(open[0]!.body!)
      await events.next()
      aborts[0]!.abort()
      let again: Response
      // the server sees the closed socket on its next write or read: ask until it has
      do {
        again = await fetch(new URL('/api/events', dashboard.url))
        if (again.status === 503) await Bun.sleep(50)
      } while (again.status === 503)
      expect(again.status).toBe(200)
      void again.body?.cancel()
      aborts[1]!.abort()
    } finally {
      await dashboard.stop()
    }
  }, 30_000)

  test('needs the token like every API path; a logged-out session\'s stream ends', async () => {
    const dashboard = await startDashboard({ baseDir: fleet.baseDir, host: '127.0.0.1', port: 0, token: TOKEN })
    try {
      const url = (path: string) => new URL(path, dashboard.url)
      expect((await fetch(url('/api/events'))).status).toBe(401)
      expect((await fetch(url('/api/events'), { headers: { Authorization: 'Bearer wrong-token-0123456789-abcdefghijklmnop' } })).status).toBe(401)
      const bearer = await fetch(url('/api/events'), { headers: { Authorization: `Bearer ${TOKEN}` } })
      expect(bearer.status).toBe(200)
      void bearer.body?.cancel()
      const login = await fetch(url('/login'), { method: 'POST', redirect: 'manual', headers: { Origin: new URL(dashboard.url).origin, 'Content-Type': 'application/x-www-form-urlencoded' }, body: `token=${TOKEN}` })
      const cookie = login.headers.get('set-cookie')!.split(';')[0]!
      const stream = await fetch(url('/api/events'), { headers: { Cookie: cookie } })
      expect(stream.status).toBe(200)
      const events = eventReader(stream.body!)
      expect(await events.next()).not.toBeNull()
      const logout = await fetch(url('/logout'), { method: 'POST', redirect: 'manual', headers: { Cookie: cookie, Origin: new URL(dashboard.url).origin } })
      expect(logout.status).toBe(303)
      expect(await events.ended()).toBe(true)
      expect((await fetch(url('/api/events'), { headers: { Cookie: cookie } })).status).toBe(401)
    } finally {
      await dashboard.stop()
    }
  }, 30_000)
})

describe('the fleet-level state', () => {
  let dashboard: Dashboard
  let body: MoltsResponse
  beforeAll(async () => {
    expect((await runCli(['molt', 'health', 'silence', 'bravo', '2h', '--reason', 'gateway upgrade', '-d', fleet.baseDir])).code).toBe(0)
    // alpha's watch (every 30 min) last ran two hours ago: 4 intervals
    const state = join(fleet.molt('alpha').home, '.molt-state', 'health-watch-state.json')
    const twoHoursAgo = (Date.now() - 120 * MIN) / 1000
    utimesSync(state, twoHoursAgo, twoHoursAgo)
    // every disk is fuller than this: a host problem
    writeFileSync(join(fleet.baseDir, 'clmnt.json'), JSON.stringify({ host_checks: { disk_free_min_percent: 100, memory_used_max_percent: 100 } }))
    dashboard = await startDashboard({ baseDir: fleet.baseDir, host: '127.0.0.1', port: 0, token: null, refreshMs: 0 })
    body = await (await fetch(new URL('/api/molts', dashboard.url))).json()
  }, 30_000)
  afterAll(() => dashboard?.stop())

  test('silences: the molt\'s own on its card, and the list `silence --list` shows', async () => {
    const bravo = body.molts.find((m) => m.name === 'bravo')!
    expect(bravo.silence).toMatchObject({ target: 'bravo', reason: 'gateway upgrade' })
    expect(Date.parse(bravo.silence!.until) - Date.now()).toBeGreaterThan(100 * MIN)
    expect(body.molts.find((m) => m.name === 'charlie')!.silence).toBeNull()
    const listed = JSON.parse((await runCli(['molt', 'health', 'silence', '--list', '--json', '-d', fleet.baseDir])).stdout)
    expect(body.silences.map((s) => s.id)).toEqual(listed.map((s: { id: string }) => s.id))
    expect(body.silences[0]).toMatchObject({ target: 'bravo', state: 'active', held: 0, ended_at: null })
  })

  test('who watches the watcher: a watch silent for 3 intervals is stopped, on its card and in the red banner first', () => {
    const alpha = body.molts.find((m) => m.name === 'alpha')!
    expect(alpha).toMatchObject({ watcher_stopped: true, watch_interval_minutes: 30 })
    expect(Date.now() - Date.parse(alpha.last_watch_run!)).toBeGreaterThanOrEqual(119 * MIN)
    // charlie never had a watch: not a stopped one
    expect(body.molts.find((m) => m.name === 'charlie')).toMatchObject({ last_watch_run: null, watcher_stopped: false })
    expect(body.watchers.stopped.map((s) => s.molt)).toEqual(['alpha'])
    expect(body.watchers.stale_intervals).toBe(3)
    expect(body.alerts[0]).toMatchObject({ kind: 'watcher-stopped', severity: 'critical', molts: ['alpha'] })
    expect(body.alerts[0]!.summary).toMatch(/no watch run for 3 intervals: alpha/)
  })

  test('host checks as doctor and watch read them, with clmnt.json\'s limits', () => {
    expect(body.host.disk!.total_bytes).toBeGreaterThan(0)
    expect(body.host.memory!.total_bytes).toBeGreaterThan(0)
    expect(body.host.limits).toMatchObject({ disk_free_min_percent: 100, memory_used_max_percent: 100 })
    expect(body.host.problems.map((p) => p.key)).toEqual([`disk:${fleet.baseDir}`])
    expect(body.alerts.map((a) => a.kind)).toEqual(['watcher-stopped', 'host'])
  })

  test('series: response times in at most `points` buckets, from memory', async () => {
    const response = await fetch(new URL('/api/molts/alpha/series?window=7d&points=50', dashboard.url))
    expect(response.status).toBe(200)
    const series = (await response.json()) as SeriesResponse
    expect(series.points.length).toBeLessThanOrEqual(50)
    expect(series.points.length).toBeGreaterThan(40)
    expect(series.points.reduce((n, p) => n + p.checks, 0)).toBe(body.molts[0]!.uptime['7d'].checks)
    // the 1.5 h outage three days ago: a dead bucket without an answer
    expect(series.points.some((p) => p.status === 'dead')).toBe(true)
    for (const p of series.points) if (p.avg_ms !== null) expect(p.max_ms!).toBeGreaterThanOrEqual(p.avg_ms)
    const day = (await (await fetch(new URL('/api/molts/alpha/series', dashboard.url))).json()) as SeriesResponse
    expect(day.points.reduce((n, p) => n + p.checks, 0)).toBe(body.molts[0]!.uptime['24h'].checks)
    for (const bad of ['window=8d', 'window=x', 'points=0', 'points=5000', 'size=3']) expect((await fetch(new URL(`/api/molts/alpha/series?${bad}`, dashboard.url))).status).toBe(400)
    expect((await fetch(new URL('/api/molts/zulu/series', dashboard.url))).status).toBe(404)
  })

  test('incidents across the fleet on one timeline, newest first', async () => {
    const { incidents } = (await (await fetch(new URL('/api/incidents', dashboard.url))).json()) as IncidentsResponse
    const starts = incidents.map((i) => i.start)
    expect(starts).toEqual([...starts].sort().reverse())
    const alphaPast = incidents.find((i) => i.kind === 'molt' && i.molt === 'alpha' && !i.ongoing)!
    expect(alphaPast).toMatchObject({ worst: 'dead' })
    // 1.5 h of dead checks every 30 min: from the first dead check to the first healthy one
    expect(alphaPast.duration_ms).toBe(120 * MIN)
    expect(incidents.find((i) => i.molt === 'delta')).toMatchObject({ kind: 'molt', ongoing: true, worst: 'dead' })
    expect(incidents.find((i) => i.kind === 'silence')).toMatchObject({ molt: 'bravo', ongoing: true })
    expect(incidents.find((i) => i.kind === 'watcher-stopped')).toMatchObject({ molt: 'alpha', ongoing: true })
    expect(incidents.find((i) => i.kind === 'host')).toMatchObject({ molt: '*', ongoing: true })
    const recent = (await (await fetch(new URL('/api/incidents?since=24h', dashboard.url))).json()) as IncidentsResponse
    expect(recent.incidents.find((i) => i.molt === 'alpha' && i.kind === 'molt' && !i.ongoing)).toBeUndefined()
    expect((await fetch(new URL('/api/incidents?since=soon', dashboard.url))).status).toBe(400)
  })
})
