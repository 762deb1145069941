import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { writeRegistry } from '../fleet/registry.ts'

/** How a demo molt behaves: a gateway mode, or no gateway at all. */
export type DemoMode = 'healthy' | 'starting' | 'not-ready' | 'error' | 'hang' | 'refuse' | 'dead' | 'stopped'
export type GatewayMode = Exclude<DemoMode, 'dead' | 'stopped'>

export interface DemoMoltSpec {
  name: string
  mode: DemoMode
  /**
   * A bash-toolkit host: the gateway's PID in `.openclaw/gateway.pid` and no lock file. Otherwise
   * as the real OpenClaw: the gateway's own lock under `.openclaw/tmp/openclaw-<uid>/` (a dead
   * molt's lock names an exited PID) and no gateway.pid.
   */
  pidFile?: boolean
}

export interface DemoMolt {
  name: string
  mode: DemoMode
  home: string
  port: number
  /** the gateway's PID (running modes) or the PID of an exited process (dead) */
  pid: number | null
  /** a bash-toolkit host: gateway.pid, no lock file */
  pidFile: boolean
}

export interface DemoFleet {
  baseDir: string
  molts: DemoMolt[]
  /** kill every gateway this fleet started (also those restarted with `restart`) and wait until they are gone */
  stop(): Promise<void>
  /** kill a molt's gateway (SIGKILL): its lock (or gateway.pid) goes stale, the molt is dead */
  crash(name: string): Promise<void>
  /** start a molt's gateway again on its port; it writes its lock (a bash-toolkit molt gets its gateway.pid) */
  restart(name: string): Promise<void>
}

const GATEWAY = join(import.meta.dir, 'openclaw-fake-gateway.ts')

/**
 * Start a fake gateway as a child process in a molt home (its HOME, so its lock lands in
 * `<home>/.openclaw/tmp/`); resolves once it listens. Its process title is the real one's.
 */
export function startGateway(mode: GatewayMode, home: string, options: { lock?: boolean; port?: number } = {}): Promise<{ child: ChildProcess; port: number }> {
  const args = [GATEWAY, '--mode', mode, '--port', String(options.port ?? 0), ...(options.lock === false ? ['--no-lock'] : [])]
  const { OPENCLAW_STATE_DIR: _ignored, ...env } = process.env
  const child = spawn(process.execPath, args, { cwd: home, env: { ...env, HOME: home }, argv0: 'openclaw-gateway', stdio: ['ignore', 'pipe', 'inherit'] })
  return new Promise((resolve, reject) => {
    let out = ''
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      const match = /ready (\d+)/.exec(out)
      if (match) {
        child.stdout!.removeAllListeners('data')
        child.stdout!.resume()
        resolve({ child, port: Number(match[1]) })
      }
    })
    child.once('exit', (code) => reject(new Error(`fake gateway exited early (code ${code})`)))
    child.once('error', reject)
  })
}

/** ports freePort gave out in this process: never twice (a dead molt's port is not bound until it is restarted) */
const givenOut = new Set<number>()
const LOWEST_PORT = 10_000

/**
 * A port nobody listens on right now, below the kernel's ephemeral range: a client socket opened
 * later never takes it. A port the kernel picked (listen on 0) went back to that range, and a
 * keep-alive connection of the same test got it as its local port and held it: the molt's gateway,
 * restarted on its port, never got it back (20 tries in 5 s, a CI run failed on it).
 */
export async function freePort(): Promise<number> {
  const ephemeral = ephemeralStart()
  for (let attempt = 0; ephemeral - LOWEST_PORT > 1000 && attempt < 200; attempt++) {
    const port = LOWEST_PORT + Math.floor(Math.random() * (ephemeral - LOWEST_PORT))
    if (givenOut.has(port) || !(await listensOn(port))) continue
    givenOut.add(port)
    return port
  }
  // a system whose ephemeral range leaves no room below it: any free port
  return await new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number }
      server.close(() => resolve(port))
    })
  })
}

/** Can a server listen on this loopback port now? (It is closed again at once.) */
function listensOn(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer()
    server.once('error', () => resolve(false))
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
  })
}

/** Where the kernel's range of local ports for client sockets starts (Linux: 32768-60999 by default). */
function ephemeralStart(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0])
    if (Number.isInteger(low)) return low
  } catch {}
  return 32768
}

/** The PID of a process that has already exited: what a crashed gateway leaves in gateway.pid. */
export function exitedPid(): number {
  return spawnSync('true').pid!
}

