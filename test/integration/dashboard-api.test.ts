import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { SESSION_COOKIE } from '../../src/dashboard/auth.ts'
import { startDashboard, type Dashboard } from '../../src/dashboard/server.ts'
import type { MoltsResponse } from '../../src/dashboard/types.ts'
import { UsageError } from '../../src/lib/errors.ts'
import { parseExposition } from '../../src/metrics/parse.ts'
import { dashboardFleet, FIXTURE, PLANTED } from '../helpers/browser.ts'
import { runCli } from '../helpers/cli.ts'

// The JSON API over a real fleet (real fake gateways, legacy files, planted markup), compared with
// what the CLI prints for the same files.

const TOKEN = 'dashboard-test-token-0123456789-Kq8ZrW'
let fleet: Awaited<ReturnType<typeof dashboardFleet>>
let open: Dashboard
let locked: Dashboard

beforeAll(async () => {
  fleet = await dashboardFleet()
  const backup = await runCli(['fleet', 'backup', '-q', '-d', fleet.baseDir])
  if (backup.code !== 0) throw new Error(`backup failed: ${backup.stderr}`)
  writeFileSync(join(fleet.baseDir, 'backups', 'broken.tar.gz'), 'not an archive')
  open = await startDashboard({ baseDir: fleet.baseDir, host: '127.0.0.1', port: 0, token: null, checkTimeoutMs: 500 })
  locked = await startDashboard({ baseDir: fleet.baseDir, host: '127.0.0.1', port: 0, token: TOKEN, checkTimeoutMs: 500 })
}, 60_000)

afterAll(async () => {
  await open?.stop()
  await locked?.stop()
  fleet?.cleanup()
})

const get = (path: string, init: RequestInit = {}, server = open) => fetch(new URL(path, server.url), { redirect: 'manual', ...init })
const post = (path: string, headers: Record<string, string> = {}, server = open) => get(path, { method: 'POST', headers }, server)
const cli = async (...args: string[]) => {
  const r = await runCli([...args, '-d', fleet.baseDir])
  return JSON.parse(r.stdout)
}
const historyLines = (name: string) => readFileSync(join(fleet.molt(name as keyof typeof FIXTURE).home, '.molt-state', 'health-history.jsonl'), 'utf8').split('\n').filter(Boolean).length

/** What differs between two reads of the same files a moment apart: the clock. */
function steady(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value), (key, v) => (key === 'age_seconds' || key === 'generated_at' ? 'T' : v))
}

async function expectJsonError(response: Response, status: number, message?: RegExp) {
  expect(response.status).toBe(status)
  expect(response.headers.get('content-type')).toStartWith('application/json')
  const body = await response.json()
  expect(Object.keys(body)).toEqual(['error'])
  expect(typeof body.error).toBe('string')
  // an error is one line for a person, never a stack
  expect(body.error).not.toMatch(/\n|\bat .*\.ts:\d+/)
  if (message) expect(body.error).toMatch(message)
}

