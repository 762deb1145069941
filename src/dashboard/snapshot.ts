import { fleetOverview } from './api.ts'
import { FleetState } from './fleet-state.ts'
import { openIncidents } from '../alert/alerts-dir.ts'
import { INCIDENTS_MAX, moltIncidents } from './series.ts'
import { Timelines } from './timeline.ts'
import type { FleetIncident, IncidentsResponse, SnapshotEvent } from './types.ts'

/**
 * `GET /api/molts` is served from a snapshot: a thousand clients asking at once get the same bytes
 * (gzipped once), and the work of reading 500 molts' files never happens on a request's path.
 * While anyone has asked in the last minute (or listens to /api/events), a new one is built every
 * `refreshMs` (or longer: see schedule) in the background, yielding to the event loop every few
 * milliseconds so requests are served meanwhile.
 *
 * A build that finds nothing changed but the clock (ages, durations) keeps the snapshot as it is:
 * same bytes, same generation, so a client's `If-None-Match` gets a 304 and /api/events stays
 * quiet. Each molt remembers the generation it last changed in, so `?since=G` answers only what
 * changed after G: at 500 molts a refresh is a few molts, not 600 KB.
 *
 * The first build after the start reads only the tail of each history (a first page load waits
 * for that, not for 500 weeks); the next ones, at once, read the rest of the weeks.
 */
export const REFRESH_MS = 2000
/** Older than this, a snapshot is not served while a new one is built (an idle dashboard woken up). */
const MAX_AGE_MS = 30_000
/** Keep refreshing this long after the last request. */
const ACTIVE_MS = 60_000
/** Work this long between two yields to the event loop. */
const SLICE_MS = 8
/** The first build reads the rest of the week too when it is no more than this (a small fleet: ~50 molts' weeks). */
const FIRST_BUILD_BYTES = 16 * 1024 * 1024
/** An event names at most this many changed molts (else null: fetch in full). */
const EVENT_NAMES_MAX = 50

export interface Snapshot {
  generation: number
  etag: string
  /** when it was built (generated_at) */
  at: number
  /** when a build last found it current */
  checkedAt: number
  json: Uint8Array<ArrayBuffer>
  gzip: Uint8Array<ArrayBuffer>
}

interface MoltEntry {
  generation: number
  key: string
  json: string
}

// what changes with the clock alone is not a change
const volatile = (key: string, value: unknown) => (key === 'age_seconds' || key === 'duration_ms' ? undefined : value)

export class FleetSnapshot {
  readonly timelines = new Timelines()
  private readonly state: FleetState
  private current: Snapshot | null = null
  private building: Promise<Snapshot> | null = null
  private dirty = false
  private lastAsked = 0
  private timer: ReturnType<typeof setTimeout> | null = null
  private lastBuildMs = 0
  private stopped = false
  private readonly entries = new Map<string, MoltEntry>()
  private readonly removed = new Map<string, number>()
  private homes = new Map<string, string>()
  private fleetKey = ''
  /** the fleet-level fields as JSON: counts, and the rest (alerts … warnings) as `"alerts":…,"warnings":[…]` */
  private countsJson = '{}'
  private restJson = ''
  private level: Awaited<ReturnType<typeof fleetOverview>>['level'] | null = null
  /** above any generation of an earlier run of the dashboard: a client's old number is never taken for a new one */
  private readonly firstGeneration: number
  private generation: number
  private readonly listeners = new Set<(event: SnapshotEvent) => void>()
  private readonly deltas = new Map<number, Uint8Array<ArrayBuffer>>()
  private incidentsCache: { key: string; value: IncidentsResponse } | null = null

  constructor(
    private readonly baseDir: string,
    private readonly refreshMs = REFRESH_MS,
    private readonly clock: () => number = Date.now,
  ) {
    this.state = new FleetState(baseDir)
    this.firstGeneration = this.generation = clock()
  }

  invalidate(): void {
    this.dirty = true
  }

  /** Build the first snapshot now (the dashboard's start): the first page load finds it ready. */
  warm(): void {
    this.lastAsked = this.clock()
    this.build().catch(() => {})
  }

  stop(): void {
    this.stopped = true
    if (this.timer) clearTimeout(this.timer)
    this.listeners.clear()
  }

  /** Called with each new generation; returns the unsubscribe. Listeners keep the snapshot refreshing. */
  subscribe(listener: (event: SnapshotEvent) => void): () => void {
    this.listeners.add(listener)
    this.lastAsked = this.clock()
    if (!this.timer && !this.building && !this.stopped) this.schedule()
    return () => this.listeners.delete(listener)
  }

  get listening(): number {
    return this.listeners.size
  }

