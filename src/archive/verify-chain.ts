import { basename } from 'node:path'
import { InputError } from '../lib/errors.ts'
import { resolveChain } from './chain.ts'
import { verifyArchive, type VerifyReport } from './verify.ts'

/**
 * `fleet verify` of any archive: the archive itself, and for an incremental one its whole chain —
 * every parent found under its name, unchanged (size and manifest sha256 as recorded), and each
 * one verified as restore would read it. A missing or changed parent is one problem line; a
 * problem of a parent is the incremental's problem too (restore reads the chain).
 */
export interface ChainReport extends VerifyReport {
  /** the parents verified, the full archive first (empty for a full archive) */
  chain: { path: string; ok: boolean; verified: number }[]
}

export async function verifyWithChain(path: string): Promise<ChainReport> {
  const report: ChainReport = { ...(await verifyArchive(path)), chain: [] }
  if (report.manifest?.kind !== 'incremental') return report
  let parents: string[]
  try {
    parents = (await resolveChain(path)).archives.slice(0, -1).map((a) => a.path)
  } catch (error) {
    if (!(error instanceof InputError)) throw error
    report.problems.push(error.message)
    report.ok = false
    return report
  }
  for (const parent of parents) {
    const r = await verifyArchive(parent)
    report.chain.push({ path: parent, ok: r.ok, verified: r.verified })
    for (const problem of r.problems) report.problems.push(`${basename(parent)} (in its chain): ${problem}`)
    report.verified += r.verified
  }
  report.ok = report.problems.length === 0
  return report
}