describe('GET /api/molts', () => {
  let body: MoltsResponse
  beforeAll(async () => {
    const response = await get('/api/molts')
    expect(response.status).toBe(200)
    // kept by the browser, and asked again with If-None-Match (see dashboard-live.test.ts)
    expect(response.headers.get('cache-control')).toBe('private, no-cache')
    body = await response.json()
  })

  test('every molt, with counts for the header', () => {
    expect(body.molts.map((m) => m.name)).toEqual(Object.keys(FIXTURE))
    expect(body.counts).toEqual({ healthy: 1, starting: 0, unhealthy: 4, dead: 1, stopped: 0, unknown: 0, no_data: 1 })
    for (const molt of body.molts) expect(molt.health).toBe(FIXTURE[molt.name as keyof typeof FIXTURE].status)
  })

  test('each row holds exactly what `molt list --json` says of the molt', async () => {
    const list = await cli('molt', 'list', '--json')
    const rows = body.molts.map((m) => Object.fromEntries(Object.keys(list[0]).map((key) => [key, m[key as keyof typeof m]])))
    expect(steady(rows)).toEqual(steady(list))
  })

  test('port, gateway state and the latest health of each', () => {
    const [alpha, bravo, charlie, delta, echo, golf] = body.molts
    expect(alpha).toMatchObject({ gateway: 'running', http_status: 200, reason: null, stale: false, consecutive_failures: 0, phase: 'up', incident: null })
    expect(alpha!.response_time_ms).toBeGreaterThan(0)
    expect(alpha!.port).toBe(fleet.molt('alpha').port)
    expect(bravo).toMatchObject({ http_status: 500, reason: 'HTTP 500', consecutive_failures: 2, phase: 'pending', threshold: 3 })
    expect(charlie).toMatchObject({ reason: 'no answer within 5000 ms', consecutive_failures: null, phase: null })
    expect(delta).toMatchObject({ gateway: 'stale PID', consecutive_failures: 5, phase: 'down' })
    expect(echo).toMatchObject({ gateway: 'stopped', health: null, checked_at: null, stale: true, recent: [], incident: null })
    expect(echo!.uptime['24h']).toEqual({ checks: 0, healthy: 0, percent: null })
    // bash-toolkit files: strings coerced, curl's 000000 is no HTTP status
    expect(golf).toMatchObject({ health: 'unhealthy', http_status: null, response_time_ms: null, consecutive_failures: 3 })
  })

  test('an ongoing incident: from the watch state, else from the end of the history', () => {
    const by = Object.fromEntries(body.molts.map((m) => [m.name, m]))
    expect(by.delta!.incident).toMatchObject({ status: 'dead', source: 'watch' })
    expect(by.delta!.incident!.duration_ms).toBeGreaterThanOrEqual(2 * 3600_000)
    expect(by.charlie!.incident).toMatchObject({ status: 'unhealthy', reason: 'no answer within 5000 ms', source: 'history' })
    expect(by.alpha!.incident).toBeNull()
  })

  test('uptime over 24 h and 7 d and the sparkline points come from the history', () => {
    const alpha = body.molts[0]!
    expect(alpha.uptime['24h'].percent).toBe(100)
    expect(alpha.uptime['7d'].checks).toBe(336)
    expect(alpha.uptime['7d'].percent).toBeCloseTo(98.81, 1)
    expect(alpha.recent).toHaveLength(30)
    expect(Object.keys(alpha.recent[0]!)).toEqual(['timestamp', 'status', 'response_time_ms'])
  })

  test('markup from state files is passed on as data, for the page to show as text', () => {
    const hotel = body.molts.find((m) => m.name === 'hotel')!
    expect(hotel.reason).toBe(PLANTED.reason)
    expect(hotel.warnings.join('\n')).toContain('MOLT_NAME "<script>window.__pwned')
  })
})

describe('the same shapes as the CLI', () => {
  test.each(Object.keys(FIXTURE))('GET /api/molts/%s/health = `health status --json`', async (name) => {
    const response = await get(`/api/molts/${name}/health`)
    expect(response.status).toBe(200)
    expect(steady(await response.json())).toEqual(steady(await cli('molt', 'health', 'status', name, '--json')))
  })

  test.each([
    ['alpha', '?since=7d&limit=200', ['--since', '7d', '--limit', '200']],
    ['delta', '?since=24h&limit=5', ['--since', '24h', '--limit', '5']],
    ['golf', '', []],
    ['echo', '?limit=3', ['--limit', '3']],
    ['hotel', '?since=2026-01-01T00:00:00Z', ['--since', '2026-01-01T00:00:00Z']],
  ])('GET /api/molts/%s/history%s = `history --json`', async (name, query, args) => {
    const response = await get(`/api/molts/${name}/history${query}`)
    expect(response.status).toBe(200)
    const api = await response.json()
    const expected = await cli('molt', 'health', 'history', name, '--json', ...args)
    // a relative --since is "now minus 7 d", and an ongoing incident lasts until now, for each of
    // them: a moment apart
    const near = (a: number, b: number) => expect(Math.abs(a - b)).toBeLessThan(10_000)
    if (api.stats.since) near(Date.parse(api.stats.since), Date.parse(expected.stats.since))
    api.stats.incidents.forEach((incident: { ongoing: boolean; duration_ms: number }, i: number) => {
      if (incident.ongoing) near(incident.duration_ms, expected.stats.incidents[i].duration_ms)
    })
    const clockless = (body: typeof api) => ({ ...body, stats: { ...body.stats, since: 'S', incidents: body.stats.incidents.map((i: { ongoing: boolean }) => (i.ongoing ? { ...i, duration_ms: 'D' } : i)) } })
    expect(steady(clockless(api))).toEqual(steady(clockless(expected)))
    expect(api.recent.length).toBe(expected.recent.length)
  })

  test('GET /api/backups = `fleet list-backups --json`', async () => {
    const response = await get('/api/backups')
    expect(response.status).toBe(200)
    const api = await response.json()
    expect(api).toEqual(await cli('fleet', 'list-backups', '--json'))
    expect(api.map((b: { status: string }) => b.status).sort()).toEqual(['corrupt', 'ok'])
  })
})

