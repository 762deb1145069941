import { afterEach, beforeEach, describe, expect, spyOn, test } from 'bun:test'
import { chmodSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  authenticate,
  cookieValue,
  crossSiteReason,
  hostOfHeader,
  isLoopbackHost,
  resolveToken,
  safeEqual,
  SESSION_COOKIE,
  sessionCookie,
  tokenProblem,
} from '../../src/dashboard/auth.ts'
import { LoginLimiter, MAX_LOCK_MS, SESSION_IDLE_MS, SESSION_MAX_AGE_MS, SessionStore } from '../../src/dashboard/sessions.ts'
import { readFleetConfig } from '../../src/fleet/config.ts'
import { InputError } from '../../src/lib/errors.ts'
import { removeDir, tempDir } from '../helpers/fleet.ts'

const TOKEN = 'correct-horse-battery-staple-9Xq2LmZ7vR4'

describe('safeEqual', () => {
  test.each([
    ['same', TOKEN, TOKEN, true],
    ['one character off', TOKEN.slice(0, -1) + 'f', TOKEN, false],
    ['a prefix', TOKEN.slice(0, 5), TOKEN, false],
    ['much longer', TOKEN.repeat(100), TOKEN, false],
    ['empty', '', TOKEN, false],
    ['unicode', 'tökén', 'tökén', true],
  ])('%s', (_, given, expected, equal) => {
    expect(safeEqual(given, expected)).toBe(equal)
  })

  test('compares equal-length digests with crypto.timingSafeEqual, whatever the lengths given', () => {
    const crypto = require('node:crypto') as typeof import('node:crypto')
    const spy = spyOn(crypto, 'timingSafeEqual')
    try {
      safeEqual('x', TOKEN.repeat(10))
      expect(spy).toHaveBeenCalledTimes(1)
      const [a, b] = spy.mock.calls[0]! as [Uint8Array, Uint8Array]
      expect(a.length).toBe(32)
      expect(b.length).toBe(32)
    } finally {
      spy.mockRestore()
    }
  })
})

describe('sessions: random, revocable, expiring', () => {
  test('ids are 256 random bits, never the token, never twice the same', () => {
    const store = new SessionStore()
    const ids = Array.from({ length: 100 }, () => store.create())
    expect(new Set(ids).size).toBe(100)
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_-]{43}$/)
  })
  test('a revoked session is dead', () => {
    const store = new SessionStore()
    const id = store.create()
    expect(store.check(id)).toBe(true)
    store.revoke(id)
    expect(store.check(id)).toBe(false)
  })
  test('unused for a day, or a week old in all: expired', () => {
    let now = 0
    const store = new SessionStore(() => now)
    const idle = store.create()
    now = SESSION_IDLE_MS + 1
    expect(store.check(idle)).toBe(false)
    const used = store.create()
    for (now += 1; now < SESSION_IDLE_MS * 6; now += SESSION_IDLE_MS / 2) expect(store.check(used)).toBe(true)
    now = SESSION_IDLE_MS + 1 + SESSION_MAX_AGE_MS + 1
    expect(store.check(used)).toBe(false)
  })
})

describe('LoginLimiter: per client, with a growing wait', () => {
  test('five free mistakes, then 1 s, 2 s, 4 s … capped; another client is not affected; success clears', () => {
    let now = 0
    const limiter = new LoginLimiter(() => now)
    for (let i = 0; i < 5; i++) limiter.failed('a')
    expect(limiter.wait('a')).toBe(0)
    const waits: number[] = []
    for (let i = 0; i < 14; i++) {
      limiter.failed('a')
      waits.push(limiter.wait('a'))
    }
    expect(waits.slice(0, 4)).toEqual([1000, 2000, 4000, 8000])
    expect(waits.at(-1)).toBe(MAX_LOCK_MS)
    expect(limiter.wait('b')).toBe(0)
    limiter.succeeded('a')
    expect(limiter.wait('a')).toBe(0)
  })
})

