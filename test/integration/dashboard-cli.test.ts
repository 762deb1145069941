import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { spawnSync } from 'node:child_process'
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { join } from 'node:path'
import { CLI, runCli } from '../helpers/cli.ts'
import { buildFleet, removeDir, tempDir } from '../helpers/fleet.ts'

// `clmnt dashboard` as an operator runs it: a real process, its URL on stdout, signals to stop it,
// and the compiled binary (`bun run build`) serving the same page.

let fleet: Awaited<ReturnType<typeof buildFleet>>
beforeAll(async () => {
  fleet = await buildFleet([
    { name: 'alpha', mode: 'healthy' },
    { name: 'delta', mode: 'dead' },
  ])
})
afterAll(() => fleet.cleanup())

interface Running {
  proc: ReturnType<typeof Bun.spawn>
  url: string
  stderr(): Promise<string>
}

/** Start the dashboard and wait for the URL line; `command` is the CLI (default) or a binary. */
async function startCli(args: string[], options: { env?: Record<string, string | undefined>; command?: string[] } = {}): Promise<Running> {
  const env: Record<string, string | undefined> = { ...process.env, NO_COLOR: '1', CLMNT_BASE_DIR: undefined, CLMNT_DASHBOARD_TOKEN: undefined, ...options.env }
  const proc = Bun.spawn([...(options.command ?? [process.execPath, CLI]), 'dashboard', '--port', '0', '-d', fleet.baseDir, ...args], { env: env as Record<string, string>, stdout: 'pipe', stderr: 'pipe', stdin: 'ignore' })
  const stderr = new Response(proc.stderr).text()
  const reader = proc.stdout.getReader()
  let out = ''
  const deadline = Date.now() + 20_000
  while (!out.includes('\n') && Date.now() < deadline) {
    const { value, done } = await reader.read()
    if (done) break
    out += new TextDecoder().decode(value)
  }
  reader.releaseLock()
  if (!out.includes('\n')) {
    proc.kill('SIGKILL')
    throw new Error(`the dashboard printed no URL; stderr: ${await stderr}`)
  }
  return { proc, url: out.trim(), stderr: () => stderr }
}

const ENV_TOKEN = 'env-token-0123456789abcdefghijklmnopqrstuv'
const CONFIG_TOKEN = 'config-token-0123456789abcdefghijklmnopq'