  async get(): Promise<Snapshot> {
    const asked = (this.lastAsked = this.clock())
    const c = this.current
    if (c && !this.dirty && this.refreshMs > 0 && asked - c.checkedAt < MAX_AGE_MS) {
      if (asked - c.checkedAt >= this.refreshMs && !this.building) this.build().catch(() => {})
      return c
    }
    // out of date: wait for a build begun after this request arrived (shared by all who wait);
    // with none at all yet, the one under way (the start's) will do
    const since = !c && !this.dirty && this.refreshMs > 0 ? -Infinity : asked
    for (;;) {
      if (!this.building) return this.build()
      const s = await this.building.catch(() => null)
      if (s && !this.dirty && s.checkedAt >= since) return s
    }
  }

  /**
   * What changed after generation `since` (JSON bytes), or null when that cannot be told (a
   * generation of another run, or from the future): then the client gets the whole snapshot.
   */
  delta(snap: Snapshot, since: number): Uint8Array<ArrayBuffer> | null {
    if (snap !== this.current || since < this.firstGeneration || since > snap.generation) return null
    const cached = this.deltas.get(since)
    if (cached) return cached
    const molts: string[] = []
    for (const entry of this.entries.values()) if (entry.generation > since) molts.push(entry.json)
    const removed = [...this.removed].filter(([, g]) => g > since).map(([name]) => name)
    const bytes = new TextEncoder().encode(this.document(snap.generation, snap.at, false, removed, molts))
    if (this.deltas.size >= 32) this.deltas.clear()
    this.deltas.set(since, bytes)
    return bytes
  }

  /** The fleet's incidents since `since` (ms), from the timelines in memory and the fleet's files. */
  incidents(snap: Snapshot, since: number, now: number): IncidentsResponse {
    const key = `${snap.generation}/${since}`
    if (this.incidentsCache?.key === key) return this.incidentsCache.value
    const all: FleetIncident[] = []
    for (const [name, home] of this.homes) all.push(...moltIncidents(this.timelines, home, name, since, now))
    const level = this.level
    const span = (start: string, end: string | null) => ({ start, end, ongoing: end === null, duration_ms: Math.max(0, (end === null ? now : Date.parse(end)) - Date.parse(start)) })
    for (const p of level?.host.problems ?? []) all.push({ kind: 'host', molt: '*', ...span(p.since ?? new Date(snap.at).toISOString(), null), worst: null, summary: p.summary })
    const watcherSince = openIncidents(this.baseDir, 'watchers.json')
    for (const w of level?.watchers.stopped ?? []) all.push({ kind: 'watcher-stopped', molt: w.molt, ...span(w.last_run, null), worst: null, summary: `no watch run for ${w.molt} since ${w.last_run.slice(0, 16).replace('T', ' ')} UTC${watcherSince[w.molt] ? ' (notice sent)' : ''}` })
    for (const s of level?.silences ?? []) {
      const end = s.ended_at ?? s.end
      if (Date.parse(end) < since) continue
      all.push({ kind: 'silence', molt: s.target, ...span(s.start, s.state === 'active' ? null : end), worst: null, summary: `silenced ${s.target === '*' ? 'the whole fleet' : s.target}${s.reason ? `: ${s.reason}` : ''} (${s.held} notice(s) held)` })
    }
    all.sort((a, b) => (a.start < b.start ? 1 : a.start > b.start ? -1 : 0))
    const value: IncidentsResponse = { generated_at: new Date(now).toISOString(), since: new Date(since).toISOString(), incidents: all.slice(0, INCIDENTS_MAX), truncated: Math.max(0, all.length - INCIDENTS_MAX) }
    this.incidentsCache = { key, value }
    return value
  }

  /** The molt's home as the last snapshot knows it (series read the timeline by home). */
  homeOf(name: string): string | undefined {
    return this.homes.get(name)
  }

  private document(generation: number, at: number, full: boolean, removed: string[], molts: string[]): string {
    const head = JSON.stringify({ generation, generated_at: new Date(at).toISOString(), full, removed, partial: this.timelines.pending > 0 })
    // the molts' JSON is kept per molt: a document is joined, not stringified again
    return `${head.slice(0, -1)},"counts":${this.countsJson},"molts":[${molts.join(',')}],${this.restJson}}`
  }

