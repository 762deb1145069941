import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/**
 * A benchmark's scratch folder (gigabytes of generated fleet and archives): removed by
 * `cleanup()` at the end, and on Ctrl-C or SIGTERM too, so an interrupted run leaves nothing.
 */
export function benchWorkdir(prefix: string, dir?: string): { tmp: string; cleanup(): void } {
  const tmp = mkdtempSync(join(dir ?? tmpdir(), prefix))
  let cleaned = false
  const cleanup = () => {
    if (cleaned) return
    cleaned = true
    rmSync(tmp, { recursive: true, force: true })
  }
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => (cleanup(), process.exit(130)))
  return { tmp, cleanup }
}