test('Set-Cookie: HttpOnly, SameSite=Strict, whole site; logout expires it', () => {
  const login = sessionCookie('v')
  expect(login).toStartWith(`${SESSION_COOKIE}=v;`)
  expect(login).toContain('HttpOnly')
  expect(login).toContain('SameSite=Strict')
  expect(login).toContain('Path=/')
  expect(login).toMatch(/Max-Age=\d+/)
  expect(sessionCookie(null)).toContain('Max-Age=0')
})

describe('authenticate', () => {
  const headers = (h: Record<string, string>) => new Headers(h)
  const sessions = new SessionStore()
  const live = sessions.create()
  test.each([
    ['no token configured: open', {}, null, 'open'],
    ['nothing sent', {}, TOKEN, null],
    ['Bearer, right', { authorization: `Bearer ${TOKEN}` }, TOKEN, 'bearer'],
    ['bearer in lower case', { authorization: `bearer ${TOKEN}` }, TOKEN, 'bearer'],
    ['Bearer, wrong', { authorization: 'Bearer nope' }, TOKEN, null],
    ['Basic is not Bearer', { authorization: `Basic ${btoa(`x:${TOKEN}`)}` }, TOKEN, null],
    ['cookie, a live session', { cookie: `a=b; ${SESSION_COOKIE}=${live}` }, TOKEN, 'cookie'],
    ['cookie holding the token itself', { cookie: `${SESSION_COOKIE}=${TOKEN}` }, TOKEN, null],
    ['cookie of a made-up session', { cookie: `${SESSION_COOKIE}=${'x'.repeat(43)}` }, TOKEN, null],
    ['a wrong Bearer is not rescued by a right cookie', { authorization: 'Bearer nope', cookie: `${SESSION_COOKIE}=${live}` }, TOKEN, null],
  ] as const)('%s', (_, sent, token, result) => {
    expect(authenticate(headers(sent), token, sessions)).toBe(result)
  })
})

test.each([
  ['127.0.0.1', true],
  ['127.1.2.3', true],
  ['localhost', true],
  ['LOCALHOST', true],
  ['::1', true],
  ['[::1]', true],
  ['::ffff:127.0.0.1', true],
  ['0.0.0.0', false],
  ['::', false],
  ['192.168.1.10', false],
  ['128.0.0.1', false],
  ['127.0.0.1.evil.com', false],
  ['localhost.evil.com', false],
  ['evil.localhost', false],
  ['example.org', false],
])('isLoopbackHost(%p) = %p', (host, loopback) => {
  expect(isLoopbackHost(host)).toBe(loopback)
})

test.each([
  ['127.0.0.1:3000', '127.0.0.1'],
  ['[::1]:3000', '[::1]'],
  ['localhost', 'localhost'],
  ['evil.com:80', 'evil.com'],
  [null, null],
  ['', null],
  ['a b', null],
])('hostOfHeader(%p) = %p', (header, host) => {
  expect(hostOfHeader(header)).toBe(host)
})

test('cookieValue picks the named cookie', () => {
  expect(cookieValue('a=1; clmnt_dashboard=xyz; b=2', 'clmnt_dashboard')).toBe('xyz')
  expect(cookieValue('xclmnt_dashboard=1', 'clmnt_dashboard')).toBeNull()
  expect(cookieValue(null, 'clmnt_dashboard')).toBeNull()
})

