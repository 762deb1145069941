import { join } from 'node:path'

/**
 * Where clmnt keeps its files inside a molt home. The `…Rel` names are relative to the home: every
 * read and write goes through src/lib/safe-fs.ts with them (no link below the home is followed);
 * the absolute forms are for messages and tests.
 */
export const STATE_DIR = '.molt-state'
export const STATUS_REL = `${STATE_DIR}/health-status.json`
export const HISTORY_REL = `${STATE_DIR}/health-history.jsonl`
export const WATCH_STATE_REL = `${STATE_DIR}/health-watch-state.json`
export const WATCH_LOG_REL = `${STATE_DIR}/health.log`
export const WATCH_LOCK_REL = `${STATE_DIR}/health-watch.lock`
export const PID_REL = '.openclaw/gateway.pid'

export const stateDir = (home: string) => join(home, STATE_DIR)
export const statusFile = (home: string) => join(home, STATUS_REL)
export const historyFile = (home: string) => join(home, HISTORY_REL)
export const watchStateFile = (home: string) => join(home, WATCH_STATE_REL)
export const watchLogFile = (home: string) => join(home, WATCH_LOG_REL)
export const pidFile = (home: string) => join(home, PID_REL)
