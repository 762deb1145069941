import type { Server } from 'bun'
import { ClmntError, UsageError } from '../lib/errors.ts'
import { parseDuration, parseSince } from '../lib/duration.ts'
import type { Logger } from '../lib/log.ts'
import { intOption } from '../lib/numbers.ts'
import { moltHistory } from '../health/history-report.ts'
import { Checker, fleetBackups, HttpError, lookupMolt, moltHealth } from './api.ts'
import { loadPage, type Asset, type PageAssets } from './assets.ts'
import { authenticate, bearerOf, cookieValue, crossSiteReason, hostOfHeader, isLoopbackHost, safeEqual, SESSION_COOKIE, sessionCookie, tokenProblem, type AuthResult } from './auth.ts'
import { loginPage, loginStyleHash, type LoginMessage } from './login.ts'
import { LoginLimiter, SessionStore } from './sessions.ts'
import { EventStreams, moltsBody, notModified } from './live.ts'
import { SERIES_DEFAULT_POINTS, SERIES_MAX_POINTS, seriesOf } from './series.ts'
import { FleetSnapshot } from './snapshot.ts'

/**
 * `clmnt dashboard`'s HTTP server: the page, its JSON API and the login form, all through one
 * handler so that every request meets the same checks (Host, token, same origin) before a route.
 * Molt names from the URL are validated before any path is built, and go to the core functions as
 * values: nothing here runs a shell or another program.
 */

export interface DashboardOptions {
  baseDir: string
  host: string
  /** 0: any free port */
  port: number
  /** null: no authentication (the operator opted out), which is allowed on loopback only */
  token: string | null
  /** PEM files: serve https (Bun.serve's tls) */
  tls?: { cert: string; key: string }
  /** "check now" at most once per molt in this time (default 30 s) */
  checkMinIntervalMs?: number
  /** `/api/molts` is rebuilt in the background this often while in use (default 2 s; 0: for every request) */
  refreshMs?: number
  /** "check now": HTTP timeout of the probe (as `health check --timeout`) */
  checkTimeoutMs?: number
  log?: Logger
  /** clmnt's version, for clmnt_build_info on /metrics */
  version?: string
  /** open /api/events streams at most (default 64) */
  maxEventStreams?: number
}

export interface Dashboard {
  url: string
  port: number
  /** stops listening, then waits for running checks to finish writing */
  stop(): Promise<void>
}

export const DEFAULT_CHECK_TIMEOUT_MS = 5000
const MAX_BODY_BYTES = 16 * 1024
/** The history endpoint's defaults are the CLI's (`history --limit 20`, all time). */
const HISTORY_DEFAULT_LIMIT = '20'

export async function startDashboard(options: DashboardOptions): Promise<Dashboard> {
  if (options.token === null && !isLoopbackHost(options.host)) {
    throw new UsageError(`refusing to listen on ${options.host} without a token: anyone who can reach it could read the fleet and run checks`)
  }
  if (options.token !== null) {
    const problem = tokenProblem(options.token)
    if (problem) throw new UsageError(problem)
  }
  const page = await loadPage()
  const handler = createHandler(options, page)
  const tls = options.tls && { cert: readPem(options.tls.cert, '--tls-cert'), key: readPem(options.tls.key, '--tls-key') }
  let server: Server<undefined>
  try {
    server = Bun.serve({
      hostname: options.host,
      port: options.port,
      fetch: (req, srv) => handler.handle(req, srv.requestIP(req)?.address ?? 'unknown'),
      maxRequestBodySize: MAX_BODY_BYTES,
      // the first /api/molts after the start waits for the first snapshot (each history's tail);
      // event streams send a heartbeat every 15 s
      idleTimeout: 60,
      ...(tls ? { tls } : {}),
    })
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    const why = code === 'EADDRINUSE' ? 'the port is in use, or the host name is not an address of this machine' : code === 'EADDRNOTAVAIL' ? 'that address is not on this machine' : code === 'EACCES' ? 'permission denied (ports below 1024 need privileges)' : (error as Error).message
    throw new ClmntError(`cannot listen on ${options.host}:${options.port}: ${why}`, 1, { cause: error })
  }
  // the first page load should not wait for every molt's history to be read
  handler.snapshot.warm()
  const port = server.port!
  const host = options.host.includes(':') && !options.host.startsWith('[') ? `[${options.host}]` : options.host
  return {
    url: `${tls ? 'https' : 'http'}://${host}:${port}/`,
    port,
    async stop() {
      handler.snapshot.stop()
      // the streams end cleanly (their last chunk flushed) before the sockets are closed
      if (handler.events.size) {
        handler.events.closeAll()
        await Bun.sleep(50)
      }
      await server.stop(true)
      await handler.checker.settle()
    },
  }
}

