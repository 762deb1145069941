import { afterAll, beforeAll, expect, test } from 'bun:test'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { chooseMsmtpConfig, sendWithMsmtp } from '../../src/alert/msmtp.ts'
import { removeDir, tempDir } from '../helpers/fleet.ts'

// msmtp's exit codes as a real child process reports them: a stand-in script plays msmtp.
let dir: string
beforeAll(() => {
  dir = tempDir()
})
afterAll(() => removeDir(dir))

function fakeMsmtp(body: string): string {
  const path = join(dir, `msmtp-${Math.random().toString(36).slice(2)}`)
  writeFileSync(path, `#!/bin/sh\n${body}\n`, { mode: 0o755 })
  return path
}
const send = (msmtp: string, timeoutMs = 5000) => sendWithMsmtp('Subject: x\n\nbody\n', { msmtp, config: { file: null, user: null, source: 'default' }, readEnvelopeFrom: false, timeoutMs })

test.each([
  [0, 'delivered', { ok: true }],
  [75, 'temporary (server down)', { ok: false, permanent: false }],
  [69, 'temporary (4xx)', { ok: false, permanent: false }],
  [74, 'temporary (timeout)', { ok: false, permanent: false }],
  [65, 'permanent (recipient rejected)', { ok: false, permanent: true }],
  [78, 'permanent (config)', { ok: false, permanent: true }],
  [1, 'permanent', { ok: false, permanent: true }],
])('msmtp exit %p: %s', async (code, _, expected) => {
  const outcome = await send(fakeMsmtp(`cat > /dev/null; echo "msmtp: said $*" >&2; exit ${code}`))
  expect(outcome).toMatchObject(expected)
  if (code) expect(outcome).toMatchObject({ error: `msmtp exit ${code}: msmtp: said -t` })
})

test('the message goes in on stdin, whole', async () => {
  const out = join(dir, 'stdin.txt')
  expect(await send(fakeMsmtp(`cat > ${out}`))).toEqual({ ok: true })
  expect(await Bun.file(out).text()).toBe('Subject: x\n\nbody\n')
})

test('a hung msmtp is killed after the bound: temporary', async () => {
  expect(await send(fakeMsmtp('sleep 30'), 300)).toEqual({ ok: false, permanent: false, error: 'msmtp gave no answer within 300 ms: killed' })
})

test('no msmtp binary: permanent', async () => {
  expect(await send(join(dir, 'nothing-here'))).toMatchObject({ ok: false, permanent: true, error: expect.stringContaining('not found') })
})

test("config: --msmtp-config, else the molt's ~/.msmtprc, else msmtp's default", () => {
  const home = tempDir()
  try {
    expect(chooseMsmtpConfig(null, home)).toEqual({ file: null, user: null, source: 'default' })
    writeFileSync(join(home, '.msmtprc'), 'account default\n')
    expect(chooseMsmtpConfig(null, home, 1000)).toEqual({ file: join(home, '.msmtprc'), user: null, source: 'molt' })
    expect(chooseMsmtpConfig(join(home, '.msmtprc'), '/elsewhere')).toEqual({ file: join(home, '.msmtprc'), user: null, source: 'option' })
    expect(chooseMsmtpConfig(join(home, 'missing'), home)).toEqual({ error: `msmtp config ${join(home, 'missing')} does not exist` })
  } finally {
    removeDir(home)
  }
})