  private build(): Promise<Snapshot> {
    this.dirty = false
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    this.building = (async () => {
      const at = this.clock()
      const started = performance.now()
      let slice = started
      const pause = async () => {
        if (performance.now() - slice < SLICE_MS) return
        await new Promise<void>((resolve) => setImmediate(resolve))
        slice = performance.now()
      }
      const first = this.current === null
      // the rest of the weeks, all in one build: the first snapshot is served meanwhile
      if (!first) await this.timelines.backfill(at, pause, () => this.stopped)
      const overview = await fleetOverview(this.baseDir, at, this.timelines, this.state, {
        pause,
        firstLook: first ? 'tail' : 'week',
        // a small fleet's week is read at once; a big one's in the next build, after the first paint
        afterRead: first ? async () => {
          if (this.timelines.unreadBytes <= FIRST_BUILD_BYTES) await this.timelines.backfill(at, pause, () => this.stopped)
        } : undefined,
      })
      await pause()
      const next = this.generation + 1
      const changed: string[] = []
      const seen = new Set<string>()
      for (const molt of overview.molts) {
        seen.add(molt.name)
        const key = JSON.stringify(molt, volatile)
        const entry = this.entries.get(molt.name)
        if (entry?.key === key) continue
        this.entries.set(molt.name, { generation: next, key, json: JSON.stringify(molt) })
        this.removed.delete(molt.name)
        changed.push(molt.name)
      }
      for (const name of [...this.entries.keys()]) {
        if (seen.has(name)) continue
        this.entries.delete(name)
        this.removed.set(name, next)
        changed.push(name)
      }
      // fleet order, as the fleet lists them
      if (changed.length) {
        const ordered = new Map<string, MoltEntry>()
        for (const molt of overview.molts) ordered.set(molt.name, this.entries.get(molt.name)!)
        this.entries.clear()
        for (const [k, v] of ordered) this.entries.set(k, v)
      }
      const { host } = overview.level
      const partial = this.timelines.pending > 0
      const fleetKey = JSON.stringify([overview.counts, overview.level.alerts, overview.level.silences, overview.level.watchers, overview.warnings, partial, host.problems, host.large_logs, host.limits,
        // disk and memory in steps of 5 %: their bytes change with every build, memory by a percent or two a minute
        host.disk && Math.round(host.disk.free_percent / 5), host.memory && Math.round(host.memory.used_percent / 5)])
      this.homes = overview.homes
      const c = this.current
      if (c && !changed.length && fleetKey === this.fleetKey && !first) {
        c.checkedAt = at
        this.lastBuildMs = performance.now() - started
        return c
      }
      this.fleetKey = fleetKey
      this.level = overview.level
      this.countsJson = JSON.stringify(overview.counts)
      this.restJson = JSON.stringify({ alerts: overview.level.alerts, silences: overview.level.silences, host, watchers: overview.level.watchers, warnings: overview.warnings }).slice(1, -1)
      this.generation = next
      this.deltas.clear()
      const json = new TextEncoder().encode(this.document(next, at, true, [], [...this.entries.values()].map((e) => e.json)))
      await pause()
      // level 6 on the thread pool, not the event loop: 500 molts' 1.6 MB become ~23 KB (level 1:
      // ~68 KB) in ~4 ms, once per change, and every response is a third of the bytes
      const gzip = new Uint8Array(await gzipAsync(json, { level: 6 }))
      const snap: Snapshot = { generation: next, etag: `"g${next}"`, at, checkedAt: at, json, gzip }
      this.current = snap
      this.lastBuildMs = performance.now() - started
      const event: SnapshotEvent = { generation: next, etag: snap.etag, generated_at: new Date(at).toISOString(), changed: changed.length <= EVENT_NAMES_MAX && c ? changed : null }
      for (const listener of this.listeners) listener(event)
      return snap
    })().finally(() => {
      this.building = null
      this.schedule()
    })
    return this.building
  }

  /**
   * The next background build, while someone is looking; at once while the first one's week is
   * still to be read; on a slow or busy host at most a fifth of the time goes to building (a 1 s
   * build waits 4 s for the next).
   */
  private schedule(): void {
    if (this.stopped || this.refreshMs <= 0) return
    if (!this.listeners.size && this.clock() - this.lastAsked > ACTIVE_MS) return
    const wait = this.timelines.pending > 0 ? 0 : Math.max(this.refreshMs, 4 * this.lastBuildMs)
    this.timer = setTimeout(() => void this.build().catch(() => {}), wait)
    this.timer.unref?.()
  }
}

/**
 * gzip on the thread pool (node:zlib's async gzip), off the event loop. node:zlib is loaded here,
 * not at the top: every cron run of clmnt loads the top of the bundle (test/integration/build).
 */
async function gzipAsync(data: Uint8Array, options: { level: number }): Promise<Buffer> {
  const { gzip } = await import('node:zlib')
  return new Promise((resolve, reject) => gzip(data, options, (error, out) => (error ? reject(error) : resolve(out))))
}
