import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFileSync, rmSync } from 'node:fs'

/**
 * Throwaway Linux users for tests that need the real `crontab -u` (root only). Names are valid
 * molt names (`ct_` + 6 random letters/digits) so one can be both a user and a molt.
 */

export const isRoot = process.getuid?.() === 0

export const CRON_SPOOL = '/var/spool/cron/crontabs'

export function throwawayName(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789'
  return `ct_${[...randomBytes(6)].map((b) => alphabet[b % alphabet.length]).join('')}`
}

export function userExists(name: string): boolean {
  return readFileSync('/etc/passwd', 'utf8').split('\n').some((line) => line.startsWith(`${name}:`))
}

/** A user with `home` as its home (not created: the test builds it) and no login shell. */
export function createUser(home: string, name = throwawayName()): string {
  const result = spawnSync('useradd', ['-M', '-d', home, '-s', '/usr/sbin/nologin', name], { encoding: 'utf8' })
  if (result.status !== 0) throw new Error(`useradd ${name} failed: ${result.stderr}`)
  return name
}

/** Remove the user, its crontab (spool file included) and its home; safe to call on failure paths. */
export function removeUser(name: string): void {
  spawnSync('crontab', ['-u', name, '-r'], { encoding: 'utf8' })
  if (userExists(name)) spawnSync('userdel', ['-r', name], { encoding: 'utf8' })
  rmSync(`${CRON_SPOOL}/${name}`, { force: true })
}

export function crontabOf(name?: string): { code: number; text: string; stderr: string } {
  const result = spawnSync('crontab', [...(name ? ['-u', name] : []), '-l'], { encoding: 'utf8' })
  return { code: result.status ?? -1, text: result.stdout, stderr: result.stderr }
}

export function setCrontab(name: string, text: string): void {
  const result = spawnSync('crontab', ['-u', name, '-'], { input: text, encoding: 'utf8' })
  if (result.status !== 0) throw new Error(`crontab -u ${name} - failed: ${result.stderr}`)
}
