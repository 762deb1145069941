import { spawn } from 'node:child_process'
import { accessSync, constants, existsSync, statSync } from 'node:fs'
import { delimiter, join } from 'node:path'
import { findRunuser } from '../health/restart.ts'
import { userByUid } from '../lib/users.ts'
import type { DeliveryOutcome } from '../health/watch.ts'
import { oneLine } from './message.ts'
import { killGroupAfter } from '../lib/deadline.ts'

/**
 * msmtp, the mailer most molts already have configured (~/.msmtprc). Spawned with an argument
 * array, the message on stdin, `-t` (recipients from the To header), killed after a bound.
 * Its exit codes are sysexits: 69 (unavailable: a 4xx reply), 74 (I/O: timeout), 75 (tempfail:
 * server down) are worth retrying; 65 (rejected recipient), 78 (config) and the rest are not.
 */
export const MSMTP_TIMEOUT_MS = 60_000
const TEMPORARY = new Set([69, 74, 75])

export function findMsmtp(path = process.env.PATH ?? ''): string | null {
  const dirs = [...path.split(delimiter).filter(Boolean), '/usr/bin', '/usr/local/bin', '/bin']
  for (const dir of dirs) {
    const file = join(dir, 'msmtp')
    try {
      accessSync(file, constants.X_OK)
      if (statSync(file).isFile()) return file
    } catch {}
  }
  return null
}

export interface MsmtpConfigChoice {
  /** -C FILE, or null for msmtp's own default (~/.msmtprc, /etc/msmtprc) */
  file: string | null
  /** run as this user (root using a molt's own file: its `passwordeval` must not run as root) */
  user: string | null
  source: 'option' | 'molt' | 'default'
}

/**
 * --msmtp-config (or clmnt.json) wins; else the molt's ~/.msmtprc; else msmtp's default. A molt's
 * own file is run as its owner when we are root: the molt controls that file.
 */
export function chooseMsmtpConfig(option: string | null, moltHome: string, uid = process.getuid?.() ?? -1): MsmtpConfigChoice | { error: string } {
  if (option) {
    if (!existsSync(option)) return { error: `msmtp config ${option} does not exist` }
    return { file: option, user: null, source: 'option' }
  }
  const own = join(moltHome, '.msmtprc')
  let owner: number
  try {
    owner = statSync(own).uid
  } catch {
    return { file: null, user: null, source: 'default' }
  }
  if (uid !== 0 || owner === 0) return { file: own, user: null, source: 'molt' }
  const entry = userByUid(owner)
  if (!entry) return { error: `${own} belongs to uid ${owner}, which has no user entry: not running it as root` }
  return { file: own, user: entry.name, source: 'molt' }
}

export interface MsmtpOptions {
  msmtp: string
  config: MsmtpConfigChoice
  /** take the envelope sender from the From header (when clmnt.json sets `from`) */
  readEnvelopeFrom: boolean
  timeoutMs: number
}

export function msmtpArgv(options: Pick<MsmtpOptions, 'msmtp' | 'config' | 'readEnvelopeFrom'>): string[] {
  const args = [options.msmtp, '-t']
  if (options.config.file) args.push('-C', options.config.file)
  if (options.readEnvelopeFrom) args.push('--read-envelope-from')
  return options.config.user ? [findRunuser(), '-u', options.config.user, '--', ...args] : args
}

export async function sendWithMsmtp(message: string, options: MsmtpOptions): Promise<DeliveryOutcome> {
  const argv = msmtpArgv(options)
  const { CLMNT_SMTP_URL: _secret, ...env } = process.env
  return new Promise((resolve) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['pipe', 'ignore', 'pipe'], env, detached: true })
    let stderr = ''
    const deadline = killGroupAfter(child, options.timeoutMs)
    child.stderr!.on('data', (chunk: Buffer) => {
      if (stderr.length < 4000) stderr += chunk.toString()
    })
    child.stdin!.on('error', () => {}) // msmtp may exit before reading all of it; its exit code says why
    child.once('error', (error: NodeJS.ErrnoException) => {
      deadline.cancel()
      resolve({ ok: false, permanent: true, error: error.code === 'ENOENT' ? `${argv[0]} not found` : `cannot start msmtp: ${error.message}` })
    })
    child.once('close', (code, signal) => {
      deadline.cancel()
      const said = oneLine(stderr.split('\n').filter((l) => l.trim()).slice(-2).join('; '), 300)
      if (deadline.timedOut) resolve({ ok: false, permanent: false, error: `msmtp gave no answer within ${options.timeoutMs < 1000 ? `${options.timeoutMs} ms` : `${Math.round(options.timeoutMs / 1000)} s`}: killed` })
      else if (code === 0) resolve({ ok: true })
      else if (code === null) resolve({ ok: false, permanent: false, error: `msmtp killed by ${signal}` })
      else resolve({ ok: false, permanent: !TEMPORARY.has(code), error: `msmtp exit ${code}${said ? `: ${said}` : ''}` })
    })
    child.stdin!.end(message)
  })
}
