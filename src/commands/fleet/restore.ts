import { defineCommand } from 'citty'
import { basename, dirname, resolve } from 'node:path'
import { checkCarried, takenFromChain, type ListedParent } from '../../archive/chain-carried.ts'
import { formatBytes, formatCount, progressPrinter } from '../../archive/format.ts'
import { COMPONENTS } from '../../archive/layout.ts'
import { defaultBackupDir, isGoodListing, latestBackup } from '../../archive/list.ts'
import { executeRestore, planRestore, RestoreRefused, type RestoreOptions, type RestorePlan, type RestoreResult } from '../../archive/restore.ts'
import type { Scoped } from '../../archive/restore-extract.ts'
import { blocking, checkArchive } from '../../archive/verify.ts'
import { formatDuration, requireDuration } from '../../lib/duration.ts'
import { ClmntError, InputError, UsageError } from '../../lib/errors.ts'
import { isTerminal } from '../../lib/stdio.ts'
import { renderTable } from '../../lib/table.ts'
import type { RunData } from '../../runner.ts'
import { jsonArg, listArg, printJson } from '../_shared.ts'

export default defineCommand({
  meta: { name: 'restore', description: 'Restore molts from a fleet archive: planned, checked in staging, then swapped in one molt at a time' },
  args: {
    from: { type: 'string', required: true, valueHint: 'archive|latest|s3://…', description: "archive file, 'latest' (newest good archive in <base-dir>/backups), or s3://bucket/prefix/<archive>|latest" },
    select: { type: 'string', repeatable: true, valueHint: 'a,b', description: 'only these molts of the archive (comma-separated or repeated)' },
    only: { type: 'string', repeatable: true, valueHint: 'components', description: `only these components (${COMPONENTS.join(', ')}); the rest of an existing home stays` },
    force: { type: 'boolean', description: 'replace selected molts that exist (never one whose gateway is running)' },
    'dry-run': { type: 'boolean', description: 'print the plan and change nothing' },
    'skip-users': { type: 'boolean', description: 'create no Linux users (files go to existing users, else stay yours)' },
    'skip-cron': { type: 'boolean', description: "do not install the molts' crontabs from the archive" },
    'keep-old': { type: 'boolean', description: 'keep replaced homes in <base-dir>/.clmnt-restore-old/ instead of removing them' },
    silence: { type: 'string', valueHint: 'duration', description: 'silence the alerts of the molts it restores for this long, or off (default 30m): one summary when it ends' },
    yes: { type: 'boolean', alias: 'y', description: 'do not ask (required when not on a terminal)' },
    ...jsonArg,
  },
  async run({ args, data }) {
    const cli: RunData = data
    const { dir } = cli.baseDir()
    const select = args.select === undefined ? undefined : listArg(args.select)
    if (select && !select.length) throw new UsageError('--select needs molt names (a,b)')
    const only = args.only === undefined ? undefined : listArg(args.only)
    if (only && !only.length) throw new UsageError(`--only needs components (${COMPONENTS.join(', ')})`)
    const silenceMs = args.silence === undefined ? RESTORE_SILENCE_MS : args.silence === 'off' ? null : requireDuration(args.silence, '--silence')
    // Ctrl-C or SIGTERM stops a download as well as a restore, and the finally below removes what
    // was downloaded (a second Ctrl-C kills at once, as usual)
    const controller = new AbortController()
    const stop = () => controller.abort()
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
    let download: import('../../offsite/download.ts').DownloadedArchive | null = null
    try {
      let archive: string
      if (args.from.startsWith('s3://')) {
        // fetched next to the base dir (same filesystem) with its chain, each checked against its completion marker
        const { downloadArchive } = await import('../../offsite/download.ts')
        download = await downloadArchive(args.from, dir, { baseDir: dir, warn: (w) => cli.log.warn(w), info: (line) => cli.log.info(line), signal: controller.signal })
        archive = download.path
      } else if (args.from === 'latest') {
        const folder = defaultBackupDir(dir)
        const latest = await latestBackup(folder)
        if (!latest) throw new InputError(`no finished archive in ${folder} (see clmnt fleet list-backups)`)
        if (!isGoodListing(latest)) {
          throw new InputError(`the newest archive, ${latest.path}, is ${latest.status}${latest.reason ? ` (${latest.reason})` : ''}: nothing restored; to restore an older one, name it with --from (see clmnt fleet list-backups)`)
        }
        archive = latest.path
      } else archive = resolve(args.from)
      return await restoreFrom(cli, args, { dir, archive, select, only, silenceMs, signal: controller.signal, shown: download ? shownAsRemote(download) : (path) => path })
    } finally {
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
      download?.cleanup()
    }
  },
})

