/// <reference lib="dom" />
import type { ErrorResponse } from '../types.ts'

/** The page's side of the JSON API: requests with a deadline, conditional GETs, server-sent events. */

const REQUEST_TIMEOUT_MS = 20_000

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message)
  }
}

export async function api<T>(path: string, init: RequestInit & { etag?: string | null } = {}): Promise<{ data: T | null; response: Response }> {
  const controller = new AbortController()
  const timer = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS)
  const headers: Record<string, string> = { Accept: 'application/json' }
  if (init.etag) headers['If-None-Match'] = init.etag
  let response: Response
  try {
    // no-store: the browser's cache never answers for the server; the ETag above is ours to send
    response = await fetch(path, { ...init, signal: controller.signal, cache: 'no-store', credentials: 'same-origin', headers })
  } catch {
    throw new ApiError(0, 'the dashboard server does not answer')
  } finally {
    clearTimeout(timer)
  }
  // 304: what we have is current, and nothing was sent
  if (response.status === 304) return { data: null, response }
  const body = (await response.json().catch(() => null)) as T | ErrorResponse | null
  if (!response.ok) throw new ApiError(response.status, (body as ErrorResponse | null)?.error ?? `HTTP ${response.status}`)
  return { data: body as T, response }
}

/**
 * `/api/events` (server-sent events; the page opens it only when the server's snapshot says it has
 * one, by a `generation`): `onChange` on every `snapshot` event, so a change shows at once rather
 * than at the next poll. A dropped stream EventSource retries by itself; one refused (503: too many
 * streams) it gives up, and the polling alone goes on.
 */
export function subscribe(onChange: () => void): void {
  if (typeof EventSource === 'undefined') return
  const source = new EventSource('/api/events', { withCredentials: true })
  source.addEventListener('snapshot', onChange)
  source.addEventListener('message', onChange)
}