describe('bad requests', () => {
  test.each([
    ['/api/molts/Alpha/health', 'upper case'],
    ['/api/molts/..%2F..%2Fetc%2Fpasswd/health', 'encoded ../../etc/passwd'],
    ['/api/molts/..%2fhotel/history', 'encoded ../hotel'],
    ['/api/molts/%2e%2e%2f%2e%2e%2fetc/history', 'fully encoded ../../etc'],
    ['/api/molts/alpha%00/health', 'a NUL byte'],
    ['/api/molts/a%20b/health', 'a space'],
    ['/api/molts/-rf/check', 'a leading dash'],
    [`/api/molts/${'a'.repeat(33)}/health`, '33 characters'],
    ['/api/molts/%3Cscript%3E/health', 'markup'],
    ['/api/molts/..%2Fetc', 'no action after it'],
  ])('invalid molt name → 400: %s (%s)', async (path) => {
    await expectJsonError(await get(path), 400, /invalid molt name/)
  })

  test('a path traversal never leaves /api: a bare ".." is resolved before routing, into a 404', async () => {
    // fetch and Bun both resolve dot segments, even encoded ones; whatever is left is not a molt route
    await expectJsonError(await get('/api/molts/%2e%2e/health'), 404)
  })

  test('malformed percent-encoding → 400', async () => {
    await expectJsonError(await get('/api/molts/%E0%A4%A/health'), 400, /malformed URL/)
  })

  test.each(['zulu', 'nobody', '_x'])('unknown molt %s → 404', async (name) => {
    await expectJsonError(await get(`/api/molts/${name}/health`), 404, new RegExp(`unknown molt "${name}"`))
    await expectJsonError(await post(`/api/molts/${name}/check`), 404)
  })

  test.each([
    ['/api/molts/alpha/history?limit=0', /for limit: expected a whole number from 1 to 100000/],
    ['/api/molts/alpha/history?limit=abc', /for limit/],
    ['/api/molts/alpha/history?since=7x', /for since: expected a duration/],
    ['/api/molts/alpha/history?sort=desc', /unknown parameter "sort"/],
    ['/api/molts?all=1', /unknown parameter "all"/],
  ])('%s → 400', async (path, message) => {
    await expectJsonError(await get(path), 400, message)
  })

  test.each(['/api', '/api/nope', '/api/molts/alpha', '/api/molts/alpha/logs', '/nope.js'])('%s → 404', async (path) => {
    await expectJsonError(await get(path), 404)
  })

  test('wrong method → 405 with Allow', async () => {
    const check = await get('/api/molts/alpha/check')
    await expectJsonError(check, 405)
    expect(check.headers.get('allow')).toBe('POST')
    const health = await post('/api/molts/alpha/health')
    await expectJsonError(health, 405)
    expect(health.headers.get('allow')).toBe('GET, HEAD')
  })
})

describe('without a token: loopback only', () => {
  test('a listener on every interface is refused before it starts', async () => {
    for (const host of ['0.0.0.0', '::', '192.168.1.10', 'example.org']) {
      await expect(startDashboard({ baseDir: fleet.baseDir, host, port: 0, token: null })).rejects.toThrow(UsageError)
    }
  })

  test('a request under another host name is refused (DNS rebinding)', async () => {
    await expectJsonError(await get('/api/molts', { headers: { Host: `evil.example:${open.port}` } }), 403, /loopback/)
    expect((await get('/api/molts', { headers: { Host: `localhost:${open.port}` } })).status).toBe(200)
  })

  test('the page and its assets are served with a strict Content-Security-Policy', async () => {
    const page = await get('/')
    expect(page.status).toBe(200)
    expect(page.headers.get('content-type')).toStartWith('text/html')
    const csp = page.headers.get('content-security-policy')!
    expect(csp).toContain("script-src 'self'")
    expect(csp).toContain("frame-ancestors 'none'")
    expect(csp).not.toContain('unsafe-inline')
    expect(page.headers.get('x-frame-options')).toBe('DENY')
    const html = await page.text()
    const assets = [...html.matchAll(/(?:src|href)="(\/[^"]+)"/g)].map((m) => m[1]!)
    expect(assets.some((a) => a.endsWith('.js'))).toBe(true)
    expect(assets.some((a) => a.endsWith('.css'))).toBe(true)
    for (const asset of assets) {
      const response = await get(asset)
      expect(response.status).toBe(200)
      expect((await response.text()).length).toBeGreaterThan(100)
    }
  })
})

