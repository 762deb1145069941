/**
 * Login sessions and the failed-login brake. Sessions are random ids kept in memory (the cookie
 * is only a handle): a logout deletes one, so a copied cookie is dead afterwards; they expire after
 * a day unused and a week in all; restarting the dashboard ends them all.
 */

/** A week: an operator on a phone should not have to paste the token every morning. */
export const SESSION_MAX_AGE_MS = 7 * 24 * 3600_000
/** A session not used for a day ends. */
export const SESSION_IDLE_MS = 24 * 3600_000
/** Sessions kept at most: beyond it the oldest go (a login loop must not eat the memory). */
const MAX_SESSIONS = 1000

interface Session {
  created: number
  used: number
}

export class SessionStore {
  private readonly sessions = new Map<string, Session>()

  constructor(private readonly clock: () => number = Date.now) {}

  /** A new session id: 256 random bits. */
  create(): string {
    const id = randomToken()
    const now = this.clock()
    this.sessions.set(id, { created: now, used: now })
    while (this.sessions.size > MAX_SESSIONS) this.sessions.delete(this.sessions.keys().next().value!)
    return id
  }

  /** True for a live session (and marks it used); an expired one is forgotten. */
  check(id: string): boolean {
    const session = this.sessions.get(id)
    if (!session) return false
    const now = this.clock()
    if (now - session.created > SESSION_MAX_AGE_MS || now - session.used > SESSION_IDLE_MS) {
      this.sessions.delete(id)
      return false
    }
    session.used = now
    return true
  }

  revoke(id: string): void {
    this.sessions.delete(id)
  }

  get size(): number {
    return this.sessions.size
  }
}

/** Failed attempts allowed before the brake: typing mistakes cost nothing. */
export const FREE_FAILURES = 5
/** The longest wait the brake imposes. */
export const MAX_LOCK_MS = 15 * 60_000
const MAX_CLIENTS = 10_000

interface Failures {
  count: number
  lockedUntil: number
}

/**
 * Per client (IP address): after FREE_FAILURES wrong tokens, each further one locks that client out
 * for 1 s, 2 s, 4 s … up to 15 minutes; a right token clears it. Online guessing of a 32-character
 * token was hopeless already; this also keeps a client from burning the server's time.
 */
export class LoginLimiter {
  private readonly clients = new Map<string, Failures>()

  constructor(private readonly clock: () => number = Date.now) {}

  /** Milliseconds this client must wait before its next attempt (0: go ahead). */
  wait(client: string): number {
    const f = this.clients.get(client)
    return f ? Math.max(0, f.lockedUntil - this.clock()) : 0
  }

  failed(client: string): void {
    const f = this.clients.get(client) ?? { count: 0, lockedUntil: 0 }
    f.count++
    if (f.count > FREE_FAILURES) f.lockedUntil = this.clock() + Math.min(MAX_LOCK_MS, 1000 * 2 ** (f.count - FREE_FAILURES - 1))
    this.clients.delete(client)
    this.clients.set(client, f)
    while (this.clients.size > MAX_CLIENTS) this.clients.delete(this.clients.keys().next().value!)
  }

  succeeded(client: string): void {
    this.clients.delete(client)
  }
}

/** 32 random bytes as base64url (43 characters): session ids and generated tokens. */
export function randomToken(): string {
  // Web Crypto, not node:crypto: a top-level node: import would load with every command of the bundle
  return Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64url')
}
