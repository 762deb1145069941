import type { Server } from 'bun'
import { ClmntError, UsageError } from '../lib/errors.ts'
import type { Logger } from '../lib/log.ts'
import { Checker, HttpError } from './api.ts'
import { apiRoute, type ApiContext } from './api-routes.ts'
import { loadPage, type PageAssets } from './assets.ts'
import { authenticate, bearerOf, cookieValue, crossSiteReason, hostOfHeader, isLoopbackHost, safeEqual, SESSION_COOKIE, sessionCookie, tokenProblem } from './auth.ts'
import { asset, fail, gzipped, PAGE_CSP, rawPath, redirect, SECURITY_HEADERS } from './http.ts'
import { loginPage, loginStyleHash, type LoginMessage } from './login.ts'
import { LoginLimiter, SessionStore } from './sessions.ts'
import { EventStreams } from './live.ts'
import { FleetSnapshot } from './snapshot.ts'

/**
 * `clmnt dashboard`'s HTTP server: the page, its JSON API and the login form, all through one
 * handler so that every request meets the same checks (Host, token, same origin) before a route
 * (the API's are in api-routes.ts).
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
  const api: ApiContext = { baseDir: options.baseDir, snapshot, events, sessions, checker }
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

    if (path.startsWith('/api/')) return apiRoute(api, req, path, method, auth)
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
