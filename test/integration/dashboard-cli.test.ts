import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { spawnSync } from 'node:child_process'
import { chmodSync, writeFileSync } from 'node:fs'
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

describe('clmnt dashboard', () => {
  test('prints its URL, serves the fleet, and stops cleanly on SIGINT (exit 0)', async () => {
    const run = await startCli([])
    try {
      expect(run.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/)
      const molts = await (await fetch(new URL('/api/molts', run.url))).json()
      expect(molts.molts.map((m: { name: string }) => m.name)).toEqual(['alpha', 'delta'])
      expect((await fetch(run.url)).status).toBe(200)
    } finally {
      run.proc.kill('SIGINT')
    }
    expect(await run.proc.exited).toBe(0)
    const stderr = await run.stderr()
    expect(stderr).toContain('no token: loopback only')
    expect(stderr).toContain('SIGINT: stopping the dashboard')
    expect(stderr).not.toContain('error')
    await expect(fetch(run.url)).rejects.toThrow()
  })

  test('SIGTERM stops it too (exit 0)', async () => {
    const run = await startCli(['--host', 'localhost'])
    expect(run.url).toMatch(/^http:\/\/localhost:\d+\/$/)
    run.proc.kill('SIGTERM')
    expect(await run.proc.exited).toBe(0)
  })

  test.each([['0.0.0.0'], ['::'], ['192.0.2.1']])('--host %s without a token: refuses to start (exit 2), says why and what to do', async (host) => {
    const r = await runCli(['dashboard', '--host', host, '--port', '0', '-d', fleet.baseDir], { env: { CLMNT_DASHBOARD_TOKEN: undefined } })
    expect(r.code).toBe(2)
    expect(r.stdout).toBe('')
    expect(r.stderr).toContain(`refusing to listen on ${host} without a token`)
    expect(r.stderr).toContain('--token')
    expect(r.stderr).toContain('CLMNT_DASHBOARD_TOKEN')
  })

  test('a token from CLMNT_DASHBOARD_TOKEN: every request needs it', async () => {
    const token = 'env-token-0123456789abcdef'
    const run = await startCli([], { env: { CLMNT_DASHBOARD_TOKEN: token } })
    try {
      expect((await fetch(new URL('/api/molts', run.url))).status).toBe(401)
      expect((await fetch(new URL('/api/molts', run.url), { headers: { Authorization: `Bearer ${token}` } })).status).toBe(200)
    } finally {
      run.proc.kill('SIGTERM')
    }
    expect(await run.proc.exited).toBe(0)
    expect(await run.stderr()).toContain('token required (from CLMNT_DASHBOARD_TOKEN)')
  })

  test('a token from clmnt.json; --token overrides it; a short one is warned about', async () => {
    const config = join(fleet.baseDir, 'clmnt.json')
    writeFileSync(config, JSON.stringify({ dashboard: { token: 'config-token-0123456789' } }))
    chmodSync(config, 0o600)
    try {
      const fromConfig = await startCli([])
      try {
        expect((await fetch(new URL('/api/molts', fromConfig.url), { headers: { Authorization: 'Bearer config-token-0123456789' } })).status).toBe(200)
        expect((await fetch(new URL('/api/molts', fromConfig.url))).status).toBe(401)
      } finally {
        fromConfig.proc.kill('SIGTERM')
      }
      expect(await fromConfig.proc.exited).toBe(0)

      const fromFlag = await startCli(['--token', 'short'])
      try {
        expect((await fetch(new URL('/api/molts', fromFlag.url), { headers: { Authorization: 'Bearer config-token-0123456789' } })).status).toBe(401)
        expect((await fetch(new URL('/api/molts', fromFlag.url), { headers: { Authorization: 'Bearer short' } })).status).toBe(200)
      } finally {
        fromFlag.proc.kill('SIGTERM')
      }
      expect(await fromFlag.proc.exited).toBe(0)
      expect(await fromFlag.stderr()).toContain('shorter than 16 characters')
    } finally {
      removeDir(config)
    }
  })

  test('with a token, any host is allowed', async () => {
    const run = await startCli(['--host', '0.0.0.0', '--token', 'any-host-token-0123456789'])
    try {
      expect(run.url).toMatch(/^http:\/\/0\.0\.0\.0:\d+\/$/)
      const port = new URL(run.url).port
      expect((await fetch(`http://127.0.0.1:${port}/api/molts`)).status).toBe(401)
    } finally {
      run.proc.kill('SIGTERM')
    }
    expect(await run.proc.exited).toBe(0)
  })

  test.each([
    [['--port', '70000'], /invalid value "70000" for --port/],
    [['--port', 'http'], /invalid value "http" for --port/],
    [['--token', ''], /the dashboard token is empty/],
    [['--token', 'has space'], /printable ASCII/],
    [['--host', ''], /--host is empty/],
  ])('%p: a usage error (exit 2)', async (args, message) => {
    const r = await runCli(['dashboard', '-d', fleet.baseDir, ...args])
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
    for (const option of ['--host <addr>', '--port <n>', '--token <T>']) expect(r.stdout).toContain(option)
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
    const run = await startCli([], { command: [join(out, 'clmnt')] })
    try {
      const page = await fetch(run.url)
      expect(page.status).toBe(200)
      const html = await page.text()
      expect(html).toContain('<div id="cards"')
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
