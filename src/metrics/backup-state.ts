import { join } from 'node:path'
import { writeFileAtomic } from '../lib/atomic.ts'
import { readJsonState } from '../lib/legacy.ts'
import { lazySchema } from '../lib/schema.ts'
import type { BackupMetrics } from './families.ts'

/**
 * `<base-dir>/.clmnt-backup-status.json`: the last successful backup per destination (a local
 * folder, an s3:// URL), kept by `fleet backup` so the backup metrics survive between runs and the
 * dashboard's /metrics can serve them. Nothing secret in it.
 *
 *   { "version": 1, "destinations": { "s3://bucket/prefix/": { "finished_at": ISO,
 *     "archive": "fleet-….tar.gz", "size_bytes": 123, "duration_ms": 4567 } } }
 */
export const BACKUP_STATUS_FILE = '.clmnt-backup-status.json'

export const backupStatusSchema = lazySchema((z) =>
  z.object({
    version: z.literal(1),
    destinations: z.record(
      z.string().min(1),
      z.object({
        finished_at: z.string().refine((t) => !Number.isNaN(Date.parse(t)), 'not a time'),
        archive: z.string(),
        size_bytes: z.number().int().min(0),
        duration_ms: z.number().min(0),
      }),
    ),
  }),
)

export interface BackupStatusRead {
  backups: BackupMetrics[]
  warning?: string
}

export function backupStatusPath(baseDir: string): string {
  return join(baseDir, BACKUP_STATUS_FILE)
}

export function readBackupStatus(baseDir: string): BackupStatusRead {
  const path = backupStatusPath(baseDir)
  const { raw, warning } = readJsonState(path)
  if (raw === undefined) return { backups: [], warning }
  const parsed = backupStatusSchema().safeParse(raw)
  if (!parsed.success) return { backups: [], warning: `${path} is not a backup status file; ignoring it` }
  const backups = Object.entries(parsed.data.destinations).map(([destination, d]) => ({
    destination,
    finishedMs: Date.parse(d.finished_at),
    sizeBytes: d.size_bytes,
    durationMs: d.duration_ms,
    archive: d.archive,
  }))
  return { backups: backups.sort((a, b) => (a.destination < b.destination ? -1 : 1)) }
}

/** Record successful backups (one per destination reached); the other destinations keep their entry. */
export function recordBackupSuccess(baseDir: string, successes: readonly BackupMetrics[]): BackupMetrics[] {
  const current = new Map(readBackupStatus(baseDir).backups.map((b) => [b.destination, b]))
  for (const s of successes) current.set(s.destination, s)
  const destinations = Object.fromEntries(
    [...current.values()].map((b) => [b.destination, { finished_at: new Date(b.finishedMs).toISOString(), archive: b.archive, size_bytes: b.sizeBytes, duration_ms: Math.round(b.durationMs) }]),
  )
  writeFileAtomic(backupStatusPath(baseDir), `${JSON.stringify({ version: 1, destinations }, null, 2)}\n`, { mode: 0o644 })
  return [...current.values()]
}