/** A downloaded archive and its parents are shown by their s3:// URL, not by the temp copy about to go. */
function shownAsRemote(download: import('../../offsite/download.ts').DownloadedArchive): (path: string) => string {
  const prefix = download.url.slice(0, download.url.length - download.archive.length)
  return (path) => (dirname(path) === dirname(download.path) ? prefix + basename(path) : path)
}

/** fleet restore silences what it restores by default: long enough to start the gateways and look */
const RESTORE_SILENCE_MS = 30 * 60_000

/** tier-up thresholds × this until a restore shows it reads more than LONG_RUN_BYTES (Bun.unsafe.setJITPolicy) */
const SHORT_RUN_JIT = 64
// measured on 2 cores: −0.1 CPU-s for 45 MiB; +0.4 s wall for a 1 GB restore whose first ~180 MiB ran so
const LONG_RUN_BYTES = 96 << 20

/** What the restore will write (the molts' files, an incremental's chain included). */
function plannedBytes(plan: RestorePlan): number {
  return plan.molts.reduce((sum, m) => sum + (m.action === 'new' || m.action === 'overwrite' ? (m.bytes ?? 0) : 0), 0)
}

type RestoreArgs = { force?: boolean; 'skip-users'?: boolean; 'skip-cron'?: boolean; 'keep-old'?: boolean; 'dry-run'?: boolean; json?: boolean; yes?: boolean }

/** Plan, confirm, restore and report, from a local archive file. */
async function restoreFrom(cli: RunData, args: RestoreArgs, where: { dir: string; archive: string; select?: string[]; only?: string[]; silenceMs: number | null; signal: AbortSignal; shown(path: string): string }): Promise<number> {
  const { dir, archive, select, only, shown } = where
  const options: RestoreOptions = { baseDir: dir, archive, select, only, force: args.force === true, skipUsers: args['skip-users'] === true, skipCron: args['skip-cron'] === true, keepOld: args['keep-old'] === true }

  // JavaScriptCore compiles hot code on background threads; a restore of one molt ends before that
  // work pays back (on 2 cores it took ~0.1 of ~1 CPU-second), so the JIT waits longer until the plan
  // shows a long run (issue 18: one-molt restore ≤ 0.1× the full one)
  // (a Bun without it, older or newer, just runs at its normal policy)
  Bun.unsafe.setJITPolicy?.(SHORT_RUN_JIT)
  const plan = await planRestore(options)
  if (plannedBytes(plan) > LONG_RUN_BYTES) Bun.unsafe.setJITPolicy?.(1)
  const restorable = plan.molts.filter((m) => m.action === 'new' || m.action === 'overwrite').length
  const dryRun = args['dry-run'] === true
  // the dry run reads the archive as the real run will (what verify does), writing nothing
  const check = dryRun && restorable ? await dryRunCheck(plan) : null
  if (args.json && dryRun) {
    printJson(cli, { dry_run: true, ...planJson(plan, shown), check: check && { problems: check.problems, notes: check.notes } })
    return restorable && !check?.problems.length ? 0 : 1
  }
  if (!args.json && !cli.globals.quiet) cli.stdout(renderPlan(plan, shown))
  for (const warning of plan.warnings) cli.log.warn(warning)
  for (const stale of plan.stale) cli.log.warn(`an interrupted restore left ${stale.description}: the next real run finishes or undoes it, then removes it`)
  if (!restorable) {
    const refused = plan.molts.some((m) => m.action === 'refused')
    cli.log.error(`nothing to restore: every selected molt ${refused ? 'is skipped or refused' : 'exists'} (${plan.options.force ? 'see the reasons above' : '--force replaces existing molts'}); nothing changed`)
    return 1
  }
  if (dryRun) {
    for (const note of check?.notes ?? []) cli.log.warn(note.molt ? `${note.molt}: ${note.text}` : note.text)
    if (check?.problems.length) {
      for (const problem of check.problems.slice(1)) cli.log.debug(problem.text)
      const more = check.problems.length > 1 ? ` (and ${check.problems.length - 1} more problem(s); -v lists them)` : ''
      cli.log.error(`a real run would refuse: ${check.problems[0]!.text}${more}; dry run: nothing changed`)
      return 1
    }
    for (const blocker of plan.blockers) cli.log.warn(`a real run would stop here: ${blocker}`)
    cli.log.info('dry run: nothing changed')
    return 0
  }
  if (plan.blockers.length) throw new InputError(plan.blockers[0]!)
  if (args.yes !== true) {
    if (!process.stdin.isTTY || !process.stderr.isTTY) {
      throw new ClmntError('refusing to restore without confirmation: not on a terminal; run again with --yes (check the plan first with --dry-run)', 2)
    }
    const replacing = plan.molts.filter((m) => m.action === 'overwrite').length
    if (!(await confirm(`Restore ${restorable} molt(s) into ${dir}${replacing ? `, replacing ${replacing}` : ''}? [y/N] `))) {
      cli.log.info('cancelled: nothing changed')
      return 1
    }
  }

  if (where.signal.aborted) throw new ClmntError('interrupted: nothing was changed', 1)
  const progress = !cli.globals.quiet && !args.json && isTerminal(2) ? progressPrinter((text) => process.stderr.write(text)) : null
  let result: RestoreResult
  try {
    result = await executeRestore(plan, options, {
      info: (line) => cli.log.info(line),
      warn: (line) => cli.log.warn(line),
      onProgress: progress ? (p) => progress.update(p) : undefined,
      signal: where.signal,
    })
  } catch (error) {
    progress?.clear()
    if (error instanceof RestoreRefused) {
      for (const problem of error.problems.slice(1)) cli.log.debug(problem)
      const more = error.problems.length > 1 ? ` (and ${error.problems.length - 1} more problem(s); -v lists them)` : ''
      throw new ClmntError(`restore refused: ${error.message}${more}; nothing was changed`, 1)
    }
    throw error
  }
  progress?.clear()
  const silenceMs = where.silenceMs
  const touched = plan.molts.filter((m) => m.action === 'new' || m.action === 'overwrite').map((m) => m.name)
  if (silenceMs && touched.length) {
    // restored molts come back on their own time (users, gateways to start): that is not news for the pager;
    // set after the swap, so a refused restore leaves nothing behind
    try {
      const { silenceMolts } = await import('../../health/silence.ts')
      await silenceMolts(dir, touched, silenceMs, `fleet restore from ${basename(plan.archive)}`, process.env.SUDO_USER || null)
      cli.log.info(`silenced the alerts of ${touched.length} molt(s) for ${formatDuration(silenceMs)} (clmnt molt health silence <name> --end ends it)`)
    } catch (error) {
      cli.log.warn(`could not silence the restored molts: ${(error as Error).message}`)
    }
  }
  if (args.json) printJson(cli, { dry_run: false, ...planJson(plan, shown), result: { ...result, chain: result.chain.map(shown) } })
  else renderSummary(cli, result)
  return result.ok ? 0 : 1
}

