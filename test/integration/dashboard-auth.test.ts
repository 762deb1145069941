import { afterAll, afterEach, beforeAll, describe, expect, test } from 'bun:test'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { SESSION_COOKIE } from '../../src/dashboard/auth.ts'
import { startDashboard, type Dashboard } from '../../src/dashboard/server.ts'
import { FREE_FAILURES } from '../../src/dashboard/sessions.ts'
import { UsageError } from '../../src/lib/errors.ts'
import { dashboardFleet, type FIXTURE } from '../helpers/browser.ts'

// What a local user (or a molt's agent) can try against the dashboard on 127.0.0.1: no token, a
// guessed one, many guesses, a copied cookie after its owner logged out, hammering "check now".

const TOKEN = 'auth-test-token-0123456789abcdefghijklmnop'
let fleet: Awaited<ReturnType<typeof dashboardFleet>>
const running: Dashboard[] = []

beforeAll(async () => {
  fleet = await dashboardFleet()
}, 60_000)
afterEach(async () => {
  for (const d of running.splice(0)) await d.stop()
})
afterAll(() => fleet?.cleanup())

async function start(options: { checkMinIntervalMs?: number } = {}): Promise<Dashboard> {
  const d = await startDashboard({ baseDir: fleet.baseDir, host: '127.0.0.1', port: 0, token: TOKEN, checkTimeoutMs: 500, ...options })
  running.push(d)
  return d
}
const at = (d: Dashboard, path: string, init: RequestInit = {}) => fetch(new URL(path, d.url), { redirect: 'manual', ...init })
const bearer = (token: string) => ({ Authorization: `Bearer ${token}` })
const loginForm = (d: Dashboard, token: string) => at(d, '/login', { method: 'POST', body: new URLSearchParams({ token }), headers: { Origin: new URL(d.url).origin } })
const historyLines = (name: keyof typeof FIXTURE) => readFileSync(join(fleet.molt(name).home, '.molt-state', 'health-history.jsonl'), 'utf8').split('\n').filter(Boolean).length

test('no token: nothing but the login form, and no molt data in any answer', async () => {
  const d = await start()
  for (const path of ['/api/molts', '/api/molts/alpha/health', '/api/molts/alpha/history', '/api/backups', '/metrics']) {
    const r = await at(d, path)
    expect(r.status).toBe(401)
    expect(await r.text()).not.toContain('alpha')
  }
  const page = await at(d, '/')
  expect(page.status).toBe(401)
  expect(await page.text()).toContain('<form method="post" action="/login">')
  expect((await at(d, '/api/molts/alpha/check', { method: 'POST' })).status).toBe(401)
})

test.each([
  ['short', 'short-token-0123456789', /at least 32/],
  ['31 characters', 'x1234567890abcdefghijklmnopqrst', /at least 32/],
  ['a repeated pattern', 'abcd'.repeat(10), /not random/],
])('a %s token is refused: the dashboard does not start', async (_, token, message) => {
  const p = startDashboard({ baseDir: fleet.baseDir, host: '127.0.0.1', port: 0, token })
  await expect(p).rejects.toThrow(UsageError)
  await expect(startDashboard({ baseDir: fleet.baseDir, host: '127.0.0.1', port: 0, token })).rejects.toThrow(message)
})

describe('brute force', () => {
  test('wrong Bearer tokens: after a few, the client must wait (429, Retry-After), even with the right token', async () => {
    const d = await start()
    for (let i = 0; i < FREE_FAILURES; i++) expect((await at(d, '/api/molts', { headers: bearer(`guess-${i}`) })).status).toBe(401)
    expect((await at(d, '/api/molts', { headers: bearer('one-more') })).status).toBe(401)
    const locked = await at(d, '/api/molts', { headers: bearer(TOKEN) })
    expect(locked.status).toBe(429)
    expect(Number(locked.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    expect((await locked.json()).error).toMatch(/too many wrong tokens/)
  })

  test('the login form: the same brake; a session that was already open keeps working', async () => {
    const d = await start()
    const session = (await loginForm(d, TOKEN)).headers.get('set-cookie')!.split(';')[0]!
    for (let i = 0; i <= FREE_FAILURES; i++) expect((await loginForm(d, `guess-${i}`)).status).toBe(401)
    const refused = await loginForm(d, TOKEN)
    expect(refused.status).toBe(429)
    expect(refused.headers.get('set-cookie')).toBeNull()
    expect(await refused.text()).toContain('Too many wrong tokens')
    expect((await at(d, '/api/molts', { headers: { Cookie: session } })).status).toBe(200)
  })
})

test('sessions: random per login, and a cookie replayed after logout is refused (401)', async () => {
  const d = await start()
  const cookies = await Promise.all([loginForm(d, TOKEN), loginForm(d, TOKEN)].map(async (r) => (await r).headers.get('set-cookie')!.split(';')[0]!))
  expect(cookies[0]).not.toBe(cookies[1])
  for (const cookie of cookies) expect(cookie).toMatch(new RegExp(`^${SESSION_COOKIE}=[A-Za-z0-9_-]{43}$`))
  const [mine, other] = cookies as [string, string]
  expect((await at(d, '/api/molts', { headers: { Cookie: mine } })).status).toBe(200)
  const logout = await at(d, '/logout', { method: 'POST', headers: { Cookie: mine, Origin: new URL(d.url).origin } })
  expect(logout.status).toBe(303)
  // a copy of the cookie taken before the logout is dead: the session ended on the server
  expect((await at(d, '/api/molts', { headers: { Cookie: mine } })).status).toBe(401)
  expect((await at(d, '/', { headers: { Cookie: mine } })).status).toBe(401)
  // the other browser's session lives on
  expect((await at(d, '/api/molts', { headers: { Cookie: other } })).status).toBe(200)
})

test('"check now" runs once per molt per interval: the second click gets 429 and adds no history line', async () => {
  const d = await start()
  const headers = { ...bearer(TOKEN) }
  const before = historyLines('bravo')
  expect((await at(d, '/api/molts/bravo/check', { method: 'POST', headers })).status).toBe(200)
  const again = await at(d, '/api/molts/bravo/check', { method: 'POST', headers })
  expect(again.status).toBe(429)
  expect(Number(again.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
  expect((await again.json()).error).toMatch(/bravo was checked \d+ s ago/)
  expect(historyLines('bravo')).toBe(before + 1)
  // another molt is not held up by it
  expect((await at(d, '/api/molts/alpha/check', { method: 'POST', headers })).status).toBe(200)
})

test('responses are gzipped for clients that accept it, and the same JSON', async () => {
  const d = await start()
  const headers = { ...bearer(TOKEN), 'Accept-Encoding': 'gzip' }
  const raw = await at(d, '/api/molts', { headers, decompress: false } as RequestInit)
  expect(raw.headers.get('content-encoding')).toBe('gzip')
  const zipped = new Uint8Array(await raw.arrayBuffer())
  const plain = await (await at(d, '/api/molts', { headers: { ...bearer(TOKEN), 'Accept-Encoding': 'identity' } })).json()
  expect(JSON.parse(new TextDecoder().decode(Bun.gunzipSync(zipped))).molts.map((m: { name: string }) => m.name)).toEqual(plain.molts.map((m: { name: string }) => m.name))
  const page = await at(d, '/', { headers, decompress: false } as RequestInit)
  expect(page.headers.get('content-encoding')).toBe('gzip')
})
