import { defineCommand } from 'citty'
import { basename, resolve } from 'node:path'
import { formatBytes, formatCount } from '../../archive/format.ts'
import { defaultBackupDir, latestBackup } from '../../archive/list.ts'
import { verifyWithChain } from '../../archive/verify-chain.ts'
import { ClmntError } from '../../lib/errors.ts'
import type { RunData } from '../../runner.ts'
import { jsonArg, printJson } from '../_shared.ts'

export default defineCommand({
  meta: { name: 'verify', description: 'Check an archive end to end: compression, tar structure, every sha256, manifest vs content, member safety' },
  args: {
    archive: { type: 'positional', required: true, description: "archive file, or 'latest' (newest in <base-dir>/backups)" },
    ...jsonArg,
  },
  async run({ args, data }) {
    const cli: RunData = data
    let path: string
    if (args.archive === 'latest') {
      const dir = defaultBackupDir(cli.baseDir().dir)
      const latest = await latestBackup(dir)
      if (!latest) throw new ClmntError(`no finished archive in ${dir}`, 1)
      path = latest.path
    } else path = resolve(args.archive)
    const report = await verifyWithChain(path)
    if (args.json) {
      printJson(cli, { ...report, manifest: report.manifest ? { version: report.manifest.version, timestamp: report.manifest.timestamp, molts: report.manifest.molts.map((m) => m.name) } : null })
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
  },
})