describe('with a token', () => {
  const bearer = { Authorization: `Bearer ${TOKEN}` }

  test.each(['/api/molts', '/api/molts/alpha/health', '/api/molts/alpha/history', '/api/backups', '/api/molts/zulu/health', '/api/molts/..%2Fx/health'])('GET %s without the token → 401, before anything is looked up', async (path) => {
    const response = await get(path, {}, locked)
    await expectJsonError(response, 401, /authentication required/)
    expect(response.headers.get('www-authenticate')).toContain('Bearer')
  })

  test('a wrong token → 401; the right one → 200', async () => {
    await expectJsonError(await get('/api/molts', { headers: { Authorization: 'Bearer wrong' } }, locked), 401)
    await expectJsonError(await get('/api/molts', { headers: { Authorization: `Bearer ${TOKEN}x` } }, locked), 401)
    const ok = await get('/api/molts', { headers: bearer }, locked)
    expect(ok.status).toBe(200)
    expect(ok.headers.get('x-clmnt-auth')).toBe('bearer')
  })

  test('the page and its assets need it too: without it, the login form', async () => {
    const page = await get('/', {}, locked)
    expect(page.status).toBe(401)
    const html = await page.text()
    expect(html).toContain('<form method="post" action="/login">')
    expect(html).not.toContain('<script')
    const asset = [...(await (await get('/', { headers: bearer }, locked)).text()).matchAll(/src="(\/[^"]+\.js)"/g)][0]![1]!
    expect((await get(asset, {}, locked)).status).toBe(401)
    expect((await get(asset, { headers: bearer }, locked)).status).toBe(200)
  })

  test('POST check needs the token', async () => {
    const before = historyLines('golf')
    await expectJsonError(await post('/api/molts/golf/check', {}, locked), 401)
    expect(historyLines('golf')).toBe(before)
  })

  test('the login form sets an HttpOnly SameSite=Strict cookie that is not the token', async () => {
    const form = (token: string, headers: Record<string, string> = {}) =>
      get('/login', { method: 'POST', body: new URLSearchParams({ token }), headers: { Origin: new URL(locked.url).origin, ...headers } }, locked)

    const wrong = await form('guess')
    expect(wrong.status).toBe(401)
    expect(wrong.headers.get('set-cookie')).toBeNull()
    expect(await wrong.text()).toContain('That token is not the dashboard token.')

    const right = await form(TOKEN)
    expect(right.status).toBe(303)
    expect(right.headers.get('location')).toBe('/')
    const cookie = right.headers.get('set-cookie')!
    expect(cookie).toContain('HttpOnly')
    expect(cookie).toContain('SameSite=Strict')
    expect(cookie).not.toContain(TOKEN)
    const session = cookie.split(';')[0]!
    expect(session).toStartWith(`${SESSION_COOKIE}=`)

    const withCookie = await get('/api/molts', { headers: { Cookie: session } }, locked)
    expect(withCookie.status).toBe(200)
    expect(withCookie.headers.get('x-clmnt-auth')).toBe('cookie')
    expect((await get('/', { headers: { Cookie: session } }, locked)).status).toBe(200)
    await expectJsonError(await get('/api/molts', { headers: { Cookie: `${SESSION_COOKIE}=forged` } }, locked), 401)

    const logout = await get('/logout', { method: 'POST', headers: { Cookie: session, Origin: new URL(locked.url).origin } }, locked)
    expect(logout.status).toBe(303)
    expect(logout.headers.get('set-cookie')).toContain('Max-Age=0')
  })

  test('a login form posted from another site is refused', async () => {
    const response = await get('/login', { method: 'POST', body: new URLSearchParams({ token: TOKEN }), headers: { Origin: 'http://evil.example' } }, locked)
    expect(response.status).toBe(403)
    expect(response.headers.get('set-cookie')).toBeNull()
  })

  test('another host name is fine with a token (the server may have a name on the network)', async () => {
    expect((await get('/api/molts', { headers: { ...bearer, Host: 'dashboard.example' } }, locked)).status).toBe(200)
  })
})