describe('crossSiteReason', () => {
  const check = (h: Record<string, string>) => crossSiteReason(new Headers({ host: '127.0.0.1:3000', ...h }))
  test.each([
    ['no browser headers (curl)', {}, false],
    ['Sec-Fetch-Site same-origin', { 'sec-fetch-site': 'same-origin' }, false],
    ['same Origin', { origin: 'http://127.0.0.1:3000' }, false],
    ['same Origin and same-origin', { origin: 'http://127.0.0.1:3000', 'sec-fetch-site': 'same-origin' }, false],
    ['Sec-Fetch-Site cross-site', { 'sec-fetch-site': 'cross-site' }, true],
    ['Sec-Fetch-Site same-site (another port)', { 'sec-fetch-site': 'same-site' }, true],
    ['Sec-Fetch-Site none (typed in the address bar)', { 'sec-fetch-site': 'none' }, true],
    ['another Origin', { origin: 'http://evil.example' }, true],
    ['another port', { origin: 'http://127.0.0.1:3001' }, true],
    ['https Origin for an http server', { origin: 'https://127.0.0.1:3000' }, true],
    ['Origin null (sandboxed frame, file:)', { origin: 'null' }, true],
    ['same Origin but cross-site fetch metadata', { origin: 'http://127.0.0.1:3000', 'sec-fetch-site': 'cross-site' }, true],
    ['fetch metadata wins over Origin null (a page whose referrer policy hides its origin)', { origin: 'null', 'sec-fetch-site': 'same-origin' }, false],
  ])('%s', (_, headers, refused) => {
    expect(check(headers) !== null).toBe(refused)
  })
})

test('tokenProblem: printable ASCII without spaces, 32-512 characters, not a repeated pattern', () => {
  expect(tokenProblem(TOKEN)).toBeNull()
  expect(tokenProblem('short-token-0123456789')).toContain('at least 32')
  expect(tokenProblem('x'.repeat(31))).toContain('at least 32')
  expect(tokenProblem('ab'.repeat(32))).toContain('not random')
  expect(tokenProblem('0123456789'.repeat(4))).toContain('not random')
  expect(tokenProblem('')).toContain('empty')
  expect(tokenProblem('with space')).toContain('printable')
  expect(tokenProblem('line\nbreak')).toContain('printable')
  expect(tokenProblem('x'.repeat(513))).toContain('512')
})

describe('resolveToken: CLMNT_DASHBOARD_TOKEN, then clmnt.json, then the token file', () => {
  const never = () => {
    throw new Error('must not be read')
  }
  test('the environment wins and no file is read', () => {
    expect(resolveToken({ env: 'e', config: never, file: never })).toEqual({ token: 'e', source: 'CLMNT_DASHBOARD_TOKEN' })
  })
  test('an empty environment variable counts as unset; clmnt.json before the token file', () => {
    expect(resolveToken({ env: '', config: () => 'c', file: never })).toEqual({ token: 'c', source: 'clmnt.json' })
  })
  test('then the token file', () => {
    expect(resolveToken({ config: () => undefined, file: () => 'f' })).toEqual({ token: 'f', source: 'token file' })
  })
  test('none anywhere', () => {
    expect(resolveToken({ config: () => undefined, file: () => undefined })).toBeNull()
  })
})

describe('clmnt.json dashboard section', () => {
  let dir: string
  beforeEach(() => {
    dir = tempDir()
  })
  afterEach(() => removeDir(dir))
  const write = (value: unknown, mode = 0o600) => {
    const path = join(dir, 'clmnt.json')
    writeFileSync(path, JSON.stringify(value))
    chmodSync(path, mode)
  }

  test('a token is read; other keys of the section pass through', () => {
    write({ dashboard: { token: TOKEN, theme: 'dark' } })
    const read = readFleetConfig(dir)
    expect(read.config.dashboard).toEqual({ token: TOKEN, theme: 'dark' })
    expect(read.warnings).toEqual([])
  })

  test.each([
    [{ dashboard: 'secret' }],
    [{ dashboard: { token: 42 } }],
    [{ dashboard: { token: '' } }],
    [{ dashboard: { token: 'has space' } }],
    [{ dashboard: [] }],
  ])('%p is refused, naming the key', (config) => {
    write(config)
    expect(() => readFleetConfig(dir)).toThrow(InputError)
    expect(() => readFleetConfig(dir)).toThrow(/dashboard: expected an object like/)
  })

  test('a token in a file others can read is warned about', () => {
    write({ dashboard: { token: TOKEN } }, 0o644)
    expect(readFleetConfig(dir).warnings.join('\n')).toContain('holds the dashboard token and is readable by other users')
  })
})
