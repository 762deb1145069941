import { defineCommand } from 'citty'
import { resolve } from 'node:path'
import { formatBytes } from '../../archive/format.ts'
import { chainGap, defaultBackupDir, isGoodListing, listBackups, type BackupListing } from '../../archive/list.ts'
import { UsageError } from '../../lib/errors.ts'
import { renderTable } from '../../lib/table.ts'
import type { RunData } from '../../runner.ts'
import { jsonArg, printJson } from '../_shared.ts'

export default defineCommand({
  meta: { name: 'list-backups', description: 'List fleet archives, newest first (reads only the first member of each)' },
  args: {
    'backup-dir': { type: 'string', valueHint: 'dir', description: 'folder to list (default: <base-dir>/backups)' },
    from: { type: 'string', valueHint: 's3://bucket/prefix', description: 'list the archives in an S3-compatible store instead (ok only with a completion marker)' },
    ...jsonArg,
  },
  async run({ args, data }) {
    const cli: RunData = data
    if (args.from !== undefined && args['backup-dir'] !== undefined) throw new UsageError('give --backup-dir or --from, not both')
    const remote = args.from === undefined ? null : (await import('../../offsite/remote.ts')).openRemoteUrl(args.from, '--from', { baseDir: cli.baseDir().dir, warn: (w) => cli.log.warn(w) })
    const dir = remote ? remote.url() : args['backup-dir'] === undefined ? defaultBackupDir(cli.baseDir().dir) : resolve(args['backup-dir'])
    const listings = remote ? await (await import('../../offsite/list.ts')).listRemoteBackups(remote) : await listBackups(dir)
    if (args.json) {
      printJson(cli, listings.map(({ sort_ms: _, mtime_ms: __, ...rest }) => rest))
      return 0
    }
    if (!listings.length) {
      cli.log.info(`no archives in ${dir}`)
      return 0
    }
    cli.stdout(renderTable(['FILE', 'CREATED', 'SIZE', 'MOLTS', 'HOST', 'VERSION', 'KIND', 'STATUS'], listings.map((l) => row(l, cli.color))))
    for (const l of listings) {
      if (l.reason && l.status !== 'incomplete') cli.log.warn(`${l.file}: ${l.reason}`)
      // restore would refuse it: say so here, where the chain is seen whole
      const gap = isGoodListing(l) ? chainGap(l, listings, dir) : null
      if (gap) cli.log.warn(`${l.file}: ${gap}`)
    }
    return 0
  },
})

function row(l: BackupListing, color: boolean): string[] {
  const paint = (code: number, text: string) => (color ? `\x1b[${code}m${text}\x1b[39m` : text)
  const status = l.status === 'ok' ? paint(32, 'ok') : l.status === 'legacy' ? paint(33, 'legacy (no checksums)') : paint(31, l.status)
  return [l.file, l.created ?? '-', formatBytes(l.size_bytes), l.molts ? String(l.molts.length) : '-', l.hostname ?? '-', l.clmnt_version ?? (l.format_version ? `v${l.format_version}` : '-'), kindText(l), status]
}

/** "full", or "incr. of <parent>": the chain reads from the bottom up */
function kindText(l: BackupListing): string {
  if (l.kind === 'incremental') return `incr. of ${l.parent}`
  return l.kind ?? '-'
}
