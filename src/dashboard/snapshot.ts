import { fleetOverview } from './api.ts'
import { Timelines } from './timeline.ts'

/**
 * `GET /api/molts` is served from a snapshot: a thousand clients asking at once get the same bytes
 * (gzipped once), and the work of reading 500 molts' files never happens on a request's path.
 * While anyone has asked in the last minute, a new snapshot is built every `refreshMs` (or
 * longer: see schedule) in the background, yielding to the event loop every few milliseconds so requests are served meanwhile;
 * a request takes the newest one at once (normally younger than refreshMs plus one build). Only a
 * first request, one after "check now" (which marks the snapshot out of date) and, with
 * `refreshMs` 0 (tests), every request wait for a build begun after they arrived.
 */
export const REFRESH_MS = 2000
/** Older than this, a snapshot is not served while a new one is built (an idle dashboard woken up). */
const MAX_AGE_MS = 30_000
/** Keep refreshing this long after the last request. */
const ACTIVE_MS = 60_000
/** Work this long between two yields to the event loop. */
const SLICE_MS = 8

export interface Snapshot {
  at: number
  json: Uint8Array<ArrayBuffer>
  gzip: Uint8Array<ArrayBuffer>
}

export class FleetSnapshot {
  private current: Snapshot | null = null
  private building: Promise<Snapshot> | null = null
  private dirty = false
  private lastAsked = 0
  private timer: ReturnType<typeof setTimeout> | null = null
  private lastBuildMs = 0
  private stopped = false
  private readonly timelines = new Timelines()

  constructor(
    private readonly baseDir: string,
    private readonly refreshMs = REFRESH_MS,
    private readonly clock: () => number = Date.now,
  ) {}

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
  }

  async get(): Promise<Snapshot> {
    const asked = (this.lastAsked = this.clock())
    const c = this.current
    if (c && !this.dirty && this.refreshMs > 0 && asked - c.at < MAX_AGE_MS) {
      if (asked - c.at >= this.refreshMs && !this.building) this.build().catch(() => {})
      return c
    }
    // out of date: wait for a build begun after this request arrived (shared by all who wait);
    // with none at all yet, the one under way (the start's) will do
    const since = !c && !this.dirty && this.refreshMs > 0 ? -Infinity : asked
    for (;;) {
      if (!this.building) return this.build()
      const s = await this.building.catch(() => null)
      if (s && !this.dirty && s.at >= since) return s
    }
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
      const overview = await fleetOverview(this.baseDir, at, this.timelines, pause)
      await pause()
      const json = new TextEncoder().encode(JSON.stringify(overview))
      await pause()
      // level 1: a fifth of the time of the default for a tenth more bytes; it runs on the event loop
      this.current = { at, json, gzip: Bun.gzipSync(json, { level: 1 }) }
      this.lastBuildMs = performance.now() - started
      return this.current
    })().finally(() => {
      this.building = null
      this.schedule()
    })
    return this.building
  }

  /**
   * The next background build, while someone is looking; on a slow or busy host at most a fifth
   * of the time goes to building (a 1 s build waits 4 s for the next).
   */
  private schedule(): void {
    if (this.stopped || this.refreshMs <= 0 || this.clock() - this.lastAsked > ACTIVE_MS) return
    this.timer = setTimeout(() => void this.build().catch(() => {}), Math.max(this.refreshMs, 4 * this.lastBuildMs))
    this.timer.unref?.()
  }
}