// ---------------------------------------------------------------------------------------------

const SECURITY_HEADERS = {
  'X-Content-Type-Options': 'nosniff',
  // not no-referrer: under it a browser sends "Origin: null" with the page's own form posts
  'Referrer-Policy': 'same-origin',
  'X-Frame-Options': 'DENY',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
}

const PAGE_CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { ...SECURITY_HEADERS, 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store', ...headers },
  })
}

const fail = (status: number, error: string, headers?: Record<string, string>) => json(status, { error }, headers)

function asset(file: Asset, cache: string, csp?: string): Response {
  const headers: Record<string, string> = { ...SECURITY_HEADERS, 'Content-Type': file.type, 'Cache-Control': cache }
  if (csp) headers['Content-Security-Policy'] = csp
  return new Response(file.body, { headers })
}

function redirect(location: string, headers: Record<string, string> = {}): Response {
  return new Response(null, { status: 303, headers: { ...SECURITY_HEADERS, Location: location, 'Cache-Control': 'no-store', ...headers } })
}

/** The path with its percent-encoding kept: "..%2F..%2Fetc" is one segment, and reaches the name check as "../../etc". */
function rawPath(url: string): string {
  const path = url.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i, '')
  const end = path.search(/[?#]/)
  return (end === -1 ? path : path.slice(0, end)) || '/'
}

function decodeSegments(path: string): string[] {
  try {
    return path.split('/').slice(1).map(decodeURIComponent)
  } catch {
    throw new HttpError(400, 'malformed URL: bad percent-encoding')
  }
}

function queryOf(url: string, allowed: string[]): URLSearchParams {
  const query = new URL(url).searchParams
  for (const key of query.keys()) if (!allowed.includes(key)) throw new HttpError(400, `unknown parameter ${JSON.stringify(key)}${allowed.length ? `: expected ${allowed.join(', ')}` : ''}`)
  return query
}

/** A certificate or key file (the operator's, not a molt's): one line when it is missing or empty. */
function readPem(path: string, flag: string): string {
  let text: string
  try {
    text = require('node:fs').readFileSync(path, 'utf8') as string
  } catch (error) {
    throw new UsageError(`${flag} ${JSON.stringify(path)}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`)
  }
  if (!text.includes('-----BEGIN ')) throw new UsageError(`${flag} ${JSON.stringify(path)} is not a PEM file`)
  return text
}

export function createHandler(options: DashboardOptions, page: PageAssets) {
  const token = options.token
  const log = options.log
  const scheme = options.tls ? 'https:' : 'http:'
  const secure = Boolean(options.tls)
  const sessions = new SessionStore()
  const limiter = new LoginLimiter()
  const snapshot = new FleetSnapshot(options.baseDir, options.refreshMs)
  const events = new EventStreams(snapshot, options.maxEventStreams)
  const checker = new Checker(options.checkTimeoutMs ?? DEFAULT_CHECK_TIMEOUT_MS, (message) => log?.warn(message), options.checkMinIntervalMs)
  const loginCsp = `default-src 'none'; style-src ${loginStyleHash()}; img-src data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'`
  const login = (status: number, message: LoginMessage, headers: Record<string, string> = {}) =>
    new Response(loginPage(message), { status, headers: { ...SECURITY_HEADERS, 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store', 'Content-Security-Policy': loginCsp, ...headers } })

  const tooMany = (wait: number) => ({ 'Retry-After': String(Math.ceil(wait / 1000)) })

  async function route(req: Request, client: string): Promise<Response> {
    const path = rawPath(req.url)
    const method = req.method === 'HEAD' ? 'GET' : req.method

    // without a token only loopback may connect, and only under a loopback name: a web page that
    // points its own host name at 127.0.0.1 (DNS rebinding) would otherwise pass as same-origin
    if (token === null) {
      const host = hostOfHeader(req.headers.get('host'))
      if (host === null || !isLoopbackHost(host)) return fail(403, 'this dashboard has no token and answers only to a loopback address (127.0.0.1, localhost, [::1])')
    }
    if (method === 'POST') {
      const reason = crossSiteReason(req.headers, scheme)
      if (reason) return path === '/login' ? login(403, 'cross-site') : fail(403, `cross-site request refused (${reason})`)
    }

    if (path === '/login') return loginRoute(req, method, client)
    if (path === '/logout') {
      if (method !== 'POST') return fail(405, 'use POST', { Allow: 'POST' })
      // the session ends on the server: a copy of the cookie is worth nothing after this
      const id = cookieValue(req.headers.get('cookie'), SESSION_COOKIE)
      if (id) sessions.revoke(id)
      // its event streams end now, not at their next heartbeat
      events.recheck()
      return redirect('/', { 'Set-Cookie': sessionCookie(null, secure) })
    }

    // a client that keeps sending wrong tokens waits before its token is even looked at
    const bearer = token === null ? null : bearerOf(req.headers)
    if (bearer !== null) {
      const wait = limiter.wait(client)
      if (wait > 0) return fail(429, `too many wrong tokens from ${client}: try again in ${Math.ceil(wait / 1000)} s`, tooMany(wait))
    }
    const auth = authenticate(req.headers, token, sessions)
    if (bearer !== null) {
      if (auth === null) limiter.failed(client)
      else limiter.succeeded(client)
    }
    if (auth === null) {
      // Prometheus and scripts get a plain 401 they can act on, not the login page
      if (path.startsWith('/api/') || path === '/metrics' || method !== 'GET') return fail(401, 'authentication required: send "Authorization: Bearer <token>", or log in at /login', { 'WWW-Authenticate': 'Bearer realm="clmnt dashboard"' })
      return login(401, null)
    }

    if (path.startsWith('/api/')) return api(req, path, method, auth, req.headers.get('cookie'))
    if (method !== 'GET') return fail(405, 'use GET', { Allow: 'GET, HEAD' })
    if (path === '/metrics') {
      const { renderFleetMetrics, METRICS_CONTENT_TYPE } = await import('../metrics/fleet.ts')
      return new Response(renderFleetMetrics(options.baseDir, options.version ?? 'unknown'), {
        headers: { ...SECURITY_HEADERS, 'Content-Type': METRICS_CONTENT_TYPE, 'Cache-Control': 'no-store' },
      })
    }
    if (path === '/' || path === '/index.html') return asset(page.index, 'no-store', PAGE_CSP)
    const file = page.files.get(path)
    if (file) return asset(file, 'private, max-age=31536000, immutable')
    return fail(404, 'not found')
  }

  async function loginRoute(req: Request, method: string, client: string): Promise<Response> {
    if (token === null) return redirect('/')
    // the URL printed when the token was made (/login?token=…) logs in once and leaves the address bar clean
    const fromUrl = method === 'GET' ? new URL(req.url).searchParams.get('token') : null
    if (method === 'GET' && fromUrl === null) return authenticate(req.headers, token, sessions) ? redirect('/') : login(200, null)
    if (method !== 'POST' && method !== 'GET') return fail(405, 'use GET or POST', { Allow: 'GET, HEAD, POST' })
    const wait = limiter.wait(client)
    if (wait > 0) return login(429, 'too-many', tooMany(wait))
    let given: FormDataEntryValue | null = fromUrl
    if (method === 'POST') {
      try {
        given = (await req.formData()).get('token')
      } catch {
        return fail(400, 'expected a form with a token field')
      }
    }
    if (typeof given === 'string' && safeEqual(given.trim(), token)) {
      limiter.succeeded(client)
      return redirect('/', { 'Set-Cookie': sessionCookie(sessions.create(), secure) })
    }
    limiter.failed(client)
    return login(401, 'wrong-token')
  }

  async function api(req: Request, path: string, method: string, auth: AuthResult, cookie: string | null): Promise<Response> {
    const segments = decodeSegments(path)
    const now = Date.now()
    const only = (allowed: string) => {
      if (method !== allowed) throw new HttpError(405, `use ${allowed}`, { Allow: allowed === 'GET' ? 'GET, HEAD' : allowed })
    }
    if (path === '/api/molts') {
      only('GET')
      const query = queryOf(req.url, ['since'])
      const snap = await snapshot.get()
      const out = moltsBody(req, snapshot, snap, query)
      // no-cache, not no-store: the browser keeps the answer and asks with If-None-Match
      const headers: Record<string, string> = { ...SECURITY_HEADERS, 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'private, no-cache', ETag: snap.etag, Vary: 'Accept-Encoding', 'X-Clmnt-Auth': auth ?? 'open' }
      if (!out) return new Response(null, { status: 304, headers })
      return new Response(out.body, { headers: { ...headers, ...(out.gzip ? { 'Content-Encoding': 'gzip' } : {}) } })
    }
    if (path === '/api/events') {
      only('GET')
      queryOf(req.url, [])
      // a cookie session can end while the stream is open: it is looked at before every write
      const session = auth === 'cookie' ? cookieValue(cookie, SESSION_COOKIE) : null
      const stream = events.open(req.signal, session ? () => sessions.check(session) : () => true)
      if (!stream) return fail(503, `too many open event streams (${events.size}): poll /api/molts instead`, { 'Retry-After': '30' })
      return new Response(stream, { headers: { ...SECURITY_HEADERS, 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', 'X-Accel-Buffering': 'no' } })
    }
    if (path === '/api/incidents') {
      only('GET')
      const query = queryOf(req.url, ['since'])
      const snap = await snapshot.get()
      const since = Math.max(parseSince(query.get('since') ?? '7d', 'since', now), now - 7 * 86_400_000)
      const headers = { ETag: `"${snap.etag.slice(1, -1)}-incidents"`, 'Cache-Control': 'private, no-cache' }
      if (query.get('since') === null && notModified(req, headers.ETag)) return new Response(null, { status: 304, headers: { ...SECURITY_HEADERS, ...headers } })
      return json(200, snapshot.incidents(snap, since, now), query.get('since') === null ? headers : {})
    }
    if (path === '/api/backups') {
      only('GET')
      queryOf(req.url, [])
      return json(200, await fleetBackups(options.baseDir))
    }
    if (segments[0] === 'api' && segments[1] === 'molts' && segments.length >= 3) {
      // the name is judged first, whatever follows it: "..", "../x" and friends are a 400
      const [, , name, action] = segments as [string, string, string, string | undefined]
      const molt = lookupMolt(options.baseDir, name)
      if (segments.length !== 4 || !['health', 'history', 'check', 'series'].includes(action!)) return fail(404, 'not found')
      only(action === 'check' ? 'POST' : 'GET')
      if (action === 'health') {
        queryOf(req.url, [])
        return json(200, moltHealth(molt, now))
      }
      if (action === 'history') {
        const query = queryOf(req.url, ['since', 'limit'])
        const limit = intOption(query.get('limit') ?? HISTORY_DEFAULT_LIMIT, 'limit', { min: 1, max: 100_000 })!
        const sinceText = query.get('since')
        const since = sinceText === null ? null : parseSince(sinceText, 'since', now)
        const { exists: _exists, ...report } = moltHistory(molt, { now, since, limit })
        return json(200, report)
      }
      if (action === 'series') {
        const query = queryOf(req.url, ['window', 'points'])
        const window = parseDuration(query.get('window') ?? '24h')
        if (window === null || window > 7 * 86_400_000) throw new HttpError(400, `invalid window ${JSON.stringify(query.get('window'))}: expected a duration up to 7d, like 24h`)
        const points = intOption(query.get('points') ?? String(SERIES_DEFAULT_POINTS), 'points', { min: 1, max: SERIES_MAX_POINTS })!
        await snapshot.get()
        return json(200, seriesOf(snapshot.timelines, snapshot.homeOf(molt.name) ?? molt.home, molt.name, now - window, now, points))
      }
      const record = await checker.check(molt)
      snapshot.invalidate()
      return json(200, record)
    }
    return fail(404, 'not found')
  }

  async function handle(req: Request, client = 'unknown'): Promise<Response> {
    const started = performance.now()
    let response: Response
    try {
      response = await gzipped(req, await route(req, client))
    } catch (error) {
      response = errorResponse(error)
    }
    log?.debug(`${req.method} ${rawPath(req.url)} ${response.status} ${Math.round(performance.now() - started)} ms`)
    return response
  }

  /** Text the client accepts gzipped, gzipped (the snapshot comes compressed already). */
  async function gzipped(req: Request, response: Response): Promise<Response> {
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

  function errorResponse(error: unknown): Response {
    if (error instanceof HttpError) return fail(error.status, error.message, error.headers)
    if (error instanceof UsageError) return fail(400, error.message)
    if (error instanceof ClmntError) {
      log?.error(error.message)
      return fail(500, error.message)
    }
    const err = error instanceof Error ? error : new Error(String(error))
    log?.error(`dashboard: internal error: ${err.message}`)
    if (log?.level === 'verbose') log.debug(err.stack ?? '')
    return fail(500, 'internal error: see the dashboard\'s log')
  }

  return { handle, checker, snapshot, events }
}
