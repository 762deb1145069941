import { basename } from 'node:path'
import { InputError } from '../lib/errors.ts'
import { checkCarried, type ListedParent } from './chain-carried.ts'
import { resolveChain } from './chain.ts'
import { verifyArchive, type VerifyReport } from './verify.ts'

/**
 * `fleet verify` of any archive: the archive itself, and for an incremental one its whole chain —
 * every parent found under its name, unchanged (size and manifest sha256 as recorded), each one
 * verified as restore would read it, and what the archive left to its chain being the content it
 * recorded, where the chain holds it (chain-carried.ts). A missing or changed parent is one
 * problem line; a problem of a parent is the incremental's problem too (restore reads the chain);
 * a carried file the chain does not give back is a problem of its molt.
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
  // each parent's checksum list, kept (on disk) from its verify for the comparison after them all
  const lists: ListedParent[] = []
  try {
    for (const parent of parents) {
      const listed: ListedParent = { path: parent, checksums: null, regions: null, holes: false }
      lists.push(listed)
      const r = await verifyArchive(parent, { keepChecksums: (list, regions, holes) => Object.assign(listed, { checksums: list, regions, holes }) })
      report.chain.push({ path: parent, ok: r.ok, verified: r.verified })
      for (const problem of r.problems) report.problems.push(`${basename(parent)} (in its chain): ${problem}`)
      report.verified += r.verified
    }
    for (const problem of await checkCarried(path, lists)) {
      report.problems.push(problem.text)
      for (const molt of report.molts) {
        if (problem.molt !== null && problem.molt !== molt.name) continue
        molt.ok = false
        if (problem.molt !== null) molt.problems.push(problem.text)
      }
    }
  } finally {
    for (const listed of lists) listed.checksums?.close()
  }
  report.ok = report.problems.length === 0
  return report
}
