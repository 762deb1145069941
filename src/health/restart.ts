import { closeSync, existsSync, fstatSync, readSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import type { Molt } from '../fleet/discover.ts'
import type { Owner } from '../lib/atomic.ts'
import { inHomeDir, O_APPEND, O_RDWR } from '../lib/safe-fs.ts'
import { userByUid } from '../lib/users.ts'
import type { MoltOwner } from './gateway.ts'
import { STATE_DIR, stateDir } from './paths.ts'
import { killGroupAfter } from '../lib/deadline.ts'

/**
 * Self-healing (opt-in): run the molt's restart command. Never through a shell: the command line
 * is split into words here, and anything a shell would interpret is refused rather than guessed.
 */
export const DEFAULT_RESTART_COMMAND = 'openclaw gateway restart'
export const RESTART_TIMEOUT_MS = 60_000
const LOG_CAP_BYTES = 1024 * 1024

/**
 * Split a command line the way a shell splits plain words: blanks separate words, 'single quotes'
 * are literal, "double quotes" allow \" and \\, a backslash outside quotes escapes one character.
 * Throws on what only a shell could do: pipes, redirections, `;`, `&`, `$`, backticks, globs, `~`.
 */
export function splitCommand(text: string): string[] {
  const words: string[] = []
  let word = ''
  let inWord = false
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!
    if (c === ' ' || c === '\t') {
      if (inWord) words.push(word)
      word = ''
      inWord = false
      continue
    }
    inWord = true
    if (c === "'") {
      const end = text.indexOf("'", i + 1)
      if (end < 0) throw new Error('unterminated single quote')
      word += text.slice(i + 1, end)
      i = end
    } else if (c === '"') {
      let j = i + 1
      for (; j < text.length && text[j] !== '"'; j++) {
        const d = text[j]!
        if (d === '$' || d === '`') throw new Error(`${quoteChar(d)} inside double quotes would be expanded by a shell; there is no shell here`)
        if (d === '\\' && (text[j + 1] === '"' || text[j + 1] === '\\')) word += text[++j]
        else word += d
      }
      if (j >= text.length) throw new Error('unterminated double quote')
      i = j
    } else if (c === '\\') {
      if (i + 1 >= text.length) throw new Error('a backslash at the end of the command')
      word += text[++i]
    } else if (/[|&;<>()$`*?[\]{}~#!\r\n\0]/.test(c)) {
      throw new Error(`${quoteChar(c)} is shell syntax; the command runs without a shell (put a pipeline or redirection in a script)`)
    } else word += c
  }
  if (inWord) words.push(word)
  if (!words.length) throw new Error('the command is empty')
  return words
}

function quoteChar(c: string): string {
  return c === '\n' ? 'a newline' : c === '\r' ? 'a carriage return' : c === '\0' ? 'a NUL byte' : `'${c}'`
}

/**
 * As root, the command runs as the molt's user (the owner of its home): a gateway started as root
 * would not be recognised as the molt's, and the molt's own files must not be run with root rights.
 */
export function restartUser(owner: MoltOwner | null, uid = process.getuid?.() ?? -1): { user: string | null } | { error: string } {
  if (uid !== 0 || !owner || owner.uid === 0) return { user: null }
  const entry = userByUid(owner.uid)
  if (!entry) return { error: `the molt's home belongs to uid ${owner.uid}, which has no user entry: cannot restart as the molt's user` }
  return { user: entry.name }
}

/** runuser lives in /usr/sbin, which cron's PATH (/usr/bin:/bin) does not hold. */
export function findRunuser(): string {
  for (const dir of ['/usr/sbin', '/sbin', '/usr/bin', '/bin']) if (existsSync(join(dir, 'runuser'))) return join(dir, 'runuser')
  return 'runuser'
}

export interface CommandRun {
  exit_code: number | null
  signal: string | null
  /** could not start, or killed after the timeout */
  error: string | null
  duration_ms: number
  /** the end of what the command printed, on one line */
  output: string
}

export const restartLogFile = (home: string) => join(stateDir(home), 'restart.log')

/**
 * Run the command with its output going to `.molt-state/restart.log`, never to a pipe of ours: a
 * gateway the command leaves running inherits that descriptor, and a pipe would die with us.
 * Resolves on exit (not on close, which a daemonised child would hold off forever). The command
 * gets its own process group, killed whole after `timeoutMs`.
 */
export async function runRestartCommand(
  molt: Molt,
  argv: string[],
  options: { timeoutMs: number; user: string | null; owner?: Owner; attempt: number },
): Promise<CommandRun> {
  const started = performance.now()
  const full = options.user ? [findRunuser(), '-u', options.user, '--', ...argv] : argv
  const logPath = restartLogFile(molt.home)
  // in the molt's home: never through a link, as the molt's user (safe-fs.ts)
  const fd = inHomeDir(molt.home, `${STATE_DIR}/restart.log`, { owner: options.owner, create: true }, (dir, name) => {
    if ((dir.stat(name)?.size ?? 0) > LOG_CAP_BYTES) dir.rename(name, `${name}.1`)
    return dir.openOrCreate(name, O_RDWR | O_APPEND)
  })
  const header = `--- ${new Date().toISOString()} attempt ${options.attempt}: ${JSON.stringify(full)}\n`
  writeSync(fd, header)
  const from = fstatSync(fd).size
  // the SMTP secret is ours, not the restart command's
  const { CLMNT_SMTP_URL: _secret, ...inherited } = process.env
  const env = { ...inherited, HOME: molt.home, MOLT_NAME: molt.name, MOLT_HOME: molt.home, MOLT_PORT: molt.port === null ? '' : String(molt.port) }
  // loaded here: config checks import this file for splitCommand on every cron run
  const { spawn } = await import('node:child_process')
  const result = await new Promise<Omit<CommandRun, 'duration_ms' | 'output'>>((resolve) => {
    let child: ReturnType<typeof spawn>
    try {
      child = spawn(full[0]!, full.slice(1), { cwd: molt.home, env, stdio: ['ignore', fd, fd], detached: true })
    } catch (error) {
      resolve({ exit_code: null, signal: null, error: `cannot start ${full[0]}: ${(error as Error).message}` })
      return
    }
    const deadline = killGroupAfter(child, options.timeoutMs)
    child.once('error', (error: NodeJS.ErrnoException) => {
      deadline.cancel()
      const what = error.code === 'ENOENT' ? `command not found: ${full[0]} (PATH=${process.env.PATH ?? ''})` : `cannot start ${full[0]}: ${error.message}`
      resolve({ exit_code: null, signal: null, error: what })
    })
    child.once('exit', (code, signal) => {
      deadline.cancel()
      resolve({ exit_code: code, signal, error: deadline.timedOut ? `no exit within ${seconds(options.timeoutMs)}: killed` : null })
    })
  })
  const output = readFrom(fd, from)
  closeSync(fd)
  return { ...result, duration_ms: Math.round(performance.now() - started), output }
}

function readFrom(fd: number, from: number): string {
  const size = fstatSync(fd).size
  const start = Math.max(from, size - 2000)
  const buf = Buffer.alloc(Math.max(0, size - start))
  if (buf.length) readSync(fd, buf, 0, buf.length, start)
  const text = buf.toString('utf8').replace(/[\x00-\x1f\x7f]+/g, ' ').trim()
  return text.length > 300 ? `…${text.slice(-300)}` : text
}

function seconds(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${Math.round(ms / 1000)} s`
}
