import { join } from 'node:path'

/** Where clmnt keeps its files inside a molt home. */
export const stateDir = (home: string) => join(home, '.molt-state')
export const statusFile = (home: string) => join(home, '.molt-state', 'health-status.json')
export const historyFile = (home: string) => join(home, '.molt-state', 'health-history.jsonl')
export const watchStateFile = (home: string) => join(home, '.molt-state', 'health-watch-state.json')
export const watchLogFile = (home: string) => join(home, '.molt-state', 'health.log')
export const pidFile = (home: string) => join(home, '.openclaw', 'gateway.pid')