describe('clmnt dashboard', () => {
  test('first start: makes a token (0600), prints the login URL once, and every request needs it; SIGINT stops it (exit 0)', async () => {
    const file = join(fleet.baseDir, '.clmnt-dashboard-token')
    try {
      const run = await startCli([])
      let token: string
      try {
        expect(run.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/)
        token = readFileSync(file, 'utf8').trim()
        expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/)
        expect(statSync(file).mode & 0o777).toBe(0o600)
        expect((await fetch(new URL('/api/molts', run.url))).status).toBe(401)
        const molts = await (await fetch(new URL('/api/molts', run.url), { headers: { Authorization: `Bearer ${token}` } })).json()
        expect(molts.molts.map((m: { name: string }) => m.name)).toEqual(['alpha', 'delta'])
        // the printed link logs a browser in and takes the token out of the address bar
        const login = await fetch(new URL(`/login?token=${token}`, run.url), { redirect: 'manual' })
        expect(login.status).toBe(303)
        expect(login.headers.get('location')).toBe('/')
        const cookie = login.headers.get('set-cookie')!.split(';')[0]!
        expect(cookie).not.toContain(token)
        expect((await fetch(new URL('/api/molts', run.url), { headers: { Cookie: cookie } })).status).toBe(200)
      } finally {
        run.proc.kill('SIGINT')
      }
      expect(await run.proc.exited).toBe(0)
      const stderr = await run.stderr()
      expect(stderr).toContain(`log in once with: ${run.url}login?token=${token}`)
      expect(stderr).toContain('SIGINT: stopping the dashboard')
      expect(stderr).not.toContain('error')
      await expect(fetch(run.url)).rejects.toThrow()

      // the next start uses the stored token and never shows it again
      const again = await startCli(['--host', 'localhost'])
      try {
        expect((await fetch(new URL('/api/molts', again.url), { headers: { Authorization: `Bearer ${token}` } })).status).toBe(200)
      } finally {
        again.proc.kill('SIGTERM')
      }
      expect(await again.proc.exited).toBe(0)
      const second = await again.stderr()
      expect(second).not.toContain(token)
      expect(second).toContain(`token required (from ${file})`)
    } finally {
      removeDir(file)
    }
  })

  test('--insecure-no-auth: open on loopback, with a loud warning; refused anywhere else', async () => {
    const run = await startCli(['--insecure-no-auth'])
    try {
      expect((await fetch(new URL('/api/molts', run.url))).status).toBe(200)
    } finally {
      run.proc.kill('SIGTERM')
    }
    expect(await run.proc.exited).toBe(0)
    expect(await run.stderr()).toContain('NO AUTHENTICATION')
    for (const host of ['0.0.0.0', '::', '192.0.2.1']) {
      const r = await runCli(['dashboard', '--insecure-no-auth', '--host', host, '--port', '0', '-d', fleet.baseDir])
      expect(r.code).toBe(2)
      expect(r.stdout).toBe('')
      expect(r.stderr).toContain(`--insecure-no-auth is for loopback only, not ${host}`)
    }
  })

  test('--token is refused, whatever its value, saying why and where a token goes', async () => {
    for (const value of [ENV_TOKEN, 'short', '']) {
      const r = await runCli(['dashboard', '--port', '0', '-d', fleet.baseDir, '--token', value])
      expect(r.code).toBe(2)
      expect(r.stdout).toBe('')
      expect(r.stderr).toContain('--token is not accepted: a token on the command line is visible to every user in ps')
      expect(r.stderr).toContain('CLMNT_DASHBOARD_TOKEN')
    }
  })

  test('a token from CLMNT_DASHBOARD_TOKEN: every request needs it', async () => {
    const run = await startCli([], { env: { CLMNT_DASHBOARD_TOKEN: ENV_TOKEN } })
    try {
      expect((await fetch(new URL('/api/molts', run.url))).status).toBe(401)
      expect((await fetch(new URL('/api/molts', run.url), { headers: { Authorization: `Bearer ${ENV_TOKEN}` } })).status).toBe(200)
    } finally {
      run.proc.kill('SIGTERM')
    }
    expect(await run.proc.exited).toBe(0)
    expect(await run.stderr()).toContain('token required (from CLMNT_DASHBOARD_TOKEN)')
  })

  test('a token from clmnt.json; the environment overrides it; a short or patterned one is refused', async () => {
    const config = join(fleet.baseDir, 'clmnt.json')
    writeFileSync(config, JSON.stringify({ dashboard: { token: CONFIG_TOKEN } }))
    chmodSync(config, 0o600)
    try {
      const fromConfig = await startCli([])
      try {
        expect((await fetch(new URL('/api/molts', fromConfig.url), { headers: { Authorization: `Bearer ${CONFIG_TOKEN}` } })).status).toBe(200)
        expect((await fetch(new URL('/api/molts', fromConfig.url))).status).toBe(401)
      } finally {
        fromConfig.proc.kill('SIGTERM')
      }
      expect(await fromConfig.proc.exited).toBe(0)

      const fromEnv = await startCli([], { env: { CLMNT_DASHBOARD_TOKEN: ENV_TOKEN } })
      try {
        expect((await fetch(new URL('/api/molts', fromEnv.url), { headers: { Authorization: `Bearer ${CONFIG_TOKEN}` } })).status).toBe(401)
        expect((await fetch(new URL('/api/molts', fromEnv.url), { headers: { Authorization: `Bearer ${ENV_TOKEN}` } })).status).toBe(200)
      } finally {
        fromEnv.proc.kill('SIGTERM')
      }
      expect(await fromEnv.proc.exited).toBe(0)

      for (const [token, message] of [['short-token-0123456789', 'at least 32'], ['ab'.repeat(20), 'not random'], ['has space 0123456789abcdefghijklmnopq', 'printable ASCII']] as const) {
        const r = await runCli(['dashboard', '--port', '0', '-d', fleet.baseDir], { env: { CLMNT_DASHBOARD_TOKEN: token } })
        expect(r.code).toBe(2)
        expect(r.stderr).toContain(message)
      }
    } finally {
      removeDir(config)
    }
  })

  test('with a token, any host is allowed', async () => {
    const run = await startCli(['--host', '0.0.0.0'], { env: { CLMNT_DASHBOARD_TOKEN: ENV_TOKEN } })
    try {
      expect(run.url).toMatch(/^http:\/\/0\.0\.0\.0:\d+\/$/)
      const port = new URL(run.url).port
      expect((await fetch(`http://127.0.0.1:${port}/api/molts`)).status).toBe(401)
    } finally {
      run.proc.kill('SIGTERM')
    }
    expect(await run.proc.exited).toBe(0)
  })

  test('TLS with --tls-cert/--tls-key (a self-signed certificate made by openssl): https, Secure cookie', async () => {
    const dir = tempDir()
    try {
      const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { encoding: 'utf8' })
      expect(made.status).toBe(0)
      const run = await startCli(['--tls-cert', join(dir, 'cert.pem'), '--tls-key', join(dir, 'key.pem')], { env: { CLMNT_DASHBOARD_TOKEN: ENV_TOKEN } })
      try {
        expect(run.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/$/)
        const tls = { rejectUnauthorized: false }
        expect((await fetch(new URL('/api/molts', run.url), { tls } as RequestInit)).status).toBe(401)
        expect((await fetch(new URL('/api/molts', run.url), { tls, headers: { Authorization: `Bearer ${ENV_TOKEN}` } } as RequestInit)).status).toBe(200)
        const login = await fetch(new URL('/login', run.url), { tls, method: 'POST', body: new URLSearchParams({ token: ENV_TOKEN }), headers: { Origin: new URL(run.url).origin }, redirect: 'manual' } as RequestInit)
        expect(login.status).toBe(303)
        expect(login.headers.get('set-cookie')).toContain('Secure')
        // plain http on the TLS port gets nothing
        await expect(fetch(run.url.replace('https:', 'http:'))).rejects.toThrow()
      } finally {
        run.proc.kill('SIGTERM')
      }
      expect(await run.proc.exited).toBe(0)
    } finally {
      removeDir(dir)
    }
  })

  test.each([
    [['--port', '70000'], /invalid value "70000" for --port/],
    [['--port', 'http'], /invalid value "http" for --port/],
    [['--host', ''], /--host is empty/],
    [['--tls-cert', '/nonexistent.pem'], /--tls-cert and --tls-key go together/],
    [['--tls-cert', '/nonexistent.pem', '--tls-key', '/nonexistent.key'], /--tls-cert "\/nonexistent.pem": ENOENT/],
  ])('%p: a usage error (exit 2)', async (args, message) => {
    const r = await runCli(['dashboard', '-d', fleet.baseDir, ...args], { env: { CLMNT_DASHBOARD_TOKEN: ENV_TOKEN } })
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(message)
  })

  test('a port in use: exit 1 and a message, no stack', async () => {
    const busy: Server = createServer()
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve))
    const port = (busy.address() as { port: number }).port
    try {
      const r = await runCli(['dashboard', '--port', String(port), '-d', fleet.baseDir])
      expect(r.code).toBe(1)
      expect(r.stderr).toContain(`cannot listen on 127.0.0.1:${port}: the port is in use`)
      expect(r.stderr).not.toContain('    at ')
    } finally {
      busy.close()
    }
  })

  test('an unreadable base dir is an error at start, not on the first page load', async () => {
    const r = await runCli(['dashboard', '--port', '0', '-d', join(fleet.baseDir, 'missing')])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/base dir .* is not a directory/)
  })

  test('--help names the options', async () => {
    const r = await runCli(['dashboard', '--help'])
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('Usage: clmnt dashboard [options]')
    for (const option of ['--host <addr>', '--port <n>', '--tls-cert <file>', '--tls-key <file>', '--insecure-no-auth']) expect(r.stdout).toContain(option)
  })
})

