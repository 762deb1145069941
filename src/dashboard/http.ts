import { HttpError } from './api.ts'
import type { Asset } from './assets.ts'

/** The dashboard's responses: every one carries the same security headers, whatever route made it. */

export const SECURITY_HEADERS = {
  'X-Content-Type-Options': 'nosniff',
  // not no-referrer: under it a browser sends "Origin: null" with the page's own form posts
  'Referrer-Policy': 'same-origin',
  'X-Frame-Options': 'DENY',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
}

export const PAGE_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { ...SECURITY_HEADERS, 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', ...headers },
  })
}

export const fail = (status: number, error: string, headers?: Record<string, string>) => json(status, { error }, headers)

export function asset(file: Asset, cache: string, csp?: string): Response {
  const headers: Record<string, string> = { ...SECURITY_HEADERS, 'Content-Type': file.type, 'Cache-Control': cache }
  if (csp) headers['Content-Security-Policy'] = csp
  return new Response(file.body, { headers })
}

export function redirect(location: string, headers: Record<string, string> = {}): Response {
  return new Response(null, { status: 303, headers: { ...SECURITY_HEADERS, Location: location, 'Cache-Control': 'no-store', ...headers } })
}

/** The path with its percent-encoding kept: "..%2F..%2Fetc" is one segment, and reaches the name check as "../../etc". */
export function rawPath(url: string): string {
  const path = url.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i, '')
  const end = path.search(/[?#]/)
  return (end === -1 ? path : path.slice(0, end)) || '/'
}

export function decodeSegments(path: string): string[] {
  try {
    return path.split('/').slice(1).map(decodeURIComponent)
  } catch {
    throw new HttpError(400, 'malformed URL: bad percent-encoding')
  }
}

export function queryOf(url: string, allowed: string[]): URLSearchParams {
  const query = new URL(url).searchParams
  for (const key of query.keys()) if (!allowed.includes(key)) throw new HttpError(400, `unknown parameter ${JSON.stringify(key)}${allowed.length ? `: expected ${allowed.join(', ')}` : ''}`)
  return query
}

/** Text the client accepts gzipped, gzipped (the snapshot comes compressed already). */
export async function gzipped(req: Request, response: Response): Promise<Response> {
  const type = response.headers.get('content-type') ?? ''
  if (response.headers.has('content-encoding') || !response.body || !/json|text|javascript|svg/.test(type) || type.startsWith('text/event-stream')) return response
  if (!/\bgzip\b/.test(req.headers.get('accept-encoding') ?? '')) return response
  const body = new Uint8Array(await response.arrayBuffer())
  const headers = new Headers(response.headers)
  headers.append('Vary', 'Accept-Encoding')
  if (body.length < 1024) return new Response(body, { status: response.status, headers })
  headers.set('Content-Encoding', 'gzip')
  return new Response(Bun.gzipSync(body), { status: response.status, headers })
}
