/**
 * Who may use the dashboard. Without a token it listens on loopback only; with one, every request
 * carries it (Bearer header) or the session cookie the login form sets. POSTs must come from the
 * dashboard's own page, whatever the token says.
 */

export const SESSION_COOKIE = 'clmnt_dashboard'
/** A week: an operator on a phone should not have to paste the token every morning. */
export const SESSION_MAX_AGE_S = 7 * 24 * 3600
/** Shorter tokens are accepted with a warning: they can be guessed over the network. */
export const MIN_TOKEN_LENGTH = 16

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

/** The cookie's value: derived from the token, so the cookie alone is not the token (and a new token logs everyone out). */
export function sessionValue(token: string): string {
  return loadCrypto().createHmac('sha256', token).update('clmnt dashboard session v1').digest('base64url')
}

/** A token that is usable at all: printable, no spaces (it travels in a header and a form). */
export function tokenProblem(token: string): string | null {
  if (token === '') return 'the dashboard token is empty'
  if (!/^[\x21-\x7e]+$/.test(token)) return 'the dashboard token must be printable ASCII without spaces'
  if (token.length > 512) return 'the dashboard token is longer than 512 characters'
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

/** With no token every request is let in (loopback only); with one, the header or the cookie must match. */
export function authenticate(headers: Headers, token: string | null): AuthResult {
  if (token === null) return 'open'
  const authorization = headers.get('authorization')
  const bearer = authorization && /^Bearer +(\S+)\s*$/i.exec(authorization)?.[1]
  if (bearer) return safeEqual(bearer, token) ? 'bearer' : null
  const cookie = cookieValue(headers.get('cookie'), SESSION_COOKIE)
  if (cookie) return safeEqual(cookie, sessionValue(token)) ? 'cookie' : null
  return null
}

/**
 * A state-changing request must come from this server's own page. Browsers say where a request
 * comes from: Sec-Fetch-Site (which no page can set or forge, sent to localhost and https only),
 * else Origin (always sent with a cross-origin POST). A request with neither is no browser's
 * cross-site request (curl, scripts).
 */
export function crossSiteReason(headers: Headers): string | null {
  const site = headers.get('sec-fetch-site')
  if (site !== null) return site === 'same-origin' ? null : `Sec-Fetch-Site is ${JSON.stringify(site)}`
  const origin = headers.get('origin')
  if (origin === null) return null
  const host = headers.get('host')
  let ok = false
  try {
    const url = new URL(origin)
    ok = url.protocol === 'http:' && host !== null && url.host === new URL(`http://${host}`).host
  } catch {}
  return ok ? null : `Origin ${JSON.stringify(origin)} is not this dashboard`
}

/** The Set-Cookie header of a login (value set) or a logout (null). */
export function sessionCookie(value: string | null): string {
  const attributes = ['Path=/', 'HttpOnly', 'SameSite=Strict']
  return value === null ? `${SESSION_COOKIE}=; Max-Age=0; ${attributes.join('; ')}` : `${SESSION_COOKIE}=${value}; Max-Age=${SESSION_MAX_AGE_S}; ${attributes.join('; ')}`
}

export type TokenSource = '--token' | 'CLMNT_DASHBOARD_TOKEN' | 'clmnt.json'

/**
 * The token: --token, else $CLMNT_DASHBOARD_TOKEN (an empty one counts as unset), else clmnt.json's
 * dashboard.token. `config` is called only when needed: reading clmnt.json may fail.
 */
export function resolveToken(sources: { flag?: string; env?: string; config: () => string | undefined }): { token: string; source: TokenSource } | null {
  if (sources.flag !== undefined) return { token: sources.flag, source: '--token' }
  if (sources.env) return { token: sources.env, source: 'CLMNT_DASHBOARD_TOKEN' }
  const fromConfig = sources.config()
  return fromConfig === undefined ? null : { token: fromConfig, source: 'clmnt.json' }
}
