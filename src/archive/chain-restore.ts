import { chmodSync, lstatSync, mkdirSync, utimesSync, type BigIntStats, type PathLike } from 'node:fs'
import { basename, join } from 'node:path'
import { pathIn, shownName } from './byte-names.ts'
import { notInChain, otherContent, takenFromChain } from './chain-carried.ts'
import { readFront, type ArchiveFront } from './chain.ts'
import { collectNow } from './collect.ts'
import { componentOf, type Component } from './layout.ts'
import { checkStaged } from './restore-check.ts'
import { extractArchive, release, RestoreRefused, type Extracted, type MoltTally } from './restore-extract.ts'
import { removeTree, renameNoReplace } from './restore-fs.ts'
import { blocking } from './verify.ts'

/**
 * `restore --from <incremental>`: the state at that archive, from its chain. The incremental
 * archive itself went through the usual pipeline into staging (it holds every folder, symlink,
 * the crontab and what changed). The files it left to its chain (state.jsonl, held 0) come from
 * the newest earlier archive that holds them: each archive of the chain, newest first, is read
 * and checked exactly as a restore reads one (extractArchive, checkStaged: checksums, index,
 * manifest) into its own folder of the staging area, and the files still missing are moved from
 * there into the staged molt. What the chain deleted is in no later state, so it never comes
 * back. A file no archive of the chain holds refuses the restore. Only then does the usual
 * per-molt exchange run.
 */
export interface ChainFill {
  /** the incremental archive restored */
  archive: string
  /** its parents, the full archive first (resolveChain without the last one) */
  parents: ArchiveFront[]
  /** staged folder of each restored molt */
  stages: Map<string, string>
  /** the target's extraction: its tallies count the files moved in */
  extracted: Extracted
  only: ReadonlySet<Component> | null
  stagingDir: string
  diskBudget: number
  signal?: AbortSignal
  info(line: string): void
}

export async function fillFromChain(spec: ChainFill): Promise<{ moved: number; read: string[]; verified: number }> {
  // what the restored molts need from the chain
  // path → the mode and mtime the state gives it (a file whose content the backup confirmed
  // unchanged, touched or chmod-ed, is left to the chain with its new metadata: incremental.ts)
  // and the sha256 of the content it recorded ('' in archives made before it did)
  const wanted = new Map<string, Map<string, Recorded>>([...spec.stages.keys()].map((m) => [m, new Map()]))
  const taken = takenFromChain(new Set(spec.stages.keys()), spec.only)
  let left = 0
  await readFront(spec.archive, (e) => {
    if (e.held || e.kind !== 'f' || !taken(e.molt, e.rel)) return
    // as the member log keeps digests: 32 latin1 characters, compared without conversion
    wanted.get(e.molt)!.set(e.rel, { mode: e.mode, mtime: e.mtime, sha256: e.sha256 && Buffer.from(e.sha256, 'hex').toString('latin1') })
    left++
  })
  let moved = 0
  let verified = 0
  const read: string[] = []
  for (let i = spec.parents.length - 1; i >= 0 && left > 0; i--) {
    const parent = spec.parents[i]!
    const names = new Set(parent.manifest.molts.map((m) => m.name))
    const molts = [...wanted.keys()].filter((m) => names.has(m) && wanted.get(m)!.size > 0)
    if (!molts.length) continue
    const dir = join(spec.stagingDir, `chain-${i}`)
    mkdirSync(dir, { mode: 0o700 })
    try {
      const homes = new Map(molts.map((m) => [m, join(dir, m)]))
      spec.info(`reading ${basename(parent.path)} (${parent.manifest.kind}) for ${left} file(s) unchanged since it`)
      const extracted = await extractArchive({ archive: parent.path, compression: parent.compression, manifest: parent.manifest, legacy: parent.legacy, molts: homes, only: spec.only, diskBudget: spec.diskBudget, failFast: true, scratchDir: dir, collectFully: true, signal: spec.signal })
      try {
        const check = checkStaged({ manifest: parent.manifest, legacy: parent.legacy, extracted, molts, only: spec.only, scratchDir: dir })
        const problems = blocking(check.problems, molts).map((p) => `${basename(parent.path)} (in the chain): ${p.text}`)
        if (problems.length) throw new RestoreRefused(problems[0]!, problems)
        verified += check.verified
        sameAsRecorded(extracted, wanted, parent.path, spec.archive)
      } finally {
        release(extracted)
      }
      read.push(parent.path)
      for (const molt of molts) {
        const set = wanted.get(molt)!
        const tally = spec.extracted.molts.get(molt)!
        const from = homes.get(molt)!
        const to = spec.stages.get(molt)!
        for (const [rel, meta] of [...set]) {
          const source = pathIn(from, rel)
          let size: number
          let st: BigIntStats
          try {
            st = lstatSync(source, { bigint: true })
            if (!st.isFile()) continue
            size = Number(st.size)
          } catch {
            continue
          }
          giveMeta(source, st, meta)
          ensureFolders(tally, to, rel)
          // staging is ours alone: a path taken there means the incremental archive holds it too (one
          // system call that never replaces, not a look then a rename)
          try {
            renameNoReplace(source, pathIn(to, rel))
          } catch (error) {
            if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
            throw new RestoreRefused(`${shownName(`${molt}/${rel}`)}: left to the chain by ${basename(spec.archive)}, yet that archive holds something at that path`)
          }
          set.delete(rel)
          left--
          moved++
          tally.files++
          tally.bytes += size
          const component = componentOf(rel, false) ?? 'other'
          const c = tally.byComponent.get(component) ?? { files: 0, bytes: 0 }
          c.files++
          c.bytes += size
          tally.byComponent.set(component, c)
        }
      }
    } finally {
      removeTree(dir)
    }
  }
  for (const [molt, set] of wanted) {
    if (set.size) throw new RestoreRefused(notInChain(`${molt}/${[...set.keys()][0]!}`, set.size))
  }
  return { moved, read, verified }
}

