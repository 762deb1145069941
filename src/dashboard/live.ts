import { intOption } from '../lib/numbers.ts'
import type { FleetSnapshot, Snapshot } from './snapshot.ts'
import type { SnapshotEvent } from './types.ts'

/**
 * Refresh by change: `/api/molts` with its ETag (the snapshot's generation) and `?since=`, and
 * `/api/events`, a server-sent event stream that says when the snapshot changed. A page keeps one
 * stream open and fetches `?since=<its generation>` on each event: a few molts, not the fleet.
 */

/** Open event streams at most (each holds a socket): beyond it, 503 and the page falls back to polling. */
export const MAX_EVENT_STREAMS = 64
/** A comment line this often: proxies and the server's idle timeout (60 s) see a live connection. */
export const HEARTBEAT_MS = 15_000
/** The browser's EventSource reconnects after this long when the stream breaks. */
const RETRY_MS = 5000

/** Whether the client's If-None-Match names this snapshot (`*` too). */
export function notModified(req: Request, etag: string): boolean {
  const header = req.headers.get('if-none-match')
  if (!header) return false
  return header.split(',').some((tag) => {
    const t = tag.trim().replace(/^W\//, '')
    return t === '*' || t === etag
  })
}

/** `GET /api/molts[?since=G]`: the body to send (gzip when taken), or null for a 304. */
export function moltsBody(req: Request, snapshot: FleetSnapshot, snap: Snapshot, query: URLSearchParams): { body: Uint8Array<ArrayBuffer>; gzip: boolean } | null {
  if (notModified(req, snap.etag)) return null
  const gzip = /\bgzip\b/.test(req.headers.get('accept-encoding') ?? '')
  const since = intOption(query.get('since') ?? undefined, 'since', { min: 0, max: Number.MAX_SAFE_INTEGER })
  if (since !== undefined) {
    const delta = snapshot.delta(snap, since)
    // a delta is small: the server's generic gzip (for bodies over 1 KiB) is enough
    if (delta) return { body: delta, gzip: false }
  }
  return gzip ? { body: snap.gzip, gzip: true } : { body: snap.json, gzip: false }
}

interface Stream {
  controller: ReadableStreamDefaultController<Uint8Array>
  valid: () => boolean
  close: () => void
}

const encoder = new TextEncoder()

export class EventStreams {
  private readonly streams = new Set<Stream>()
  private heartbeat: ReturnType<typeof setInterval> | null = null

  constructor(
    private readonly snapshot: FleetSnapshot,
    private readonly max = MAX_EVENT_STREAMS,
    private readonly heartbeatMs = HEARTBEAT_MS,
  ) {}

  get size(): number {
    return this.streams.size
  }

  /**
   * A new stream, or null when `max` are open. `valid` is asked before every write: a session
   * that ended (logout, expiry) closes its stream.
   */
  open(signal: AbortSignal, valid: () => boolean): ReadableStream<Uint8Array> | null {
    if (this.streams.size >= this.max) return null
    let stream: Stream
    let unsubscribe = () => {}
    return new ReadableStream<Uint8Array>({
      start: (controller) => {
        const close = () => {
          if (!this.streams.delete(stream)) return
          unsubscribe()
          try {
            controller.close()
          } catch {}
          if (!this.streams.size && this.heartbeat) {
            clearInterval(this.heartbeat)
            this.heartbeat = null
          }
        }
        stream = { controller, valid, close }
        this.streams.add(stream)
        signal.addEventListener('abort', close, { once: true })
        unsubscribe = this.snapshot.subscribe((event) => this.send(stream, event))
        this.heartbeat ??= setInterval(() => {
          for (const s of [...this.streams]) this.write(s, ': heartbeat\n\n')
        }, this.heartbeatMs)
        this.write(stream, `retry: ${RETRY_MS}\n\n`)
        // where the snapshot is now: the page compares it with the generation it holds
        void this.snapshot.get().then((snap) => this.send(stream, { generation: snap.generation, etag: snap.etag, generated_at: new Date(snap.at).toISOString(), changed: null }), () => {})
      },
      cancel: () => stream?.close(),
    })
  }

  /** Closes the streams whose session ended (a logout). */
  recheck(): void {
    for (const s of [...this.streams]) if (!s.valid()) s.close()
  }

  /** Ends every stream (the dashboard stops). */
  closeAll(): void {
    for (const s of [...this.streams]) s.close()
  }

  private send(stream: Stream, event: SnapshotEvent): void {
    this.write(stream, `event: snapshot\nid: ${event.generation}\ndata: ${JSON.stringify(event)}\n\n`)
  }

  private write(stream: Stream, text: string): void {
    if (!this.streams.has(stream)) return
    if (!stream.valid()) return stream.close()
    // a client that reads nothing would make the server buffer forever
    if ((stream.controller.desiredSize ?? 0) < -100) return stream.close()
    try {
      stream.controller.enqueue(encoder.encode(text))
    } catch {
      stream.close()
    }
  }
}
