import { describe, expect, test } from 'bun:test'
import { mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { restartUser, runRestartCommand, splitCommand } from '../../src/health/restart.ts'
import { removeDir, tempDir } from '../helpers/fleet.ts'

describe('--restart-cmd is split into words, never given to a shell', () => {
  test.each([
    ['openclaw gateway restart', ['openclaw', 'gateway', 'restart']],
    ['  systemctl   restart  openclaw@mybot  ', ['systemctl', 'restart', 'openclaw@mybot']],
    ["/opt/my tools/restart.sh", ['/opt/my', 'tools/restart.sh']],
    ["'/opt/my tools/restart.sh' --now", ['/opt/my tools/restart.sh', '--now']],
    ['"/opt/my tools/restart.sh" --msg "say \\"hi\\""', ['/opt/my tools/restart.sh', '--msg', 'say "hi"']],
    ['/opt/my\\ tools/x', ['/opt/my tools/x']],
    ["a 'it''s' b", ['a', 'its', 'b']],
    ["echo '$HOME; rm -rf /'", ['echo', '$HOME; rm -rf /']],
    ['x ""', ['x', '']],
  ])('%p → %p', (text, words) => expect(splitCommand(text)).toEqual(words))

  test.each([
    ['openclaw gateway restart; rm -rf /', "';' is shell syntax"],
    ['openclaw gateway restart && reboot', "'&' is shell syntax"],
    ['openclaw | tee x', "'|' is shell syntax"],
    ['openclaw > /etc/passwd', "'>' is shell syntax"],
    ['$(curl evil)', "'$' is shell syntax"],
    ['`curl evil`', "'`' is shell syntax"],
    ['restart-$USER', "'$' is shell syntax"],
    ['"$HOME/restart"', "'$' inside double quotes"],
    ['rm *', "'*' is shell syntax"],
    ['~/restart.sh', "'~' is shell syntax"],
    ['a\nb', 'a newline is shell syntax'],
    ["'unterminated", 'unterminated single quote'],
    ['"unterminated', 'unterminated double quote'],
    ['   ', 'the command is empty'],
    ['x \\', 'a backslash at the end'],
  ])('%p is refused: %s', (text, message) => expect(() => splitCommand(text)).toThrow(message))
})

describe('as root the restart runs as the owner of the molt home', () => {
  test('not root, or a root-owned home: as we are', () => {
    expect(restartUser({ uid: 1000, gid: 1000, dedicated: true }, 1000)).toEqual({ user: null })
    expect(restartUser({ uid: 0, gid: 0, dedicated: false }, 0)).toEqual({ user: null })
    expect(restartUser(null, 0)).toEqual({ user: null })
  })
  test('root and a home owned by a user: that user (runuser -u)', () => {
    expect(restartUser({ uid: 65534, gid: 65534, dedicated: false }, 0)).toEqual({ user: 'nobody' })
  })
  test('root and a uid without a user entry: refused, not run as root', () => {
    expect(restartUser({ uid: 4_000_123, gid: 1, dedicated: false }, 0)).toEqual({ error: expect.stringContaining('uid 4000123, which has no user entry') })
  })
})

describe('running the command', () => {
  const molt = (home: string) => ({ name: 'mybot', home, port: 19001, portSource: 'molt-info' as const, created: null, inRegistry: false, hasMoltInfo: true, warnings: [] })

  test('the molt environment, its home as cwd and HOME; no SMTP secret; output into restart.log', async () => {
    const home = tempDir()
    mkdirSync(join(home, '.molt-state'))
    process.env.CLMNT_SMTP_URL = 'smtp://u:secret@h'
    try {
      const run = await runRestartCommand(molt(home), ['sh', '-c', 'echo "$MOLT_NAME $MOLT_PORT $PWD $HOME ${CLMNT_SMTP_URL:-none}"; exit 7'], { timeoutMs: 10_000, user: null, attempt: 2 })
      expect(run).toMatchObject({ exit_code: 7, signal: null, error: null, output: `mybot 19001 ${home} ${home} none` })
      expect(readFileSync(join(home, '.molt-state', 'restart.log'), 'utf8')).toMatch(/^--- \S+ attempt 2: \["sh","-c",.*\]\nmybot 19001 /)
    } finally {
      delete process.env.CLMNT_SMTP_URL
      removeDir(home)
    }
  })

  test('a daemon the command leaves behind does not hold the run; a hung command is killed', async () => {
    const home = tempDir()
    try {
      const daemon = await runRestartCommand(molt(home), ['sh', '-c', 'sleep 30 & echo $!'], { timeoutMs: 10_000, user: null, attempt: 1 })
      expect(daemon).toMatchObject({ exit_code: 0, error: null })
      process.kill(Number(daemon.output), 'SIGKILL')
      const hung = await runRestartCommand(molt(home), ['sleep', '30'], { timeoutMs: 300, user: null, attempt: 1 })
      expect(hung).toMatchObject({ exit_code: null, signal: 'SIGKILL', error: 'no exit within 300 ms: killed' })
      const missing = await runRestartCommand(molt(home), ['no-such-openclaw-binary'], { timeoutMs: 1000, user: null, attempt: 1 })
      expect(missing.error).toStartWith('command not found: no-such-openclaw-binary (PATH=')
    } finally {
      removeDir(home)
    }
  })
})