async function dryRunCheck(plan: RestorePlan): Promise<{ problems: Scoped[]; notes: Scoped[] }> {
  const molts = plan.molts.filter((m) => m.action === 'new' || m.action === 'overwrite').map((m) => m.name)
  const check = await checkArchive({ archive: plan.archive, compression: plan.compression, manifest: plan.manifest, legacy: plan.legacy, molts, only: plan.only ? new Set(plan.only) : null })
  const problems = blocking(check.problems, molts)
  if (!plan.chain.length) return { problems, notes: check.notes.filter((n) => n.molt === null || molts.includes(n.molt)) }
  // an incremental archive: every earlier archive of its chain is read as the restore will read it,
  // and what the restore takes from the chain is the content the archive recorded
  const only = plan.only ? new Set(plan.only) : null
  const lists: ListedParent[] = []
  try {
    for (const parent of plan.chain) {
      const theirs = molts.filter((m) => parent.manifest.molts.some((p) => p.name === m))
      const listed: ListedParent = { path: parent.path, checksums: null, regions: null, holes: false }
      lists.push(listed)
      const c = await checkArchive({ archive: parent.path, compression: parent.compression, manifest: parent.manifest, legacy: parent.legacy, molts: theirs, only, keepChecksums: (list, regions, holes) => Object.assign(listed, { checksums: list, regions, holes }) })
      for (const p of blocking(c.problems, theirs)) problems.push({ molt: p.molt, text: `${basename(parent.path)} (in its chain): ${p.text}` })
    }
    problems.push(...(await checkCarried(plan.archive, lists, takenFromChain(new Set(molts), only))))
  } finally {
    for (const listed of lists) listed.checksums?.close()
  }
  return { problems, notes: check.notes.filter((n) => n.molt === null || molts.includes(n.molt)) }
}

/** One question on the terminal, default no; Ctrl-C or end of input is a no. */
async function confirm(question: string): Promise<boolean> {
  const { createInterface } = await import('node:readline')
  const rl = createInterface({ input: process.stdin, output: process.stderr })
  const answer = await new Promise<string>((done) => {
    rl.once('SIGINT', () => done(''))
    rl.once('close', () => done(''))
    rl.question(question, done)
  })
  rl.close()
  return /^y(es)?$/i.test(answer.trim())
}