describe('the compiled binary (bun run build)', () => {
  let out: string
  beforeAll(() => {
    out = tempDir()
    const build = spawnSync(process.execPath, [join(import.meta.dir, '..', '..', 'scripts', 'build.ts'), join(out, 'clmnt')], { encoding: 'utf8' })
    if (build.status !== 0) throw new Error(`build failed: ${build.stderr}`)
  }, 60_000)
  afterAll(() => removeDir(out))

  test('serves the bundled page, its script and style, and the API', async () => {
    const run = await startCli(['--insecure-no-auth'], { command: [join(out, 'clmnt')] })
    try {
      const page = await fetch(run.url)
      expect(page.status).toBe(200)
      const html = await page.text()
      expect(html).toContain('<div id="molts"')
      const assets = [...html.matchAll(/(?:src|href)="(\/[^"]+\.(?:js|css))"/g)].map((m) => m[1]!)
      expect(assets).toHaveLength(2)
      for (const asset of assets) {
        const response = await fetch(new URL(asset, run.url))
        expect(response.status).toBe(200)
        const text = await response.text()
        expect(text).toContain(asset.endsWith('.js') ? '/api/molts' : 'prefers-color-scheme')
      }
      expect((await (await fetch(new URL('/api/molts', run.url))).json()).molts).toHaveLength(2)
    } finally {
      run.proc.kill('SIGTERM')
    }
    expect(await run.proc.exited).toBe(0)
  })
})
