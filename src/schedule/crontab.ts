import { spawnSync } from 'node:child_process'

/**
 * The `crontab` binary, spawned with argument arrays (no shell). `crontab -l` exits 1 both for
 * "no crontab for X" and for an unknown user, so its stderr decides which it was.
 */
export type CrontabRead = { ok: true; text: string } | { ok: false; error: string }

const TIMEOUT_MS = 15_000

/** `user` undefined: the invoking user's crontab. A user without a crontab reads as empty text. */
export function readCrontab(user?: string): CrontabRead {
  const result = spawnSync('crontab', [...(user ? ['-u', user] : []), '-l'], { encoding: 'utf8', timeout: TIMEOUT_MS })
  if (result.error) return { ok: false, error: `cannot run crontab: ${(result.error as NodeJS.ErrnoException).code ?? result.error.message}` }
  if (result.status === 0) return { ok: true, text: result.stdout }
  const stderr = result.stderr.trim()
  if (/^no crontab for /m.test(stderr)) return { ok: true, text: '' }
  return { ok: false, error: `crontab${user ? ` -u ${user}` : ''} -l failed: ${stderr.split('\n')[0] || `exit ${result.status}`}` }
}

/** Replace the whole crontab with `text` (fed on stdin; crontab wants a final newline). */
export function writeCrontab(text: string, user?: string): { ok: true } | { ok: false; error: string } {
  const input = text === '' || text.endsWith('\n') ? text : `${text}\n`
  const result = spawnSync('crontab', [...(user ? ['-u', user] : []), '-'], { input, encoding: 'utf8', timeout: TIMEOUT_MS })
  if (result.error) return { ok: false, error: `cannot run crontab: ${(result.error as NodeJS.ErrnoException).code ?? result.error.message}` }
  if (result.status !== 0) return { ok: false, error: `crontab${user ? ` -u ${user}` : ''} - failed: ${result.stderr.trim().split('\n')[0] || `exit ${result.status}`}` }
  return { ok: true }
}
