import { SESSION_MAX_AGE_MS, type SessionStore } from './sessions.ts'

/**
 * Who may use the dashboard. Loopback is no trust boundary on a host whose molts run agents as
 * local users, so there is always a token (generated on first start) unless the operator opts
 * out explicitly on loopback; every request carries it (Bearer header) or the session cookie the
 * login form sets. POSTs must come from the dashboard's own page, whatever the token says.
 */

export const SESSION_COOKIE = 'clmnt_dashboard'
/** A token must be at least this long: shorter ones are refused, not warned about. */
export const MIN_TOKEN_LENGTH = 32
/** …and hold this many different characters: "aaaa…" or "0123…" repeated is not random. */
export const MIN_TOKEN_DISTINCT = 12

// node:crypto is loaded on first use: a top-level import would be hoisted into every start-up of the bundle
type Crypto = typeof import('node:crypto')
let nodeCrypto: Crypto | undefined
const loadCrypto = (): Crypto => (nodeCrypto ??= require('node:crypto') as Crypto)

/** Equal in constant time: both sides are hashed first, so their lengths never show either. */
export function safeEqual(given: string, expected: string): boolean {
  const { createHash, timingSafeEqual } = loadCrypto()
  const a = createHash('sha256').update(given).digest()
  const b = createHash('sha256').update(expected).digest()
  return timingSafeEqual(a, b)
}

/**
 * A token that is usable at all: printable, no spaces (it travels in a header and a form), and
 * long and varied enough to be random (`openssl rand -hex 32`, or let the dashboard make one).
 */
export function tokenProblem(token: string): string | null {
  if (token === '') return 'the dashboard token is empty'
  if (!/^[\x21-\x7e]+$/.test(token)) return 'the dashboard token must be printable ASCII without spaces'
  if (token.length > 512) return 'the dashboard token is longer than 512 characters'
  const hint = 'make one with `openssl rand -hex 32`, or remove it and let the dashboard generate one'
  if (token.length < MIN_TOKEN_LENGTH) return `the dashboard token has ${token.length} characters; at least ${MIN_TOKEN_LENGTH} random ones are needed: ${hint}`
  if (new Set(token).size < MIN_TOKEN_DISTINCT) return `the dashboard token is not random (only ${new Set(token).size} different characters): ${hint}`
  return null
}

/** 127.0.0.0/8, ::1 and "localhost": only this machine can connect. 0.0.0.0 and :: are every interface. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase()
  if (h === 'localhost') return true
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(h)) return h.startsWith('127.')
  // node:net's isIP would do, but net must stay out of the bundle's start-up
  return h === '::1' || h === '0:0:0:0:0:0:0:1' || /^::ffff:127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h)
}

/** The host name of a Host header ("127.0.0.1:3000", "[::1]:3000"); null when unreadable. */
export function hostOfHeader(header: string | null): string | null {
  if (!header) return null
  try {
    return new URL(`http://${header}`).hostname
  } catch {
    return null
  }
}

export function cookieValue(header: string | null, name: string): string | null {
  if (!header) return null
  for (const part of header.split(';')) {
    const eq = part.indexOf('=')
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim()
  }
  return null
}

export type AuthResult = 'open' | 'bearer' | 'cookie' | null

/**
 * With no token (opted out, loopback only) every request is let in; with one, the Bearer header
 * must hold it or the cookie must name a live session. A wrong Bearer is not rescued by a cookie.
 */
export function authenticate(headers: Headers, token: string | null, sessions: SessionStore): AuthResult {
  if (token === null) return 'open'
  const bearer = bearerOf(headers)
  if (bearer !== null) return safeEqual(bearer, token) ? 'bearer' : null
  const cookie = cookieValue(headers.get('cookie'), SESSION_COOKIE)
  if (cookie) return sessions.check(cookie) ? 'cookie' : null
  return null
}

/** The token of an `Authorization: Bearer …` header; null when there is none. */
export function bearerOf(headers: Headers): string | null {
  const authorization = headers.get('authorization')
  if (!authorization) return null
  return /^Bearer +(\S+)\s*$/i.exec(authorization)?.[1] ?? ''
}

/**
 * A state-changing request must come from this server's own page. Browsers say where a request
 * comes from: Sec-Fetch-Site (which no page can set or forge, sent to localhost and https only),
 * else Origin (always sent with a cross-origin POST). A request with neither is no browser's
 * cross-site request (curl, scripts).
 */
export function crossSiteReason(headers: Headers, scheme: 'http:' | 'https:' = 'http:'): string | null {
  const site = headers.get('sec-fetch-site')
  if (site !== null) return site === 'same-origin' ? null : `Sec-Fetch-Site is ${JSON.stringify(site)}`
  const origin = headers.get('origin')
  if (origin === null) return null
  const host = headers.get('host')
  let ok = false
  try {
    const url = new URL(origin)
    ok = url.protocol === scheme && host !== null && url.host === new URL(`${scheme}//${host}`).host
  } catch {}
  return ok ? null : `Origin ${JSON.stringify(origin)} is not this dashboard`
}

/** The Set-Cookie header of a login (session id) or a logout (null); Secure over TLS. */
export function sessionCookie(value: string | null, secure = false): string {
  const attributes = ['Path=/', 'HttpOnly', 'SameSite=Strict', ...(secure ? ['Secure'] : [])]
  return value === null ? `${SESSION_COOKIE}=; Max-Age=0; ${attributes.join('; ')}` : `${SESSION_COOKIE}=${value}; Max-Age=${SESSION_MAX_AGE_MS / 1000}; ${attributes.join('; ')}`
}

export type TokenSource = 'CLMNT_DASHBOARD_TOKEN' | 'clmnt.json' | 'token file'

/**
 * The token: $CLMNT_DASHBOARD_TOKEN (an empty one counts as unset), else clmnt.json's
 * dashboard.token, else the dashboard's own token file. Never the command line: every user sees
 * it in `ps`. The sources are called only when needed: reading a file may fail.
 */
export function resolveToken(sources: { env?: string; config: () => string | undefined; file: () => string | undefined }): { token: string; source: TokenSource } | null {
  if (sources.env) return { token: sources.env, source: 'CLMNT_DASHBOARD_TOKEN' }
  const fromConfig = sources.config()
  if (fromConfig !== undefined) return { token: fromConfig, source: 'clmnt.json' }
  const fromFile = sources.file()
  return fromFile === undefined ? null : { token: fromFile, source: 'token file' }
}
