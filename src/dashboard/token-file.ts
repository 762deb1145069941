import { lstatSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { writeFileAtomic } from '../lib/atomic.ts'
import { ClmntError, quote } from '../lib/errors.ts'
import { randomToken } from './sessions.ts'

/**
 * The dashboard's own token, for operators who set none: generated on the first start into
 * `<base-dir>/.clmnt-dashboard-token` (mode 0600, the base dir's owner's), read on the next ones.
 */
export const TOKEN_FILE = '.clmnt-dashboard-token'

export const tokenFilePath = (baseDir: string) => join(baseDir, TOKEN_FILE)

/** The stored token; undefined when there is none yet. A file others could read or replace is refused. */
export function readTokenFile(baseDir: string): string | undefined {
  const path = tokenFilePath(baseDir)
  let st: ReturnType<typeof lstatSync>
  try {
    st = lstatSync(path)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw new ClmntError(`cannot read ${quote(path)}: ${(error as NodeJS.ErrnoException).code}`)
  }
  if (!st.isFile()) throw new ClmntError(`${quote(path)} is not a regular file: remove it, and the dashboard makes a new token`)
  if (st.uid !== process.getuid?.()) throw new ClmntError(`${quote(path)} belongs to uid ${st.uid}, not to you: remove it, and the dashboard makes a new token`)
  if (st.mode & 0o077) throw new ClmntError(`${quote(path)} is readable by other users (mode ${(st.mode & 0o777).toString(8)}): chmod 600 ${quote(path)}, or remove it for a new token`)
  return readFileSync(path, 'utf8').trim()
}

/** Make and store a new token (43 random base64url characters); returns it. */
export function createTokenFile(baseDir: string): string {
  const token = randomToken()
  writeFileAtomic(tokenFilePath(baseDir), `${token}\n`, { mode: 0o600 })
  return token
}