/** What a gateway killed with SIGKILL leaves behind: its lock, naming a PID that is gone. */
export function writeStaleLock(home: string, pid: number): void {
  const uid = process.getuid?.() ?? 0
  const dir = join(home, '.openclaw', 'tmp', `openclaw-${uid}`)
  mkdirSync(dir, { recursive: true })
  const lock = { pid, createdAt: new Date(Date.now() - 3_600_000).toISOString(), configPath: join(home, '.openclaw', 'openclaw.json'), stateDir: join(home, '.openclaw') }
  writeFileSync(join(dir, 'gateway.0badf00d.lock'), `${JSON.stringify(lock, null, 2)}\n`)
}

/** A molt home as the bash toolkit's `molt create` left it: .molt-info, openclaw config, mail config. */
export function writeMoltHome(home: string, molt: { name: string; port: number; pid?: number | null }): void {
  mkdirSync(join(home, '.openclaw', 'skills', 'hello'), { recursive: true })
  writeFileSync(join(home, '.molt-info'), `MOLT_NAME=${molt.name}\nMOLT_PORT=${molt.port}\nMOLT_HOME="${home}"\nCREATED=2026-01-15\n`)
  const config = { gateway: { port: molt.port, bind: 'loopback', auth: { token: `demo-token-${molt.name}` } } }
  writeFileSync(join(home, '.openclaw', 'openclaw.json'), `${JSON.stringify(config, null, 2)}\n`)
  writeFileSync(join(home, '.openclaw', '.env'), `OPENCLAW_GATEWAY_TOKEN=demo-token-${molt.name}\n`, { mode: 0o600 })
  writeFileSync(join(home, '.openclaw', 'skills', 'hello', 'SKILL.md'), '# hello\nSays hello.\n')
  if (molt.pid) writeFileSync(join(home, '.openclaw', 'gateway.pid'), `${molt.pid}\n`)
}

export async function createDemoFleet(baseDir: string, specs: DemoMoltSpec[]): Promise<DemoFleet> {
  const children = new Map<string, ChildProcess>()
  const molts: DemoMolt[] = []
  const kill = async (child: ChildProcess | undefined) => {
    if (!child || child.exitCode !== null || child.signalCode !== null) return
    const gone = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGKILL')
    await gone
  }
  const stop = async () => {
    await Promise.all([...children.values()].map(kill))
  }
  try {
    for (const spec of specs) {
      const home = join(baseDir, spec.name)
      mkdirSync(home, { recursive: true, mode: 0o700 })
      let port: number
      let pid: number | null = null
      if (spec.mode === 'dead' || spec.mode === 'stopped') {
        port = await freePort()
        if (spec.mode === 'dead') pid = exitedPid()
        if (pid && !spec.pidFile) writeStaleLock(home, pid)
      } else {
        const gateway = await startGateway(spec.mode, home, { lock: !spec.pidFile })
        children.set(spec.name, gateway.child)
        port = gateway.port
        pid = gateway.child.pid!
      }
      writeMoltHome(home, { name: spec.name, port, pid: spec.pidFile ? pid : null })
      molts.push({ name: spec.name, mode: spec.mode, home, port, pid, pidFile: Boolean(spec.pidFile) })
    }
  } catch (error) {
    await stop()
    throw error
  }
  const entries = Object.fromEntries(molts.map((m) => [m.name, { name: m.name, port: m.port, home: m.home, created: '2026-01-15' }]))
  writeRegistry(baseDir, { version: '1', molts: entries })
  const molt = (name: string) => {
    const found = molts.find((m) => m.name === name)
    if (!found) throw new Error(`no demo molt ${name}`)
    return found
  }
  return {
    baseDir,
    molts,
    stop,
    async crash(name) {
      await kill(children.get(name))
      children.delete(name)
    },
    async restart(name) {
      const m = molt(name)
      const mode = m.mode === 'dead' || m.mode === 'stopped' ? 'healthy' : m.mode
      // a dead or stopped molt's port lies below the ephemeral range (freePort); a crashed gateway's came
      // from the kernel and may be held for a moment by a client socket given the same number: retry
      let gateway: Awaited<ReturnType<typeof startGateway>> | undefined
      for (let attempt = 1; !gateway; attempt++) {
        try {
          gateway = await startGateway(mode, m.home, { port: m.port, lock: !m.pidFile })
        } catch (error) {
          if (attempt >= 20) throw error
          await Bun.sleep(250)
        }
      }
      children.set(name, gateway.child)
      m.pid = gateway.child.pid!
      if (m.pidFile) writeFileSync(join(m.home, '.openclaw', 'gateway.pid'), `${m.pid}\n`)
    },
  }
}
