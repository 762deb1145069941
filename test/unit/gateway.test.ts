import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { spawn, type ChildProcess } from 'node:child_process'
import { execFileSync } from 'node:child_process'
import { mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { findMolt } from '../../src/fleet/discover.ts'
import { gatewayState } from '../../src/health/gateway.ts'
import { ProcessTable } from '../../src/lib/proc.ts'
import { exitedPid, freePort, removeDir, startGateway, tempDir, writeMoltHome, writeStaleLock } from '../helpers/fleet.ts'

// Real processes: a fake gateway per molt, and an unrelated `sleep` to stand in for a reused PID.
let dir: string
let alpha: { child: ChildProcess; port: number }
let bravo: { child: ChildProcess; port: number }
let sleeper: ChildProcess

beforeAll(async () => {
  dir = tempDir()
  for (const name of ['alpha', 'bravo']) mkdirSync(join(dir, name))
  // bash-toolkit hosts: gateway.pid, no lock file
  alpha = await startGateway('healthy', join(dir, 'alpha'), { lock: false })
  bravo = await startGateway('healthy', join(dir, 'bravo'), { lock: false })
  writeMoltHome(join(dir, 'alpha'), { name: 'alpha', port: alpha.port })
  writeMoltHome(join(dir, 'bravo'), { name: 'bravo', port: bravo.port })
  sleeper = spawn('sleep', ['60'])
})

afterAll(() => {
  for (const child of [alpha.child, bravo.child, sleeper]) child.kill('SIGKILL')
  removeDir(dir)
})

function stateWithPidFile(content: string | null) {
  const path = join(dir, 'alpha', '.openclaw', 'gateway.pid')
  if (content === null) rmSync(path, { force: true })
  else writeFileSync(path, content)
  return gatewayState(findMolt(dir, 'alpha').molt, new ProcessTable())
}

describe('which process is the molt gateway', () => {
  test('the PID file names the running gateway', () => {
    expect(stateWithPidFile(`${alpha.child.pid}\n`)).toEqual({ state: 'running', pid: alpha.child.pid!, via: 'pid-file' })
  })

  test('no PID file: the gateway is found in /proc (orphan)', () => {
    expect(stateWithPidFile(null)).toEqual({ state: 'running', pid: alpha.child.pid!, via: 'process-scan' })
  })

  test.each([['garbage', 'abc'], ['empty', ''], ['negative', '-5'], ['too large', '99999999'], ['zero', '0']])(
    'an invalid PID file (%s) does not hide the running gateway',
    (_label, content) => {
      expect(stateWithPidFile(content)).toEqual({ state: 'running', pid: alpha.child.pid!, via: 'process-scan' })
    },
  )

  test('a reused PID (an unrelated live process) is not the gateway', async () => {
    const other = tempDir()
    try {
      const port = await freePort()
      writeMoltHome(join(other, 'solo'), { name: 'solo', port, pid: sleeper.pid })
      const state = gatewayState(findMolt(other, 'solo').molt, new ProcessTable())
      expect(state).toMatchObject({ state: 'stale', pid: sleeper.pid })
      expect((state as { reason: string }).reason).toContain('another process')
    } finally {
      removeDir(other)
    }
  })

  test('in its first seconds the real gateway is titled plain `openclaw` and has no lock yet: that is its gateway, not `stopped`', async () => {
    const other = tempDir()
    const home = join(other, 'solo')
    writeMoltHome(home, { name: 'solo', port: await freePort() })
    // what `openclaw gateway run` shows while OpenClaw's CLI loads (dist/entry.js: process.title = "openclaw")
    const titled = (title: string) => spawn('cat', [], { argv0: title, cwd: home, stdio: ['pipe', 'ignore', 'ignore'] })
    const starting = titled('openclaw')
    // another OpenClaw command once named (`openclaw status` runs as openclaw-status) is no gateway
    const status = titled('openclaw-status')
    try {
      for (const child of [starting, status]) await waitForCmdline(child.pid!, /^openclaw/)
      expect(gatewayState(findMolt(other, 'solo').molt, new ProcessTable())).toEqual({ state: 'running', pid: starting.pid!, via: 'process-scan' })
      starting.kill('SIGKILL')
      await new Promise((resolve) => starting.once('exit', resolve))
      expect(gatewayState(findMolt(other, 'solo').molt, new ProcessTable())).toEqual({ state: 'stopped' })
    } finally {
      for (const child of [starting, status]) child.kill('SIGKILL')
      removeDir(other)
    }
  }, 30_000)

  test("another molt's gateway (same Linux user) is not this molt's", async () => {
    const other = tempDir()
    try {
      writeMoltHome(join(other, 'solo'), { name: 'solo', port: await freePort(), pid: bravo.child.pid })
      expect(gatewayState(findMolt(other, 'solo').molt, new ProcessTable()).state).toBe('stale')
    } finally {
      removeDir(other)
    }
  })

  test('a PID that has exited is stale; invalid content is stale with a reason', async () => {
    const other = tempDir()
    try {
      const port = await freePort()
      writeMoltHome(join(other, 'solo'), { name: 'solo', port, pid: exitedPid() })
      expect(gatewayState(findMolt(other, 'solo').molt, new ProcessTable())).toMatchObject({ state: 'stale' })
      writeFileSync(join(other, 'solo', '.openclaw', 'gateway.pid'), 'abc')
      expect(gatewayState(findMolt(other, 'solo').molt, new ProcessTable())).toMatchObject({ state: 'stale', pid: null, reason: expect.stringContaining('no valid PID') })
      rmSync(join(other, 'solo', '.openclaw', 'gateway.pid'))
      expect(gatewayState(findMolt(other, 'solo').molt, new ProcessTable())).toEqual({ state: 'stopped' })
    } finally {
      removeDir(other)
    }
  })
})

describe("the real gateway's own lock file", () => {
  // as OpenClaw 2026.9 runs: no gateway.pid, a lock under ~/.openclaw/tmp/openclaw-<uid>/, title openclaw-gateway
  let home: string
  let gateway: { child: ChildProcess; port: number }
  const state = () => gatewayState(findMolt(home, 'charlie').molt, new ProcessTable())
  const lockDir = () => join(home, 'charlie', '.openclaw', 'tmp', `openclaw-${process.getuid!()}`)
  const lockFile = () => join(lockDir(), readdirSync(lockDir()).find((n) => n.endsWith('.lock'))!)

  beforeAll(async () => {
    home = tempDir()
    mkdirSync(join(home, 'charlie'))
    gateway = await startGateway('healthy', join(home, 'charlie'))
    writeMoltHome(join(home, 'charlie'), { name: 'charlie', port: gateway.port })
  })
  afterAll(() => {
    gateway.child.kill('SIGKILL')
    removeDir(home)
  })

  test('the lock names the gateway: JSON with pid and createdAt, the process titled openclaw-gateway', () => {
    const lock = JSON.parse(readFileSync(lockFile(), 'utf8'))
    expect(lock).toMatchObject({ pid: gateway.child.pid, createdAt: expect.any(String), port: gateway.port })
    expect(readFileSync(`/proc/${gateway.child.pid}/cmdline`, 'utf8').split('\0')[0]).toBe('openclaw-gateway')
    expect(state()).toEqual({ state: 'running', pid: gateway.child.pid!, via: 'lock-file' })
  })

  test('the lock wins over a stale gateway.pid left by the bash toolkit', () => {
    writeFileSync(join(home, 'charlie', '.openclaw', 'gateway.pid'), `${exitedPid()}\n`)
    try {
      expect(state()).toEqual({ state: 'running', pid: gateway.child.pid!, via: 'lock-file' })
    } finally {
      rmSync(join(home, 'charlie', '.openclaw', 'gateway.pid'))
    }
  })

  test('a lock whose PID now belongs to a later process (start time differs) is not trusted', () => {
    const original = readFileSync(lockFile(), 'utf8')
    const lock = JSON.parse(original)
    writeFileSync(lockFile(), JSON.stringify({ ...lock, startTime: lock.startTime - 1 }))
    try {
      // the process is still found, by the scan: a gateway process of the molt's user with its cwd in the home
      expect(state()).toEqual({ state: 'running', pid: gateway.child.pid!, via: 'process-scan' })
    } finally {
      writeFileSync(lockFile(), original)
    }
  })

  test('a lock left by a killed gateway makes the molt dead, with the lock named', async () => {
    const other = tempDir()
    try {
      writeMoltHome(join(other, 'delta'), { name: 'delta', port: await freePort() })
      writeStaleLock(join(other, 'delta'), exitedPid())
      const dead = gatewayState(findMolt(other, 'delta').molt, new ProcessTable())
      expect(dead).toMatchObject({ state: 'stale', reason: expect.stringMatching(/^PID \d+ from the gateway lock \.openclaw\/tmp\/openclaw-\d+\/gateway\.0badf00d\.lock is not running/) })
    } finally {
      removeDir(other)
    }
  })

  test.each([
    ['a symlink', (path: string) => symlinkSync('/etc/passwd', path)],
    ['a FIFO', (path: string) => execFileSync('mkfifo', [path])],
    ['not JSON', (path: string) => writeFileSync(path, 'pid=12')],
    ['a PID out of range', (path: string) => writeFileSync(path, '{"pid": 99999999}')],
  ])('a lock file that is %s is no lock (and never blocks)', async (_label, plant) => {
    const other = tempDir()
    try {
      writeMoltHome(join(other, 'echo'), { name: 'echo', port: await freePort() })
      const dir = join(other, 'echo', '.openclaw', 'tmp', `openclaw-${process.getuid!()}`)
      mkdirSync(dir, { recursive: true })
      plant(join(dir, 'gateway.deadbeef.lock'))
      expect(gatewayState(findMolt(other, 'echo').molt, new ProcessTable())).toEqual({ state: 'stopped' })
    } finally {
      removeDir(other)
    }
  })

  test('SIGTERM: the gateway removes its lock on the way out, and the molt is stopped', async () => {
    const other = tempDir()
    try {
      mkdirSync(join(other, 'foxtrot'))
      const g = await startGateway('healthy', join(other, 'foxtrot'))
      writeMoltHome(join(other, 'foxtrot'), { name: 'foxtrot', port: g.port })
      const exited = new Promise((resolve) => g.child.once('exit', resolve))
      g.child.kill('SIGTERM')
      await exited
      expect(gatewayState(findMolt(other, 'foxtrot').molt, new ProcessTable())).toEqual({ state: 'stopped' })
    } finally {
      removeDir(other)
    }
  })
})

/** Until the exec of a spawned child shows in /proc (bounded). */
async function waitForCmdline(pid: number, match: RegExp): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      if (match.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8'))) return
    } catch {}
    await Bun.sleep(50)
  }
  throw new Error(`process ${pid} never showed ${match}`)
}
