import { afterEach, expect, test } from 'bun:test'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { describeHolder, tryLock } from '../../src/lib/lock.ts'
import { removeDir, tempDir } from '../helpers/fleet.ts'

let dir: string
afterEach(() => removeDir(dir))

test('one holder at a time; the other learns who holds it; release lets the next in', () => {
  dir = tempDir()
  const path = join(dir, 'lock')
  const first = tryLock(path, 'fleet backup')
  expect(first.ok).toBe(true)
  const second = tryLock(path, 'fleet backup')
  expect(second).toEqual({ ok: false, holder: { pid: process.pid, command: 'fleet backup', since: expect.any(String) } })
  expect(describeHolder(second.ok ? null : second.holder)).toContain(`PID ${process.pid} (fleet backup`)
  if (first.ok) first.lock.release()
  const third = tryLock(path, 'again')
  expect(third.ok).toBe(true)
  if (third.ok) third.lock.release()
})

test('a holder killed with SIGKILL leaves no stale lock', async () => {
  dir = tempDir()
  const path = join(dir, 'lock')
  const script = `const { tryLock } = await import(${JSON.stringify(join(import.meta.dir, '../../src/lib/lock.ts'))}); const a = tryLock(${JSON.stringify(path)}, 'child'); console.log(a.ok); await Bun.sleep(60000)`
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] })
  await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()))
  const whileHeld = tryLock(path, 'parent')
  expect(whileHeld).toMatchObject({ ok: false, holder: { pid: child.pid, command: 'child' } })
  child.kill('SIGKILL')
  await new Promise((resolve) => child.once('exit', resolve))
  const after = tryLock(path, 'parent')
  expect(after.ok).toBe(true)
  if (after.ok) after.lock.release()
})
