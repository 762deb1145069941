import { basename, dirname } from 'node:path'
import type { BackupResult } from '../archive/backup.ts'
import { recordBackupSuccess } from '../metrics/backup-state.ts'
import type { BackupMetrics } from '../metrics/families.ts'
import { pruneRemote, type RemotePrune } from './list.ts'
import type { Remote } from './remote.ts'
import { uploadArchive, type UploadResult } from './upload.ts'

/**
 * What `fleet backup` does once its archive is in place (under the fleet lock): upload it with
 * `--to`, apply `--keep` to the bucket when the upload succeeded, record each destination reached
 * in the base dir's backup status, and refresh the `--prom-file` metrics. Failures are reported,
 * not thrown: the local archive is good whatever happens here.
 */
export interface ShipOptions {
  baseDir: string
  remote: Remote | null
  keep?: number
  promFile?: string
  clmntVersion: string
  signal?: AbortSignal
  onUploadProgress?(sentBytes: number, totalBytes: number): void
  now?: () => number
}

export interface ShipReport {
  upload: UploadResult | null
  /** an incremental archive's parents the bucket lacked, uploaded before it (oldest first) */
  parentUploads: UploadResult[]
  uploadError: string | null
  prune: RemotePrune | null
  /** the destinations recorded as backed up just now */
  recorded: BackupMetrics[]
  problems: string[]
  warnings: string[]
}

export async function shipArchive(result: BackupResult, options: ShipOptions): Promise<ShipReport> {
  const report: ShipReport = { upload: null, parentUploads: [], uploadError: null, prune: null, recorded: [], problems: [], warnings: [] }
  const path = result.path!
  if (options.remote) {
    try {
      const upload = { clmntVersion: options.clmntVersion, signal: options.signal, onProgress: options.onUploadProgress }
      // an incremental archive needs its chain in the bucket: what is missing there goes up first
      if (result.manifest.kind === 'incremental') {
        const { uploadMissingParents } = await import('./chain-upload.ts')
        report.parentUploads = await uploadMissingParents(options.remote, path, upload)
      }
      report.upload = await uploadArchive(options.remote, path, { ...upload, manifest: result.manifest })
    } catch (error) {
      report.uploadError = `${(error as Error).message}; the local archive ${path} is kept, no completion marker was written`
      report.problems.push(report.uploadError)
    }
    if (report.upload && options.keep !== undefined) {
      try {
        const m = result.manifest
        report.prune = await pruneRemote(options.remote, { keep: options.keep, hostname: m.hostname ?? '', baseDir: m.base_dir ?? options.baseDir, justWritten: report.upload.archive })
        for (const failure of report.prune.failed) report.warnings.push(`--keep: could not delete ${failure}`)
      } catch (error) {
        report.warnings.push(`--keep on ${options.remote.url()}: ${(error as Error).message}`)
      }
    }
  }
  // a partial archive is not a success: the metrics keep the last good one
  if (!result.partial) {
    const finishedMs = (options.now ?? Date.now)()
    report.recorded.push({ destination: dirname(path), finishedMs, sizeBytes: result.bytesOut, durationMs: result.durationMs, archive: basename(path) })
    if (report.upload) {
      report.recorded.push({ destination: options.remote!.url(), finishedMs, sizeBytes: report.upload.sizeBytes, durationMs: result.durationMs + report.upload.durationMs, archive: report.upload.archive })
    }
  }
  let backups: BackupMetrics[] = report.recorded
  try {
    if (report.recorded.length) backups = recordBackupSuccess(options.baseDir, report.recorded)
  } catch (error) {
    report.problems.push(`cannot record the backup in ${options.baseDir}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`)
  }
  if (options.promFile && backups.length) {
    const { writeBackupTextfile } = await import('../metrics/fleet.ts')
    try {
      const written = await writeBackupTextfile(options.promFile, backups, options.clmntVersion)
      if (written.warning) report.warnings.push(written.warning)
    } catch (error) {
      report.problems.push(`cannot write the metrics file ${options.promFile}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`)
    }
  }
  return report
}
