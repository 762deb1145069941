import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createDemoFleet, type DemoFleet, type DemoMoltSpec } from '../../src/demo/fleet.ts'
import { makeTempDir } from './temp-dirs.ts'

export { exitedPid, freePort, startGateway, writeMoltHome, writeStaleLock } from '../../src/demo/fleet.ts'

/** A fresh folder in TMPDIR, removed once the test file that made it is done (temp-dirs.preload.ts). */
export function tempDir(prefix = 'clmnt-test-'): string {
  return makeTempDir(prefix)
}

/** A fleet in a fresh temp dir with real fake gateways; `cleanup()` kills them and removes the dir. */
export async function buildFleet(specs: DemoMoltSpec[]): Promise<DemoFleet & { cleanup(): void }> {
  const dir = tempDir()
  const fleet = await createDemoFleet(dir, specs)
  return {
    ...fleet,
    cleanup() {
      fleet.stop()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** What the bash toolkit wrote: every number a string, "null" for nothing, curl's "000000" for no answer. */
export const LEGACY_STATUS = {
  last_check: '2026-02-02T10:30:00Z',
  status: 'unhealthy',
  pid: '1234',
  port: '19001',
  http_status: '000000',
  response_time_ms: 'null',
}

export const LEGACY_WATCH_STATE_INVALID = '{\n  "consecutive_failures": "3",\n  "last_success": "null",\n  "alert_sent": ,\n  "last_check": "2026-02-02T10:30:00Z"\n}\n'

export function writeState(home: string, file: string, content: string | object): string {
  const dir = join(home, '.molt-state')
  mkdirSync(dir, { recursive: true })
  const path = join(dir, file)
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content, null, 2))
  return path
}

/**
 * clmnt.json of a test fleet, with disk and memory limits no machine reaches: the test machine's own disk
 * or memory filling up would add a host alert to every count of alerts, mails and notices (watch-host.test.ts
 * tests them, on a tmpfs of its own). The rest of the host checks (stopped watchers) stay on, as by default.
 */
export function writeConfig(baseDir: string, config: object = {}, mode?: number): void {
  const hostChecks = { disk_free_min_percent: 0, memory_used_max_percent: 100 }
  writeFileSync(join(baseDir, 'clmnt.json'), JSON.stringify({ host_checks: hostChecks, ...config }), mode === undefined ? undefined : { mode })
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true })
}
