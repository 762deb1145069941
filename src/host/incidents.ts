import { lockAlertsFile, readAlertsFile, writeAlertsFile } from '../alert/alerts-dir.ts'
import type { HostProblem } from './checks.ts'

/**
 * Host incidents (`.clmnt-alerts/host.json`): N molts' watches all see the same full disk, but
 * the host's alert goes out once per incident, and once more when it clears. The file is changed
 * under its lock; whoever changes it first reports the change.
 */
export const HOST_FILE = 'host.json'

interface HostFile {
  version: 1
  open: Record<string, { since: string; summary: string }>
}

export interface HostChange {
  kind: 'host' | 'host-recovered'
  key: string
  summary: string
  detail: string
  since: string
}

export async function updateHostIncidents(dir: string, problems: HostProblem[], now: number): Promise<HostChange[]> {
  const lock = await lockAlertsFile(dir, HOST_FILE, 'host checks', 10_000)
  if (!lock) return []
  try {
    let file: HostFile = { version: 1, open: {} }
    try {
      const raw = JSON.parse(readAlertsFile(dir, HOST_FILE) ?? 'null') as HostFile | null
      if (raw && raw.version === 1 && raw.open && typeof raw.open === 'object') file = raw
    } catch {}
    const at = new Date(now).toISOString()
    const changes: HostChange[] = []
    for (const p of problems) {
      if (file.open[p.key]) continue
      file.open[p.key] = { since: at, summary: p.summary }
      changes.push({ kind: 'host', key: p.key, summary: p.summary, detail: p.detail, since: at })
    }
    for (const [key, open] of Object.entries(file.open)) {
      if (problems.some((p) => p.key === key)) continue
      delete file.open[key]
      changes.push({ kind: 'host-recovered', key, summary: open.summary, detail: '', since: open.since })
    }
    if (changes.length) writeAlertsFile(dir, HOST_FILE, `${JSON.stringify(file, null, 2)}\n`)
    return changes
  } finally {
    lock.release()
  }
}
