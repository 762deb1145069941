import { basename } from 'node:path'
import { formatBytes, formatCount } from '../archive/format.ts'
import { defaultBackupDir } from '../archive/list.ts'
import { resolveChain } from '../archive/chain.ts'
import { verifyWithChain } from '../archive/verify-chain.ts'
import { InputError } from '../lib/errors.ts'
import { formatAgo } from '../lib/duration.ts'
import type { DoctorContext } from './context.ts'
import { fail, ok, skip, warn, type Finding } from './types.ts'

/** Older than this, the newest good archive is worth a warning: a weekly backup still passes. */
export const BACKUP_MAX_AGE_MS = 8 * 86_400_000

export async function backupChecks(ctx: DoctorContext): Promise<Finding[]> {
  if (!ctx.baseDir) return [skip('backups.latest', 'newest archive', 'no base dir')]
  const dir = defaultBackupDir(ctx.baseDir.dir)
  if (ctx.backupsError) return [fail('backups.latest', 'newest archive', `cannot list ${dir}: ${ctx.backupsError}`, `make ${dir} readable`)]
  const good = ctx.backups.find((b) => b.status === 'ok' || b.status === 'legacy')
  if (!good) {
    const bad = ctx.backups.filter((b) => b.status !== 'incomplete')
    // archives that all fail to read are worse than none: they look like backups
    const latest = bad.length
      ? fail('backups.latest', 'newest archive', `no good archive in ${dir}: ${bad.length} unreadable, newest ${bad[0]!.file} (${bad[0]!.reason ?? bad[0]!.status})`, 'make a new one now: clmnt fleet backup')
      : warn('backups.latest', 'newest archive', `no archive in ${dir}`, 'make one: clmnt fleet backup')
    return [latest, skip('backups.verify', 'verify', 'no archive')]
  }
  const created = Date.parse(good.created ?? '') || good.mtime_ms
  // an incremental archive is only as good as its chain: the links (each parent there, unchanged) cost a head read each
  const chain = good.kind === 'incremental' ? await chainLinks(good.path) : null
  const kind = !chain ? '' : 'broken' in chain ? ', incremental' : `, incremental (chain of ${chain.length}, from ${chain.full})`
  const said = `${good.file}, ${formatAgo(created, ctx.now)}, ${formatBytes(good.size_bytes)}, ${good.molts?.length ?? '?'} molt(s)${good.status === 'legacy' ? ', bash toolkit format' : ''}${kind}`
  const newest = ctx.backups.find((b) => b.status !== 'incomplete')
  const findings: Finding[] = []
  if (chain && 'broken' in chain) {
    findings.push(fail('backups.latest', 'newest archive', `${said}; ${chain.broken}`, 'restore would refuse it: make a full backup now (clmnt fleet backup)'))
    findings.push(skip('backups.verify', 'verify', 'its chain is broken (see the newest archive)'))
    return findings
  }
  if (newest && newest !== good) findings.push(warn('backups.latest', 'newest archive', `${said}; but a newer one is ${newest.status}: ${newest.file} (${newest.reason ?? ''})`, `check it: clmnt fleet verify ${newest.path}`))
  else if (ctx.now - created > BACKUP_MAX_AGE_MS) findings.push(warn('backups.latest', 'newest archive', `${said}: old`, 'make a fresh one: clmnt fleet backup (and schedule it)'))
  else findings.push(ok('backups.latest', 'newest archive', said))
  if (!ctx.verifyLatest) {
    findings.push(skip('backups.verify', 'verify', 'not asked (--verify-latest reads the whole archive)'))
    return findings
  }
  // what restore reads: the archive and, for an incremental one, every earlier archive of its chain
  const report = await verifyWithChain(good.path)
  const chained = report.chain.length ? `; its chain of ${report.chain.length} earlier archive(s) too` : ''
  if (!report.ok) findings.push(fail('backups.verify', 'verify', `${good.file}: ${report.problems.length} problem(s), first: ${report.problems[0] ?? '?'}`, 'do not rely on it: make a new backup and verify that'))
  else findings.push(ok('backups.verify', 'verify', `${good.file}: ${formatCount(report.files)} files, ${report.legacy ? 'structure only (no checksums)' : `${formatCount(report.verified)} sha256 verified`}${chained}`))
  return findings
}

/** The chain of an incremental archive from the heads of its archives, or the one line saying where it breaks. */
async function chainLinks(path: string): Promise<{ length: number; full: string } | { broken: string }> {
  try {
    const { archives } = await resolveChain(path)
    return { length: archives.length, full: basename(archives[0]!.path) }
  } catch (error) {
    if (error instanceof InputError) return { broken: error.message }
    throw error
  }
}
