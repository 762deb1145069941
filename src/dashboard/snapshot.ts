import { fleetOverview } from './api.ts'
import { Timelines } from './timeline.ts'

/**
 * `GET /api/molts` is served from a snapshot: a thousand clients asking at once get the same bytes
 * (gzipped once), and the work of reading 500 molts' files happens once per `freshMs`, not once
 * per request; it yields to the event loop every few molts, so other requests are served while it
 * runs. A request takes the snapshot when it is younger than `freshMs`, else it waits for one
 * begun after it arrived (shared by every request waiting). A "check now" marks it out of date.
 */
export const FRESH_MS = 1000

export interface Snapshot {
  at: number
  json: Uint8Array<ArrayBuffer>
  gzip: Uint8Array<ArrayBuffer>
}

const pause = () => new Promise<void>((resolve) => setImmediate(resolve))

export class FleetSnapshot {
  private current: Snapshot | null = null
  private building: Promise<Snapshot> | null = null
  private dirty = false
  private readonly timelines = new Timelines()

  constructor(
    private readonly baseDir: string,
    private readonly freshMs = FRESH_MS,
    private readonly clock: () => number = Date.now,
  ) {}

  invalidate(): void {
    this.dirty = true
  }

  async get(): Promise<Snapshot> {
    const asked = this.clock()
    const c = this.current
    if (c && !this.dirty && asked - c.at < this.freshMs) return c
    for (;;) {
      if (!this.building) return this.build()
      const s = await this.building.catch(() => null)
      if (s && !this.dirty && s.at >= asked - this.freshMs) return s
    }
  }

  private build(): Promise<Snapshot> {
    this.dirty = false
    this.building = (async () => {
      const at = this.clock()
      const overview = await fleetOverview(this.baseDir, at, this.timelines, pause)
      const json = new TextEncoder().encode(JSON.stringify(overview))
      this.current = { at, json, gzip: Bun.gzipSync(json) }
      return this.current
    })().finally(() => {
      this.building = null
    })
    return this.building
  }
}
