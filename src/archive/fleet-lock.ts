import { join } from 'node:path'
import { ClmntError } from '../lib/errors.ts'
import { describeHolder, tryLock, type Lock } from '../lib/lock.ts'

/** One backup or restore at a time per base dir: both take this lock, held until they finish. */
export const FLEET_LOCK_FILE = '.clmnt-fleet.lock'

export function lockFleet(baseDir: string, command: string): Lock {
  const path = join(baseDir, FLEET_LOCK_FILE)
  let attempt: ReturnType<typeof tryLock>
  try {
    attempt = tryLock(path, command)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'EACCES' || code === 'EPERM') throw new ClmntError(`permission denied: cannot take the fleet lock ${path}: run as root`, 1, { cause: error })
    throw new ClmntError(`cannot take the fleet lock ${path}: ${(error as Error).message}`, 1, { cause: error })
  }
  if (!attempt.ok) {
    throw new ClmntError(`another backup or restore is running on ${baseDir}: ${describeHolder(attempt.holder)} holds ${path}; try again when it has finished`, 1)
  }
  return attempt.lock
}
