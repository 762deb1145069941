import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { findMolt } from '../../src/fleet/discover.ts'
import { gatewayState } from '../../src/health/gateway.ts'
import { ProcessTable } from '../../src/lib/proc.ts'
import { exitedPid, freePort, removeDir, startGateway, tempDir, writeMoltHome } from '../helpers/fleet.ts'

// Real processes: a fake gateway per molt, and an unrelated `sleep` to stand in for a reused PID.
let dir: string
let alpha: { child: ChildProcess; port: number }
let bravo: { child: ChildProcess; port: number }
let sleeper: ChildProcess

beforeAll(async () => {
  dir = tempDir()
  for (const name of ['alpha', 'bravo']) mkdirSync(join(dir, name))
  alpha = await startGateway('healthy', join(dir, 'alpha'))
  bravo = await startGateway('healthy', join(dir, 'bravo'))
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