interface Recorded {
  mode: number
  mtime: string
  /** sha256 as 32 latin1 characters (the member log's form); '' when not recorded */
  sha256: string
}

/**
 * What an earlier archive holds for a file left to the chain is the content the restored archive
 * recorded for it (state.jsonl's sha256): the chain's own checks (name, size, manifest sha256 of
 * each parent) cannot tell an archive with the same manifest but other content. Files are taken
 * from the newest archive that holds them, so only those still wanted are compared.
 */
function sameAsRecorded(extracted: Extracted, wanted: Map<string, Map<string, Recorded>>, from: string, archive: string): void {
  for (const member of extracted.log.members()) {
    // what the walk leaves behind is collected as it goes: the peak of a chain restore is here
    collectNow()
    if (!member.file?.digest) continue
    const slash = member.key.indexOf('/')
    const recorded = wanted.get(member.key.slice(0, slash))?.get(member.key.slice(slash + 1))
    if (!recorded?.sha256 || member.file.digest === recorded.sha256) continue
    throw new RestoreRefused(otherContent(member.key, from, archive, member.file.digest, recorded.sha256))
  }
}

/** The state's mode and mtime, where the archive that holds the content says otherwise. */
function giveMeta(path: PathLike, st: BigIntStats, meta: Recorded): void {
  if (Number(st.mode & 0o7777n) !== meta.mode) chmodSync(path, meta.mode)
  const [sec, nsec] = meta.mtime.split('.') as [string, string]
  // extraction set the time from seconds as a float (below a microsecond off): closer than that is the same time
  const off = st.mtimeNs - (BigInt(sec) * 1_000_000_000n + (sec.startsWith('-') ? -1n : 1n) * BigInt(nsec))
  if (off > 1000n || off < -1000n) {
    utimesSync(path, Number(st.atimeNs / 1_000_000n) / 1000, Number(sec) + Number(nsec) / 1e9)
  }
}

/**
 * The folders on the way to a file moved in: with --only, a container such as .openclaw that the
 * incremental archive did not need gets its archived mode and time (as extraction gives it), a
 * folder of no member the usual 0755.
 */
function ensureFolders(tally: MoltTally, stage: string, rel: string): void {
  for (let i = rel.indexOf('/'); i > 0; i = rel.indexOf('/', i + 1)) {
    const dir = rel.slice(0, i)
    if (tally.dirsMade.has(dir)) continue
    try {
      mkdirSync(pathIn(stage, dir), { mode: 0o700 })
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
    }
    tally.dirsMade.add(dir)
    const container = tally.containers.get(dir)
    if (container) tally.deferred.push(container)
    else tally.implicit.set(dir, { rel: dir, mode: 0o755, mtime: Date.now() / 1000 })
  }
}
