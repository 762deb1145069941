import type { Molt } from '../fleet/discover.ts'
import { checkMolt } from './check.ts'
import { moltOwner } from './gateway.ts'
import { appendHistory } from './history.ts'
import type { HealthRecord } from './record.ts'
import { restartUser, runRestartCommand, RESTART_TIMEOUT_MS } from './restart.ts'
import { writeStatus } from './status-file.ts'
import type { RestartAttempt } from './watch-types.ts'
import type { WatchRunOptions } from './watch-run.ts'

/** The watch run's self-healing step, loaded only when a restart is due. */

/**
 * Run the restart command, then look until the gateway answers (or the wait is over). The check
 * after it is recorded like any other, with a `restart` field on its history line.
 */
export async function restartAndVerify(
  molt: Molt,
  attemptNo: number,
  options: WatchRunOptions,
  bound: (ms: number) => number,
  now: () => number,
  owner: { uid: number; gid: number } | undefined,
): Promise<{ attempt: RestartAttempt; record: HealthRecord; writeError?: string }> {
  const at = new Date(now()).toISOString()
  const command = options.restartArgv.join(' ')
  const who = restartUser(moltOwner(molt))
  const run = 'error' in who
    ? { exit_code: null, signal: null, error: who.error, duration_ms: 0, output: '' }
    : await runRestartCommand(molt, options.restartArgv, { timeoutMs: bound(RESTART_TIMEOUT_MS), user: who.user, owner, attempt: attemptNo })
  const succeeded = run.error === null && run.exit_code === 0
  // a command that failed gets one look; one that worked gets until the gateway answers, or the wait ends
  const verifyEnd = performance.now() + (succeeded ? bound(options.restartVerifyMs) : 0)
  let record: HealthRecord
  for (;;) {
    record = (await checkMolt(molt, { timeoutMs: bound(options.timeoutMs), record: false, startupGraceMs: options.startupGraceMs })).record
    if (record.status === 'healthy' || performance.now() + 250 >= verifyEnd) break
    await Bun.sleep(250)
  }
  const attempt: RestartAttempt = {
    attempt: attemptNo,
    at,
    command,
    user: 'error' in who ? null : who.user,
    exit_code: run.exit_code,
    signal: run.signal,
    error: run.error,
    duration_ms: run.duration_ms,
    output: run.output,
    result: record.status,
  }
  const line = { ...record, restart: { attempt: attemptNo, command, user: attempt.user, exit_code: run.exit_code, signal: run.signal, error: run.error, duration_ms: run.duration_ms } }
  try {
    writeStatus(molt.home, record, owner)
    appendHistory(molt.home, line as HealthRecord, owner)
    return { attempt, record }
  } catch (error) {
    return { attempt, record, writeError: `${molt.name}: could not record the check after the restart: ${(error as Error).message}` }
  }
}
