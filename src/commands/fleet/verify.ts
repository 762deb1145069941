import { defineCommand } from 'citty'
import { basename, dirname, resolve } from 'node:path'
import { formatBytes, formatCount } from '../../archive/format.ts'
import { defaultBackupDir, latestBackup } from '../../archive/list.ts'
import { verifyWithChain, type ChainReport } from '../../archive/verify-chain.ts'
import { ClmntError } from '../../lib/errors.ts'
import type { RunData } from '../../runner.ts'
import { jsonArg, printJson } from '../_shared.ts'

export default defineCommand({
  meta: { name: 'verify', description: 'Check an archive end to end: compression, tar structure, every sha256, manifest vs content, member safety' },
  args: {
    archive: { type: 'positional', required: true, description: "archive file, 'latest' (newest in <base-dir>/backups), or s3://bucket/prefix/<archive>|latest" },
    ...jsonArg,
  },
  async run({ args, data }) {
    const cli: RunData = data
    if (args.archive.startsWith('s3://')) return verifyRemote(cli, args.archive, args.json === true)
    let path: string
    if (args.archive === 'latest') {
      const dir = defaultBackupDir(cli.baseDir().dir)
      const latest = await latestBackup(dir)
      if (!latest) throw new ClmntError(`no finished archive in ${dir}`, 1)
      path = latest.path
    } else path = resolve(args.archive)
    return render(cli, await verifyWithChain(path), args.json === true, (p) => p)
  },
})

/**
 * An archive in a bucket, with its chain: downloaded into a private temp folder in the base dir
 * (each archive checked against its completion marker), verified there as a local one is, shown
 * by its s3:// URL, and removed whatever happens (Ctrl-C too). A parent missing, unfinished or
 * replaced in the bucket, or an archive that does not match its marker, is the verdict: exit 1.
 */
async function verifyRemote(cli: RunData, url: string, json: boolean): Promise<number> {
  const { downloadArchive, BrokenRemoteChain, MarkerMismatch } = await import('../../offsite/download.ts')
  const dir = cli.baseDir().dir
  const controller = new AbortController()
  const stop = () => controller.abort()
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  let download: Awaited<ReturnType<typeof downloadArchive>> | null = null
  try {
    try {
      download = await downloadArchive(url, dir, { baseDir: dir, warn: (w) => cli.log.warn(w), signal: controller.signal })
    } catch (error) {
      if (!(error instanceof BrokenRemoteChain || error instanceof MarkerMismatch)) throw error
      // the verdict, in the shape of any other report
      const report: ChainReport = { path: url, ok: false, legacy: false, compression: null, manifest: null, problems: [error.message], info: [], molts: [], files: 0, bytes: 0, verified: 0, notes: [], chain: [] }
      return render(cli, report, json, (p) => p)
    }
    const local = download
    const prefix = local.url.slice(0, local.url.length - local.archive.length)
    return render(cli, await verifyWithChain(local.path), json, (p) => (dirname(p) === dirname(local.path) ? prefix + basename(p) : p))
  } finally {
    process.off('SIGINT', stop)
    process.off('SIGTERM', stop)
    download?.cleanup()
  }
}

function render(cli: RunData, report: ChainReport, json: boolean, shown: (path: string) => string): number {
  const path = shown(report.path)
  if (json) {
    printJson(cli, { ...report, path, chain: report.chain.map((c) => ({ ...c, path: shown(c.path) })), manifest: report.manifest ? { version: report.manifest.version, timestamp: report.manifest.timestamp, molts: report.manifest.molts.map((m) => m.name) } : null })
    return report.ok ? 0 : 1
  }
  for (const line of report.problems) cli.stdout(`${path}: ${line}\n`)
  for (const line of report.info) cli.log.warn(line)
  if (!report.ok) {
    // what restore would do: a problem of one molt leaves the others restorable with --select
    const good = report.molts.filter((m) => m.ok).map((m) => m.name)
    if (good.length && good.length < report.molts.length) {
      const bad = report.molts.filter((m) => !m.ok).map((m) => m.name)
      cli.log.warn(`restore would refuse ${bad.join(', ')}; --select ${good.join(',')} restores the rest`)
    }
    cli.log.error(`${path}: ${report.problems.length} problem(s); do not rely on this archive`)
    return 1
  }
  const molts = report.manifest?.molts.length ?? 0
  const sums = report.legacy ? 'structure only' : `${formatCount(report.verified)} sha256 verified`
  const chain = report.chain.length ? `; its chain of ${report.chain.length} earlier archive(s) too, from ${basename(report.chain[0]!.path)}` : ''
  cli.stdout(`${path}: OK (${molts} molts, ${formatCount(report.files)} files, ${formatBytes(report.bytes)}, ${sums}${chain})\n`)
  return 0
}
