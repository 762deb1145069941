import { hostname } from 'node:os'
import { defineCommand } from 'citty'
import { statSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { backupFleet, UnreadableFilesError, type BackupResult } from '../../archive/backup.ts'
import type { Compression } from '../../archive/compress.ts'
import { formatBytes, formatCount, progressPrinter } from '../../archive/format.ts'
import { discoverFleet } from '../../fleet/discover.ts'
import { ClmntError, UsageError } from '../../lib/errors.ts'
import { intOption } from '../../lib/numbers.ts'
import { isTerminal } from '../../lib/stdio.ts'
import { requireDuration } from '../../lib/duration.ts'
import { renderTable } from '../../lib/table.ts'
import type { RunData } from '../../runner.ts'
import { VERSION } from '../../runner.ts'
import type { Remote } from '../../offsite/remote.ts'
import type { ShipReport } from '../../offsite/ship.ts'
import { jsonArg, listArg, printJson } from '../_shared.ts'

/** Notes printed one per line; the rest are counted (all of them are in the archive's checksums.sha256). */
const SHOWN_NOTES = 20

export default defineCommand({
  meta: { name: 'backup', description: 'Back up every molt (or --select) into one streamed, checksummed .tar.gz' },
  args: {
    output: { type: 'string', alias: 'o', valueHint: 'file|dir', description: 'archive file (never overwritten) or folder (default: <base-dir>/backups)' },
    select: { type: 'string', repeatable: true, valueHint: 'a,b', description: 'only these molts (comma-separated or repeated)' },
    'exclude-maildir': { type: 'boolean', description: 'leave Maildir/ out' },
    'exclude-logs': { type: 'boolean', description: 'leave *.log and *.log.N files out' },
    'compress-level': { type: 'string', valueHint: '1-9', description: 'compression level (default: 2 for gzip, 3 for zstd)' },
    compression: { type: 'enum', options: ['gzip', 'zstd'], default: 'gzip', description: 'gzip (.tar.gz) or zstd (.tar.zst)' },
    'allow-partial': { type: 'boolean', description: 'write the archive even when some files cannot be read (listed in it; exit 1 anyway)' },
    incremental: { type: 'boolean', description: 'only what changed since the last good archive of this fleet in that folder (a full one when there is none)' },
    'full-every': { type: 'string', valueHint: '7d', description: 'with --incremental: a full archive when the chain\'s full one is this old' },
    keep: { type: 'string', valueHint: 'n', description: 'after success, delete our oldest archives in that folder (and with --to, in the bucket) beyond the n newest (1-10000)' },
    to: { type: 'string', valueHint: 's3://bucket/prefix', description: 'also upload the archive to an S3-compatible store (endpoint and keys: AWS_* variables or "s3" in clmnt.json)' },
    'prom-file': { type: 'string', valueHint: 'file.prom', description: 'write the backup metrics there (node_exporter textfile collector)' },
    'dry-run': { type: 'boolean', description: 'list what would go in, with sizes; write nothing (with --schedule: show the change)' },
    schedule: { type: 'enum', options: ['hourly', 'daily', 'weekly', 'off'], description: 'do not back up now: schedule this backup (with these options) in your crontab or as a systemd timer; off removes it' },
    at: { type: 'string', valueHint: 'HH:MM', description: 'with --schedule: local time of the run (default 03:30; hourly uses the minutes)' },
    scheduler: { type: 'enum', options: ['cron', 'systemd'], default: 'cron', description: 'with --schedule: where the schedule lives' },
    ...jsonArg,
  },
  async run({ args, data }) {
    const cli: RunData = data
    const level = intOption(args['compress-level'], '--compress-level', { min: 1, max: 9 })
    const keep = intOption(args.keep, '--keep', { min: 1, max: 10_000 })
    const select = args.select === undefined ? undefined : listArg(args.select)
    if (select && !select.length) throw new UsageError('--select needs molt names (a,b)')
    if (args['full-every'] !== undefined && args.incremental !== true) throw new UsageError('--full-every only applies with --incremental')
    const fullEveryMs = args['full-every'] === undefined ? undefined : requireDuration(args['full-every'], '--full-every')
    if (args.schedule !== undefined) return (await import('./_backup-schedule.ts')).runBackupSchedule(cli, args)
    if (args.at !== undefined) throw new UsageError('--at only applies with --schedule')
    const { dir } = cli.baseDir()
    // an archive of nothing would pass for a backup (and reset the "last backup" alert): refuse
    if (!select && !discoverFleet(dir).molts.length) throw new ClmntError(`no molts in ${dir}: nothing to back up (is -d/--base-dir the fleet's folder?)`)
    const promFile = args['prom-file'] === undefined ? undefined : resolve(args['prom-file'])
    if (promFile) {
      const { promFileProblem } = await import('../../metrics/textfile.ts')
      const problem = promFileProblem(promFile)
      if (problem) throw new UsageError(`invalid --prom-file: ${problem}`)
    }
    // settings and access are checked before the backup: a typo should cost a second, not an hour
    const remote = args.to === undefined ? null : await openStore(cli, args.to, dir)
    const tty = !cli.globals.quiet && !args.json && !args['dry-run'] && isTerminal(2)
    const progress = tty ? progressPrinter((text) => process.stderr.write(text)) : null
    const controller = new AbortController()
    const stop = () => controller.abort()
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
    let result: BackupResult
    let shipped: ShipReport | null = null
    try {
      result = await backupFleet(
        {
          baseDir: dir,
          output: args.output === undefined ? undefined : resolve(args.output) + (args.output.endsWith('/') ? '/' : ''),
          select,
          excludeMaildir: args['exclude-maildir'] === true,
          excludeLogs: args['exclude-logs'] === true,
          allowPartial: args['allow-partial'] === true,
          dryRun: args['dry-run'] === true,
          compression: args.compression as Compression,
          level,
          keep,
          clmntVersion: VERSION,
          incremental: args.incremental === true,
          fullEveryMs,
        },
        {
          onProgress: progress ? (p) => progress.update(p) : undefined,
          signal: controller.signal,
          onArchived: async (archived) => {
            progress?.clear()
            if (remote && tty) cli.log.info(`uploading ${archived.path} to ${remote.url()} …`)
            const { shipArchive } = await import('../../offsite/ship.ts')
            const upload = tty && remote ? uploadPrinter() : null
            shipped = await shipArchive(archived, { baseDir: dir, remote, keep, promFile, clmntVersion: VERSION, signal: controller.signal, onUploadProgress: upload?.update })
            upload?.clear()
          },
        },
      )
    } catch (error) {
      progress?.clear()
      if (error instanceof UnreadableFilesError) for (const u of error.unreadable) cli.log.error(`cannot read ${u.path}: ${u.reason}`)
      throw error
    } finally {
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
    }
    progress?.clear()
    for (const warning of result.warnings) cli.log.warn(warning)
    if (result.incremental?.full_reason) cli.log.warn(`--incremental: ${result.incremental.full_reason}: taking a full backup`)

    if (result.dryRun) {
      if (args.incremental === true) cli.log.info('--incremental: the dry run shows the whole fleet; what changed since the parent is decided when the backup runs')
      const wouldDelete = keep === undefined ? [] : await wouldPrune(dir, args.output, keep)
      if (args.json) printJson(cli, { dry_run: true, manifest: result.manifest, notes: result.notes, to: remote?.url() ?? null, would_delete: wouldDelete })
      else {
        cli.stdout(renderPlan(result) + (remote ? `would upload to ${remote.url()} (reachable with these settings)\n` : ''))
        for (const path of wouldDelete) cli.stdout(`--keep ${keep}: would delete ${path}\n`)
      }
      return 0
    }
    const ship = shipped as ShipReport | null
    const shown = result.notes.filter((n) => n.kind !== 'unreadable').slice(0, SHOWN_NOTES)
    for (const note of shown) cli.log.warn(`${note.path}: ${note.detail}`)
    const hidden = result.notes.length - shown.length - result.unreadable.length
    if (hidden > 0) cli.log.warn(`… and ${hidden} more notes, all listed at the end of checksums.sha256 in the archive`)
    for (const path of result.pruned) cli.log.info(`--keep ${keep}: deleted ${path}`)
    for (const url of ship?.prune?.deleted ?? []) cli.log.info(`--keep ${keep}: deleted ${url}`)
    for (const url of ship?.prune?.cleared ?? []) cli.log.info(`deleted ${url}, an upload that never finished`)
    for (const warning of ship?.warnings ?? []) cli.log.warn(warning)

    if (args.json) printJson(cli, { ...summaryJson(result), offsite: offsiteJson(ship) })
    else if (!cli.globals.quiet) cli.stdout(renderSummary(result) + renderUpload(ship))
    for (const problem of ship?.problems ?? []) cli.log.error(problem)
    if (result.partial) {
      for (const u of result.unreadable) cli.log.error(`not archived (cannot read): ${u.path}: ${u.reason}`)
      cli.log.error(`partial backup: ${result.unreadable.length} file(s) could not be read and are missing from ${result.path} (recorded in its checksums.sha256)`)
      return 1
    }
    return ship?.problems.length ? 1 : 0
  },
})

async function openStore(cli: RunData, to: string, baseDir: string): Promise<Remote> {
  const { openRemoteUrl } = await import('../../offsite/remote.ts')
  const remote = openRemoteUrl(to, '--to', { baseDir, warn: (w) => cli.log.warn(w) })
  cli.log.debug(`S3 endpoint: ${remote.settings.endpoint ?? `AWS (${remote.settings.region})`} (${remote.settings.source.endpoint}), credentials from ${remote.settings.source.credentials}`)
  try {
    await remote.check()
  } catch (error) {
    throw new ClmntError(`${(error as Error).message}; nothing was backed up`, 1, { cause: error })
  }
  return remote
}

function offsiteJson(ship: ShipReport | null) {
  if (!ship || (!ship.upload && !ship.uploadError)) return null
  const u = ship.upload
  return {
    url: u?.url ?? null,
    size_bytes: u?.sizeBytes ?? null,
    sha256: u?.sha256 ?? null,
    duration_ms: u ? Math.round(u.durationMs) : null,
    method: u?.method ?? null,
    error: ship.uploadError,
    parents_uploaded: ship.parentUploads.map((p) => p.url),
    pruned: ship.prune?.deleted ?? [],
  }
}

function renderUpload(ship: ShipReport | null): string {
  const u = ship?.upload
  if (!u) return ''
  const parents = ship!.parentUploads.map((p) => `  uploaded: ${p.url} (${formatBytes(p.sizeBytes)}; a parent the bucket lacked)\n`).join('')
  return `${parents}  uploaded: ${u.url} (${formatBytes(u.sizeBytes)} in ${(u.durationMs / 1000).toFixed(1)} s; size verified, completion marker written)\n`
}

/** Upload progress on a terminal: one line rewritten at most 4 times a second. */
function uploadPrinter(): { update(sent: number, total: number): void; clear(): void } {
  let last = 0
  let shown = false
  return {
    update(sent, total) {
      const now = performance.now()
      if (now - last < 250) return
      last = now
      shown = true
      process.stderr.write(`\r\x1b[Kuploading ${total ? Math.floor((sent / total) * 100) : 100}%  ${formatBytes(sent)} / ${formatBytes(total)}`)
    },
    clear() {
      if (shown) process.stderr.write('\r\x1b[K')
      shown = false
    },
  }
}

function summaryJson(r: BackupResult) {
  return {
    path: r.path,
    molts: r.manifest.molts.map((m) => m.name),
    files: r.files,
    bytes_in: r.bytesIn,
    bytes_out: r.bytesOut,
    ratio: r.bytesIn ? r.bytesOut / r.bytesIn : null,
    duration_ms: Math.round(r.durationMs),
    partial: r.partial,
    unreadable: r.unreadable,
    notes: r.notes,
    pruned: r.pruned,
    warnings: r.warnings,
    timestamp: r.manifest.timestamp,
    kind: r.manifest.kind,
    parent: r.manifest.parent?.file ?? null,
    incremental: r.incremental,
  }
}

function renderSummary(r: BackupResult): string {
  const molts = r.manifest.molts.map((m) => m.name)
  const ratio = r.bytesIn ? ` (${((r.bytesOut / r.bytesIn) * 100).toFixed(0)}%)` : ''
  return [
    `backup written: ${r.path}`,
    `  molts: ${molts.length}${molts.length ? ` (${molts.join(', ')})` : ''}`,
    `  files: ${formatCount(r.files)}, ${formatBytes(r.bytesIn)} → ${formatBytes(r.bytesOut)}${ratio}, in ${(r.durationMs / 1000).toFixed(1)} s`,
    ...chainLines(r),
    '',
  ].join('\n')
}

function chainLines(r: BackupResult): string[] {
  const inc = r.incremental
  if (!inc) return []
  if (!inc.parent) return [`  kind: full (no usable parent: ${inc.full_reason})`]
  return [
    `  kind: incremental, parent ${inc.parent} (${inc.depth} archive(s) before it in its chain, starting with ${r.manifest.chain?.full})`,
    `  unchanged: ${formatCount(inc.carried_files)} files, ${formatBytes(inc.carried_bytes)} left to the chain${inc.confirmed_files ? ` (${formatCount(inc.confirmed_files)} of them touched, their content confirmed by sha256)` : ''}; deleted since the parent: ${formatCount(inc.deleted)}`,
  ]
}

/** What --keep would delete once the new archive is there (the same rule as a real run; local only). */
async function wouldPrune(baseDir: string, output: string | undefined, keep: number): Promise<string[]> {
  const { archivesToPrune, defaultBackupDir, listBackups } = await import('../../archive/list.ts')
  let dir = defaultBackupDir(baseDir)
  if (output !== undefined) dir = output.endsWith('/') || isDirectory(resolve(output)) ? resolve(output) : dirname(resolve(output))
  return archivesToPrune(await listBackups(dir), { keep, hostname: hostname(), baseDir, justWritten: '' }).map((l) => l.path)
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory()
  } catch {
    return false
  }
}

function renderPlan(r: BackupResult): string {
  const rows: string[][] = []
  for (const molt of r.manifest.molts) {
    const stats = Object.entries(molt.component_stats)
    rows.push([molt.name, molt.user ?? '-', '(all)', formatCount(molt.files ?? 0), formatBytes(molt.backup_size_bytes ?? 0)])
    for (const [component, s] of stats) rows.push(['', '', component, formatCount(s.files), formatBytes(s.bytes)])
  }
  const out = [renderTable(['MOLT', 'USER', 'COMPONENT', 'FILES', 'SIZE'], rows)]
  const global = r.manifest.global_files.length ? `, plus ${r.manifest.layout.global}/: ${r.manifest.global_files.join(', ')}` : ''
  out.push(`dry run: ${r.manifest.molts.length} molts, ${formatCount(r.manifest.total_files ?? 0)} files, ${formatBytes(r.manifest.total_size_bytes ?? 0)}${global}; nothing written\n`)
  for (const note of r.notes) out.push(`  note: ${note.path}: ${note.detail}\n`)
  return out.join('')
}