describe('POST /api/molts/:name/check', () => {
  test('runs a check now, records it, and answers `health check --json`', async () => {
    const before = historyLines('alpha')
    const response = await post('/api/molts/alpha/check')
    expect(response.status).toBe(200)
    const record = await response.json()
    expect(historyLines('alpha')).toBe(before + 1)
    const cliRecord = await cli('molt', 'health', 'check', 'alpha', '--json')
    expect(Object.keys(record)).toEqual(Object.keys(cliRecord))
    expect(record).toMatchObject({ molt: 'alpha', status: 'healthy', http_status: 200, pid: cliRecord.pid, port: cliRecord.port })
    const status = await (await get('/api/molts/alpha/health')).json()
    expect(status.checked_at).toBe(cliRecord.timestamp)
  })

  test.each([
    ['Origin of another site', { Origin: 'http://evil.example' }],
    ['Origin null', { Origin: 'null' }],
    ['Sec-Fetch-Site cross-site', { 'Sec-Fetch-Site': 'cross-site' }],
    ['Sec-Fetch-Site same-site', { 'Sec-Fetch-Site': 'same-site' }],
  ])('a cross-site request is refused and checks nothing: %s', async (_, headers) => {
    const before = historyLines('bravo')
    await expectJsonError(await post('/api/molts/bravo/check', headers), 403, /cross-site request refused/)
    expect(historyLines('bravo')).toBe(before)
  })

  test('cross-site is refused even with the right token', async () => {
    await expectJsonError(await post('/api/molts/bravo/check', { Authorization: `Bearer ${TOKEN}`, Origin: 'http://evil.example' }, locked), 403)
  })

  test('a same-origin request from the page passes', async () => {
    const origin = new URL(open.url).origin
    const response = await post('/api/molts/bravo/check', { Origin: origin, 'Sec-Fetch-Site': 'same-origin' })
    expect(response.status).toBe(200)
    expect(await response.json()).toMatchObject({ molt: 'bravo', status: 'unhealthy', http_status: 500 })
    const withToken = await post('/api/molts/bravo/check', { Origin: new URL(locked.url).origin, Authorization: `Bearer ${TOKEN}` }, locked)
    expect(withToken.status).toBe(200)
  })

  test('clicks on a hung gateway share one check: it times out once', async () => {
    const before = historyLines('charlie')
    const [a, b] = await Promise.all([post('/api/molts/charlie/check'), post('/api/molts/charlie/check')])
    const [ra, rb] = [await a.json(), await b.json()]
    expect(ra).toEqual(rb)
    expect(ra).toMatchObject({ status: 'unhealthy', reason: 'no answer within 500 ms' })
    // one check, not two: the history has one line more
    expect(historyLines('charlie')).toBe(before + 1)
  })
})

describe('/metrics: the same series as the textfile collector, under the same token rules', () => {
  test('with the bearer token: Prometheus text that parses, one up series per molt', async () => {
    const response = await get('/metrics', { headers: { Authorization: `Bearer ${TOKEN}` } }, locked)
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toStartWith('text/plain; version=0.0.4')
    const text = await response.text()
    const families = parseExposition(text)
    const up = families.find((f) => f.name === 'clmnt_molt_up')
    expect(up?.type).toBe('gauge')
    // a molt is a series once it has a recorded check; echo has none
    const checked = Object.entries(FIXTURE).filter(([, f]) => f.status !== null).map(([name]) => name)
    expect(up?.samples.map((s) => s.labels.molt).sort()).toEqual(checked.sort())
  })

  test('without a token: a plain 401 for the scraper, not the login page', async () => {
    const response = await get('/metrics', {}, locked)
    expect(response.status).toBe(401)
    expect(response.headers.get('www-authenticate')).toContain('Bearer')
  })
})
