import { existsSync, statfsSync } from 'node:fs'
import { join } from 'node:path'
import type { RegistryEntry } from '../fleet/registry.ts'
import { writeFileAtomic } from '../lib/atomic.ts'
import { ClmntError, InputError } from '../lib/errors.ts'
import type { Lock } from '../lib/lock.ts'
import { clmntCommand, findTee } from '../schedule/job.ts'
import type { BackupProgress } from './backup.ts'
import { lockFleet } from './fleet-lock.ts'
import type { Component } from './layout.ts'
import { checkStaged } from './restore-check.ts'
import { fillFromChain } from './chain-restore.ts'
import { blocking } from './verify.ts'
import { extractArchive, release, RestoreRefused, type Extracted } from './restore-extract.ts'
import { DiskSync, inodeOf, removeTree } from './restore-fs.ts'
import { describeStale, finishCommitted, findStaleStaging, recoverStale, Staging } from './restore-journal.ts'
import { KeepFailure } from './restore-keep.ts'
import { commitMolt, MoltFailure, prepareMolt, type MoltContext } from './restore-molt.ts'
import { planRestore, restoringMolts, type RestoreOptions, type RestorePlan, type UserAction } from './restore-plan.ts'

/**
 * `fleet restore` once the plan is confirmed: lock, finish or undo a dead run, plan again, extract
 * into staging, check, then per molt prepare and exchange, then molts.json, crontabs and the
 * removal of the replaced homes. Live molts change only in the exchanges.
 */
export { planRestore, RestoreRefused, type RestoreOptions, type RestorePlan }

export interface RestoreHooks {
  info(line: string): void
  warn(line: string): void
  onProgress?(progress: BackupProgress): void
  signal?: AbortSignal
  /** tests: called right before a molt's home is exchanged */
  beforeExchange?(molt: string): void
}

export type Outcome = 'restored' | 'skipped' | 'refused' | 'failed'

export interface MoltResult {
  name: string
  outcome: Outcome
  reason: string | null
  user: UserAction | 'created' | null
  owner: string | null
  crontab: string | null
  /** files of the old home carried over (not in the backup) */
  kept_files: number
  old_home_kept: string | null
  warnings: string[]
}

export interface RestoreResult {
  archive: string
  ok: boolean
  molts: MoltResult[]
  /** sha256 checked against checksums.sha256 */
  verified: number
  files: number
  bytes: number
  durationMs: number
  warnings: string[]
  /** what dead runs were found and finished/undone */
  recovered: string[]
  fleet_config: string | null
  /** incremental archives: the earlier archives of its chain read for its unchanged files */
  chain: string[]
}

const RESERVE = 64 << 20

