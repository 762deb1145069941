import { parseDuration, parseSince } from '../lib/duration.ts'
import { intOption } from '../lib/numbers.ts'
import type { Molt } from '../fleet/discover.ts'
import { moltHistory } from '../health/history-report.ts'
import { type Checker, fleetBackups, HttpError, lookupMolt, moltHealth } from './api.ts'
import { cookieValue, SESSION_COOKIE, type AuthResult } from './auth.ts'
import { decodeSegments, fail, json, queryOf, SECURITY_HEADERS } from './http.ts'
import { type EventStreams, moltsBody, notModified } from './live.ts'
import { SERIES_DEFAULT_POINTS, SERIES_MAX_POINTS, seriesOf } from './series.ts'
import type { SessionStore } from './sessions.ts'
import type { FleetSnapshot } from './snapshot.ts'

/**
 * The JSON API behind the token: two tables, the fleet's routes (`/api/<name>`) and a molt's
 * (`/api/molts/<molt>/<action>`). Each route names its method and its query parameters, so a
 * wrong method is a 405 and an unknown parameter a 400 before the route runs.
 */

export interface ApiContext {
  baseDir: string
  snapshot: FleetSnapshot
  events: EventStreams
  sessions: SessionStore
  checker: Checker
}

interface Call {
  ctx: ApiContext
  req: Request
  query: URLSearchParams
  auth: AuthResult
  now: number
}

interface Route<C = Call> {
  method: 'GET' | 'POST'
  /** the query parameters it takes; undefined: any (not looked at) */
  params?: string[]
  run(call: C): Response | Promise<Response>
}

/** The history endpoint's defaults are the CLI's (`history --limit 20`, all time). */
const HISTORY_DEFAULT_LIMIT = '20'
const WEEK_MS = 7 * 86_400_000

const FLEET_ROUTES: Record<string, Route> = {
  '/api/molts': {
    method: 'GET',
    params: ['since'],
    async run({ ctx: { snapshot }, req, query, auth }) {
      const snap = await snapshot.get()
      const out = moltsBody(req, snapshot, snap, query)
      // no-cache, not no-store: the browser keeps the answer and asks with If-None-Match
      const headers: Record<string, string> = { ...SECURITY_HEADERS, 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'private, no-cache', ETag: snap.etag, Vary: 'Accept-Encoding', 'X-Clmnt-Auth': auth ?? 'open' }
      if (!out) return new Response(null, { status: 304, headers })
      return new Response(out.body, { headers: { ...headers, ...(out.gzip ? { 'Content-Encoding': 'gzip' } : {}) } })
    },
  },
  '/api/events': {
    method: 'GET',
    params: [],
    run({ ctx: { events, sessions }, req, auth }) {
      // a cookie session can end while the stream is open: it is looked at before every write
      const session = auth === 'cookie' ? cookieValue(req.headers.get('cookie'), SESSION_COOKIE) : null
      const stream = events.open(req.signal, session ? () => sessions.check(session) : () => true)
      if (!stream) return fail(503, `too many open event streams (${events.size}): poll /api/molts instead`, { 'Retry-After': '30' })
      return new Response(stream, { headers: { ...SECURITY_HEADERS, 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', 'X-Accel-Buffering': 'no' } })
    },
  },
  '/api/incidents': {
    method: 'GET',
    params: ['since'],
    async run({ ctx: { snapshot }, req, query, now }) {
      const snap = await snapshot.get()
      const since = Math.max(parseSince(query.get('since') ?? '7d', 'since', now), now - WEEK_MS)
      const headers = { ETag: `"${snap.etag.slice(1, -1)}-incidents"`, 'Cache-Control': 'private, no-cache' }
      if (query.get('since') === null && notModified(req, headers.ETag)) return new Response(null, { status: 304, headers: { ...SECURITY_HEADERS, ...headers } })
      return json(200, snapshot.incidents(snap, since, now), query.get('since') === null ? headers : {})
    },
  },
  '/api/backups': {
    method: 'GET',
    params: [],
    async run({ ctx }) {
      return json(200, await fleetBackups(ctx.baseDir))
    },
  },
}

const MOLT_ROUTES: Record<string, Route<Call & { molt: Molt }>> = {
  health: {
    method: 'GET',
    params: [],
    run: ({ molt, now }) => json(200, moltHealth(molt, now)),
  },
  history: {
    method: 'GET',
    params: ['since', 'limit'],
    run({ molt, query, now }) {
      const limit = intOption(query.get('limit') ?? HISTORY_DEFAULT_LIMIT, 'limit', { min: 1, max: 100_000 })!
      const sinceText = query.get('since')
      const since = sinceText === null ? null : parseSince(sinceText, 'since', now)
      const { exists: _exists, ...report } = moltHistory(molt, { now, since, limit })
      return json(200, report)
    },
  },
  series: {
    method: 'GET',
    params: ['window', 'points'],
    async run({ ctx: { snapshot }, molt, query, now }) {
      const window = parseDuration(query.get('window') ?? '24h')
      if (window === null || window > WEEK_MS) throw new HttpError(400, `invalid window ${JSON.stringify(query.get('window'))}: expected a duration up to 7d, like 24h`)
      const points = intOption(query.get('points') ?? String(SERIES_DEFAULT_POINTS), 'points', { min: 1, max: SERIES_MAX_POINTS })!
      await snapshot.get()
      return json(200, seriesOf(snapshot.timelines, snapshot.homeOf(molt.name) ?? molt.home, molt.name, now - window, now, points))
    },
  },
  check: {
    method: 'POST',
    async run({ ctx: { checker, snapshot }, molt }) {
      const record = await checker.check(molt)
      snapshot.invalidate()
      return json(200, record)
    },
  },
}

/** A request under /api/, its caller authenticated; `method` is GET for HEAD. */
export async function apiRoute(ctx: ApiContext, req: Request, path: string, method: string, auth: AuthResult): Promise<Response> {
  const segments = decodeSegments(path)
  const call = <E extends object>(route: Route<Call & E>, extra: E) => {
    if (method !== route.method) throw new HttpError(405, `use ${route.method}`, { Allow: route.method === 'GET' ? 'GET, HEAD' : route.method })
    const query = route.params ? queryOf(req.url, route.params) : new URL(req.url).searchParams
    return route.run({ ctx, req, query, auth, now: Date.now(), ...extra })
  }
  if (Object.hasOwn(FLEET_ROUTES, path)) return call(FLEET_ROUTES[path]!, {})
  if (segments[0] === 'api' && segments[1] === 'molts' && segments.length >= 3) {
    // the name is judged first, whatever follows it: "..", "../x" and friends are a 400
    const [, , name, action] = segments as [string, string, string, string | undefined]
    const molt = lookupMolt(ctx.baseDir, name)
    if (segments.length !== 4 || !Object.hasOwn(MOLT_ROUTES, action!)) return fail(404, 'not found')
    return call(MOLT_ROUTES[action!]!, { molt })
  }
  return fail(404, 'not found')
}