const ACTION_TEXT = { new: 'new', overwrite: 'overwrite', skip: 'skip (exists)', refused: 'refused (running)' } as const

function renderPlan(plan: RestorePlan, shown: (path: string) => string): string {
  const m = plan.manifest
  const lines = [
    `restore from ${shown(plan.archive)} (${formatBytes(plan.archiveBytes)}${plan.legacy ? ', legacy bash-toolkit archive' : ''})`,
    `  backup of ${m.hostname ?? 'an unknown host'} at ${m.timestamp}${m.clmnt_version ? `, clmnt ${m.clmnt_version}` : ''}, ${m.molts.length} molt(s) in the archive`,
    `  into ${plan.baseDir}${plan.only ? `, only ${plan.only.join(', ')}` : ''}`,
    ...(plan.chain.length ? [`  incremental archive: the state at that point, from its chain of ${plan.chain.length} earlier archive(s) starting with ${basename(plan.chain[0]!.path)} (files and size: what is read from all of them)`] : []),
    '',
    '',
  ]
  const rows = plan.molts.map((p) => {
    const action = p.action === 'refused' && !p.reason?.includes('running') ? 'refused' : ACTION_TEXT[p.action]
    const user = p.action === 'skip' || p.action === 'refused' ? '-' : p.user.action === 'create' ? `create ${p.user.name}` : p.user.action === 'exists' ? `${p.user.name} (exists)` : 'not created'
    return [p.name, action, user, p.files === null ? '?' : formatCount(p.files), p.bytes === null ? '?' : formatBytes(p.bytes), p.components.join(', ') || '-']
  })
  const out = [lines.join('\n'), renderTable(['MOLT', 'ACTION', 'USER', 'FILES', 'SIZE', 'COMPONENTS'], rows)]
  for (const p of plan.molts) if (p.reason) out.push(`  ${p.name}: ${p.reason}\n`)
  return out.join('')
}

function planJson(plan: RestorePlan, shown: (path: string) => string) {
  const m = plan.manifest
  return {
    archive: shown(plan.archive),
    backup: { hostname: m.hostname, timestamp: m.timestamp, clmnt_version: m.clmnt_version, format_version: m.version, base_dir: m.base_dir, legacy: plan.legacy },
    base_dir: plan.baseDir,
    only: plan.only,
    molts: plan.molts.map((p) => ({ name: p.name, action: p.action, reason: p.reason, target: p.target, user: p.user, port: p.port, port_conflicts: p.portConflicts, files: p.files, bytes: p.bytes, components: p.components })),
    warnings: plan.warnings,
    blockers: plan.blockers,
    interrupted_restores: plan.stale.map((s) => s.description),
    chain: plan.chain.map((a) => shown(a.path)),
  }
}

function renderSummary(cli: RunData, r: RestoreResult): void {
  for (const line of r.recovered) cli.log.info(`recovered: ${line}`)
  for (const m of r.molts) {
    const details = [m.user === 'created' ? `user ${m.name} created` : null, m.owner ? `owned by ${m.owner}` : null, m.crontab ? `crontab ${m.crontab}` : null, m.kept_files ? `${formatCount(m.kept_files)} file(s) not in the backup kept` : null, m.old_home_kept ? `old home kept in ${m.old_home_kept}` : null].filter(Boolean)
    for (const warning of m.warnings) cli.log.warn(`${m.name}: ${warning}`)
    if (m.outcome === 'restored') cli.log.success(`${m.name}: restored${details.length ? ` (${details.join(', ')})` : ''}`)
    else if (m.outcome === 'failed') cli.log.error(`${m.name}: failed: ${m.reason ?? 'unknown reason'}; its home is as it was`)
    else cli.log.warn(`${m.name}: ${m.outcome}: ${m.reason}`)
  }
  if (r.fleet_config) cli.log.info(`fleet config installed from the archive: ${r.fleet_config}`)
  for (const warning of r.warnings.filter((w) => w.includes(' port '))) cli.log.warn(warning)
  const restored = r.molts.filter((m) => m.outcome === 'restored').length
  const sums = r.verified ? `, ${formatCount(r.verified)} sha256 verified` : ''
  if (!cli.globals.quiet) cli.stdout(`restore: ${restored} of ${r.molts.length} molt(s) restored, ${formatCount(r.files)} files, ${formatBytes(r.bytes)}${sums}, in ${(r.durationMs / 1000).toFixed(1)} s\n`)
}