export async function executeRestore(confirmed: RestorePlan, options: RestoreOptions, hooks: RestoreHooks): Promise<RestoreResult> {
  const started = performance.now()
  if (confirmed.blockers.length) throw new InputError(confirmed.blockers[0]!)
  const baseDir = options.baseDir
  let lock: Lock | undefined = lockFleet(baseDir, 'fleet restore')
  try {
    const recovered: string[] = []
    for (const stale of findStaleStaging(baseDir)) {
      const text = describeStale(stale)
      hooks.warn(`an interrupted restore left ${text}; finishing or undoing it, then removing it`)
      const done = recoverStale(stale, baseDir, (line) => hooks.info(`  ${line}`))
      recovered.push(`${text}: restored ${done.restored.join(', ') || 'none'}, rolled back ${done.rolledBack.join(', ') || 'none'}`)
    }
    const plan = await planRestore(options, confirmed)
    const moved = plan.molts.filter((m) => confirmed.molts.find((c) => c.name === m.name)?.action !== m.action)
    if (moved.length) {
      const what = moved.map((m) => `${m.name}: ${confirmed.molts.find((c) => c.name === m.name)?.action ?? '?'} → ${m.action}`).join(', ')
      throw new ClmntError(`the fleet changed since the plan was shown (${what}); nothing restored: run again to see the new plan`, 1)
    }
    const restoring = restoringMolts(plan)
    if (!restoring.length) throw new ClmntError('nothing to restore: every selected molt is skipped or refused', 1)

    const need = restoring.reduce((sum, m) => sum + (m.bytes ?? 0), 0)
    const stats = statfsSync(baseDir)
    const free = Number(stats.bavail) * Number(stats.bsize)
    if (free < need + RESERVE) throw new ClmntError(`not enough space in ${baseDir}: the restore needs ${need} bytes and ${free} are free (${RESERVE >> 20} MiB kept in reserve)`, 1)

    const results = new Map<string, MoltResult>(plan.molts.map((m) => [m.name, {
      name: m.name,
      outcome: m.action === 'skip' ? 'skipped' : m.action === 'refused' ? 'refused' : 'failed',
      reason: m.action === 'skip' || m.action === 'refused' ? m.reason : null,
      user: m.action === 'new' || m.action === 'overwrite' ? m.user.action : null,
      owner: null,
      crontab: null,
      kept_files: 0,
      old_home_kept: null,
      warnings: [],
    }]))
    const only = plan.only ? new Set<Component>(plan.only) : null
    const umask = process.umask(0)
    let staging: Staging | undefined
    let disk: DiskSync | undefined
    let extracted: Extracted | undefined
    let verified = 0
    let fleetConfig: string | null = null
    let chainRead: string[] = []
    let chainVerified = 0
    try {
      staging = Staging.create(baseDir, plan.archive, plan.options.keepOld)
      const stagingDir = staging
      // before anything is written: a write-back error is then reported to it, whoever saw it first
      disk = new DiskSync(stagingDir.dir)
      const homes = new Map<string, string | null>(restoring.map((m) => [m.name, stagingDir.stage(m.name)]))
      const progress: BackupProgress = { filesDone: 0, filesTotal: restoring.reduce((s, m) => s + (m.files ?? 0), 0), bytesDone: 0, bytesTotal: need, bytesOut: 0, elapsedMs: 0 }
      extracted = await extractArchive({
        archive: plan.archive,
        compression: plan.compression,
        manifest: plan.manifest,
        legacy: plan.legacy,
        molts: homes,
        only,
        diskBudget: free - RESERVE,
        failFast: true,
        scratchDir: stagingDir.dir,
        signal: hooks.signal,
        onProgress: hooks.onProgress
          ? (p) => {
              progress.filesDone = p.files
              progress.bytesDone = p.bytes
              progress.elapsedMs = performance.now() - started
              hooks.onProgress!(progress)
            }
          : undefined,
      })
      const check = checkStaged({ manifest: plan.manifest, legacy: plan.legacy, extracted, molts: restoring.map((m) => m.name), only, scratchDir: stagingDir.dir })
      const problems = blocking(check.problems, restoring.map((m) => m.name)).map((p) => p.text)
      if (problems.length) throw new RestoreRefused(problems[0]!, problems)
      if (plan.chain.length) {
        const filled = await fillFromChain({ archive: plan.archive, parents: plan.chain, stages: new Map(restoring.map((m) => [m.name, stagingDir.stage(m.name)])), extracted, only, stagingDir: stagingDir.dir, diskBudget: free - RESERVE, signal: hooks.signal, info: hooks.info })
        chainRead = filled.read
        chainVerified = filled.verified
      }
      for (const note of extracted.notes) {
        if (note.molt === null) hooks.warn(note.text)
        else results.get(note.molt)?.warnings.push(note.text)
      }
      verified = check.verified + chainVerified

      staging.journal.phase = 'swapping'
      for (const m of restoring) staging.journal.molts[m.name] = { state: 'pending', target: m.target, existed: m.action === 'overwrite', new_ino: null, registry: {}, crontab: false, user: null }
      staging.save()
      let cronTools: ReturnType<MoltContext['cron']> | undefined
      const ctx: MoltContext = {
        baseDir,
        manifest: plan.manifest,
        legacy: plan.legacy,
        staging,
        disk,
        only,
        skipUsers: plan.options.skipUsers,
        skipCron: plan.options.skipCron,
        restoredAt: new Date().toISOString(),
        cron: () => (cronTools ??= cronCommandTools()),
        archivedRegistry: archivedRegistry(extracted),
      }
      for (const m of restoring) {
        const result = results.get(m.name)!
        if (hooks.signal?.aborted) {
          result.reason = 'interrupted before its turn'
          continue
        }
        try {
          const prepared = prepareMolt(ctx, m, extracted.molts.get(m.name)!)
          result.user = prepared.userCreated ? 'created' : m.user.action
          result.owner = prepared.owner?.name ?? null
          result.kept_files = prepared.kept
          result.warnings.push(...prepared.warnings)
          commitMolt(ctx, m, prepared, hooks.beforeExchange)
          result.outcome = 'restored'
        } catch (error) {
          const ino = staging.journal.molts[m.name]?.new_ino
          if (ino && inodeOf(m.target) === ino) {
            // the exchange happened: the molt is restored, only a step after it failed
            result.outcome = 'restored'
            result.warnings.push(`after the swap: ${(error as Error).message}`)
            continue
          }
          result.reason = error instanceof MoltFailure || error instanceof KeepFailure ? error.message : `${(error as NodeJS.ErrnoException).code ?? 'error'}: ${(error as Error).message}`
          staging.setMolt(m.name, { state: 'failed' })
          removeTree(staging.stage(m.name))
        }
      }

      staging.journal.phase = 'finishing'
      staging.save()
      for (const f of finishCommitted(staging, baseDir, (line) => hooks.info(line))) {
        const result = results.get(f.molt)!
        if (f.cron) result.crontab = f.cron
        result.old_home_kept = f.kept
        result.warnings.push(...f.problems)
      }
      fleetConfig = installFleetConfig(baseDir, extracted, only)
      staging.remove()
      staging = undefined
    } catch (error) {
      if (staging) {
        try {
          if (staging.journal.phase === 'extracting') staging.remove()
          else recoverStale({ path: staging.dir, journal: staging.journal }, baseDir, (line) => hooks.info(line))
        } catch (cleanup) {
          hooks.warn(`could not clean up ${staging.dir}: ${(cleanup as Error).message}; the next restore will`)
        }
      }
      throw error
    } finally {
      process.umask(umask)
      disk?.close()
      // the member log and the spooled lists (unlinked files in staging) give their space back
      if (extracted) release(extracted)
    }

    const molts = plan.molts.map((m) => results.get(m.name)!)
    let files = 0
    let bytes = 0
    for (const m of molts) {
      const tally = extracted?.molts.get(m.name)
      if (m.outcome === 'restored' && tally) {
        files += tally.files
        bytes += tally.bytes
      }
    }
    return {
      archive: plan.archive,
      ok: molts.every((m) => m.outcome === 'restored'),
      molts,
      verified,
      files,
      bytes,
      durationMs: performance.now() - started,
      warnings: plan.warnings,
      recovered,
      fleet_config: fleetConfig,
      chain: chainRead,
    }
  } finally {
    lock?.release()
    lock = undefined
  }
}

function cronCommandTools(): { clmnt: string[]; tee: string } | { error: string } {
  try {
    return { clmnt: clmntCommand().argv, tee: findTee() }
  } catch (error) {
    return { error: (error as Error).message }
  }
}

function archivedRegistry(extracted: Extracted): Record<string, RegistryEntry> {
  const bytes = extracted.global.get('molts.json')
  if (!bytes) return {}
  try {
    const data = JSON.parse(new TextDecoder().decode(bytes)) as { molts?: Record<string, RegistryEntry> }
    return data.molts && typeof data.molts === 'object' && !Array.isArray(data.molts) ? data.molts : {}
  } catch {
    return {}
  }
}

/** The archive's clmnt.json goes in only where the base dir has none (a new host), and only for a full restore. */
function installFleetConfig(baseDir: string, extracted: Extracted, only: ReadonlySet<Component> | null): string | null {
  const config = extracted.global.get('clmnt.json')
  const path = join(baseDir, 'clmnt.json')
  if (!config || only || existsSync(path)) return null
  writeFileAtomic(path, config, { mode: 0o600 })
  return path
}
