import { join } from 'node:path'
import type { AlertSettings } from '../alert/deliver.ts'
import type { Molt } from '../fleet/discover.ts'
import { inHomeDir, O_RDWR } from '../lib/safe-fs.ts'
import { lockDescriptor, type LockHolder } from '../lib/lock.ts'
import { checkMolt } from './check.ts'
import { moltOwner } from './gateway.ts'
import { WATCH_LOCK_REL } from './paths.ts'
import type { HealthRecord } from './record.ts'
import {
  countAttempt, decide, dueNotices, recordDelivery, recordRestart, retryAfterSettingsChange, settleOutbox, upgradeState, wasDelivered,
  type Channel, type DecideOptions, type Decision, type Incident, type Notice, type NoticeKind, type Phase, type RestartAttempt, type WatchFile,
} from './watch.ts'
import type { FlushReport } from '../alert/fleet-flush.ts'
import type { NoticeSender } from '../alert/fleet-queue.ts'
import { openDispatcher, senderFor, settleFleetOutbox, type FleetAlerting } from './watch-fleet.ts'
import { applyRateLimit, type RateLimit } from '../alert/rate-limit.ts'
import { checkHost, checkWatchers, sendHostNotices, type FleetNoticeOut } from './watch-host.ts'
import { holdNotices, sendSilenceSummaries, silenceFor, summaryDue } from './watch-silence.ts'
import { appendWatchLog, describeRun, logLine } from './watch-log.ts'
import { readWatchState, writeWatchState } from './watch-state.ts'

/**
 * One `health watch` run, the impure shell around watch.ts: lock → check (the same checkMolt as
 * `health check`) → decide → restart if due → save → deliver → save → one log line. The state is
 * saved before any delivery, so a run killed while mailing leaves its notices waiting for the next.
 */
export const watchLockFile = (home: string) => join(home, WATCH_LOCK_REL)
export const DEFAULT_INTERVAL_MINUTES = 5

/** The whole run must end before cron starts the next one: the interval less 10 s, 20 s to 15 min. */
export function runBudgetMs(intervalMinutes: number): number {
  return Math.min(15 * 60_000, Math.max(20_000, intervalMinutes * 60_000 - 10_000))
}

export interface WatchRunOptions {
  baseDir: string
  /** HTTP timeout of the check */
  timeoutMs: number
  /** not ready this soon after the gateway's start: `starting` (default 2 min) */
  startupGraceMs?: number
  decide: DecideOptions
  restartArgv: string[]
  restartVerifyMs: number
  /** --interval: saved in the state (status uses it for staleness) */
  intervalMinutes: number | null
  budgetMs: number
  alerts: AlertSettings
  /** for Message-IDs and the body; default: this machine's host name */
  host?: string
  /** wall clock for the state machine; the budget runs on a monotonic clock */
  now?: () => number
  /** where the stderr channel and loud failures go */
  stderr(text: string): void
  /** disk and memory limits of the host checks (null: off) */
  hostChecks?: { diskFreeMin: number; memoryUsedMax: number } | null
  /** at most this many notices per window for this molt (null: no cap) */
  rateLimit?: RateLimit | null
  /** digests: how long the fleet outbox gathers notices (null: off, notices go out one by one) */
  digestWaitMs?: number | null
  /** `dashboard.url` of clmnt.json: alerts link to it */
  dashboardUrl?: string | null
  /** --prom-file: this molt's series in a Prometheus textfile, after the state is saved */
  metrics?: { promFile: string; version: string }
}

export interface NoticeReport {
  id: string
  kind: NoticeKind
  subject: string
  /** channels that accepted it this run */
  delivered: Channel[]
  /** what failed this run */
  errors: { channel: Channel; error: string; permanent: boolean }[]
  /** still waiting in the outbox after this run */
  pending: boolean
}

export interface WatchRunResult {
  molt: string
  skipped: boolean
  holder?: LockHolder | null
  record?: HealthRecord
  from?: Phase
  phase?: Phase
  consecutive_failures?: number
  threshold?: number
  incident?: Incident | null
  flapping?: 'started' | 'ended' | 'ongoing' | null
  restart?: RestartAttempt | null
  notices: NoticeReport[]
  /** host alerts this run reported (subjects) */
  host?: string[]
  /** kinds of the notices the rate limit held back this run */
  rate_limited?: string[]
  /** the silence over this molt: its notices were held */
  silenced?: { id: string; until: string; held: string[] }
  /** silences whose end this run reported */
  silence_summaries?: string[]
  /** what this run sent from the fleet outbox (digests) */
  fleet_outbox?: FlushReport
  /** notices the outbox still holds after this run */
  waiting: number
  /** what went wrong: a notice not delivered, a file not written, the budget overrun (exit 1) */
  problems: string[]
  warnings: string[]
  log: string
  duration_ms: number
}

export async function runWatch(molt: Molt, options: WatchRunOptions): Promise<WatchRunResult> {
  const started = performance.now()
  const end = started + options.budgetMs
  const remaining = () => end - performance.now()
  // keep a second for saving the state and the log line
  const bound = (ms: number) => Math.max(1, Math.min(ms, remaining() - 1000))
  const now = options.now ?? Date.now
  const owner = moltOwner(molt) ?? undefined
  const result: WatchRunResult = { molt: molt.name, skipped: false, notices: [], waiting: 0, problems: [], warnings: [], log: '', duration_ms: 0 }
  const finish = (text: string, rotate: boolean) => {
    result.duration_ms = Math.round(performance.now() - started)
    result.log = text
    try {
      appendWatchLog(molt.home, logLine(new Date(now()).toISOString(), text), { owner, rotate })
    } catch (error) {
      result.problems.push(`cannot write the health log: ${(error as Error).message}`)
    }
    return result
  }

  const attempt = inHomeDir(molt.home, WATCH_LOCK_REL, { owner, create: true }, (dir, name) =>
    lockDescriptor(dir.openOrCreate(name, O_RDWR), watchLockFile(molt.home), `health watch ${molt.name}`))
  if (!attempt.ok) {
    result.skipped = true
    result.holder = attempt.holder
    const by = attempt.holder ? `PID ${attempt.holder.pid} since ${attempt.holder.since}` : 'another process'
    return finish(`watch ${molt.name}: skipped, another watch run is active (${by})`, false)
  }
  try {
    const read = readWatchState(molt.home)
    if (read.warning) result.warnings.push(`${read.warning}; starting afresh`)
    let state = upgradeState(read.state, options.decide.threshold, now())
    if (options.intervalMinutes !== null) state.interval_minutes = options.intervalMinutes

    const check = await checkMolt(molt, { timeoutMs: bound(options.timeoutMs), record: true, startupGraceMs: options.startupGraceMs })
    if (check.writeError) result.problems.push(check.writeError)
    let record = check.record
    const first = decide(state, record, now(), options.decide)
    const decisions: Decision[] = [first]
    state = first.state
    if (first.restart) {
      const { restartAndVerify } = await import('./watch-restart.ts')
      const restarted = await restartAndVerify(molt, first.restart.attempt, options, bound, now, owner)
      result.restart = restarted.attempt
      if (restarted.writeError) result.problems.push(restarted.writeError)
      state = recordRestart(state, restarted.attempt)
      record = restarted.record
      const second = decide(state, record, now(), options.decide)
      decisions.push(second)
      state = second.state
    }
    result.record = record
    result.from = first.from
    saveState(molt, state, owner, result)

    const silenced = await silenceFor(options.baseDir, molt.name, now())
    if (silenced.warning) result.warnings.push(silenced.warning)
    if (silenced.silence && state.outbox.length) {
      const { mailHost, renderNotice } = await import('../alert/message.ts')
      const host = options.host ?? mailHost()
      try {
        const held = await holdNotices(options.baseDir, state, silenced.silence, (n) => renderNotice(n, { host, extra: { molt: molt.name } }), molt.name, now())
        state = held.state
        result.silenced = { id: silenced.silence.id, until: silenced.silence.end, held: held.held.map((n) => n.kind) }
        saveState(molt, state, owner, result)
      } catch (error) {
        result.problems.push(`cannot hold the notices under silence ${silenced.silence.id}: ${(error as Error).message}`)
      }
    } else if (silenced.silence) result.silenced = { id: silenced.silence.id, until: silenced.silence.end, held: [] }
    if (options.rateLimit && state.outbox.length) {
      const gated = applyRateLimit(state, options.rateLimit, now())
      state = gated.state
      if (gated.suppressed.length) result.rate_limited = gated.suppressed.map((n) => n.kind)
      saveState(molt, state, owner, result)
    }
    const fleet: FleetAlerting = { baseDir: options.baseDir, waitMs: options.digestWaitMs ?? null, host: options.host ?? '', now, remaining, stderr: options.stderr }
    const alerting = { settings: options.alerts, restartArgv: options.restartArgv, dashboardUrl: options.dashboardUrl ?? null }
    let sender: NoticeSender | null = null
    if (decisions.some((d) => d.queued.length) || state.outbox.length) {
      // loaded only when there is something to send: most runs have nothing to say
      const { channelsFor, settingsFingerprint } = await import('../alert/deliver.ts')
      const channels = channelsFor(options.alerts)
      state = retryAfterSettingsChange(state, settingsFingerprint(options.alerts, molt.home, options.baseDir))
      const due = dueNotices(state, channels)
      if (due.length) {
        const { dispatcher } = await openDispatcher(molt, alerting, fleet)
        sender = await senderFor(dispatcher, fleet, result.warnings)
        state = await deliver(state, due, channels, sender, result, remaining, now)
        state = countAttempt(state, due.map((n) => n.id))
      }
      state = settleOutbox(state, channels).state
      for (const report of result.notices) report.pending = state.outbox.some((n) => n.id === report.id)
      for (const notice of state.outbox) {
        if (due.includes(notice) || due.some((d) => d.id === notice.id) || wasDelivered(notice)) continue
        const why = Object.entries(notice.failed).map(([channel, error]) => `${channel}: ${error}`).join('; ')
        result.problems.push(`${notice.kind} notice ${notice.id} is waiting undelivered (${why || 'no channel took it'}); fix the alert settings and the next run tries again`)
      }
      saveState(molt, state, owner, result)
    }
    const hostChanges = options.hostChecks ? await checkHost(options.baseDir, now(), options.hostChecks) : []
    const watchers = options.hostChecks ? await checkWatchers(options.baseDir, molt.name, now()) : null
    if (hostChanges.length || watchers || summaryDue(options.baseDir, now())) {
      const { dispatcher, extra, channels } = await openDispatcher(molt, alerting, fleet)
      sender ??= await senderFor(dispatcher, fleet, result.warnings)
      const out: FleetNoticeOut = { sender, dispatcher, channels, host: fleet.host, clmnt: String(extra.clmnt), problems: result.problems }
      const subjects = await sendHostNotices(out, hostChanges, watchers, now)
      if (subjects.length) result.host = subjects
      if (summaryDue(options.baseDir, now())) try {
        result.silence_summaries = await sendSilenceSummaries(options.baseDir, now(), sender, dispatcher, channels, result.problems)
      } catch (error) {
        result.problems.push(`cannot send the summary of an ended silence: ${(error as Error).message}`)
      }
    }
    if (fleet.waitMs !== null) {
      if (!fleet.host) fleet.host = (await import('../alert/message.ts')).mailHost()
      const flushed = await settleFleetOutbox(sender, fleet)
      if (flushed) {
        result.fleet_outbox = flushed
        result.problems.push(...flushed.problems)
        result.warnings.push(...flushed.warnings)
      }
    }
    for (const decision of decisions) {
      for (const notice of decision.dropped) {
        if (notice.kind === 'flapping' || notice.kind === 'down') continue // merged into a RECOVERED
        result.warnings.push(`dropped the undelivered ${notice.kind} notice ${notice.id}`)
      }
    }
    result.phase = state.phase
    result.consecutive_failures = state.consecutive_failures
    result.threshold = state.threshold
    result.incident = state.incident
    result.flapping = decisions.find((d) => d.flapping)?.flapping ?? (state.flapping ? 'ongoing' : null)
    result.waiting = state.outbox.length
    if (options.metrics) await writeMetrics(molt, state, record, options.metrics, result)
    if (remaining() < 0) result.problems.push(`the run took longer than its ${Math.round(options.budgetMs / 1000)} s budget`)
    return finish(describeRun(molt.name, state, record, result), true)
  } finally {
    attempt.lock.release()
  }
}

async function writeMetrics(molt: Molt, state: WatchFile, record: HealthRecord, metrics: { promFile: string; version: string }, result: WatchRunResult): Promise<void> {
  try {
    // loaded only with --prom-file: the plain cron run stays as light as before
    const { writeHealthTextfile } = await import('../metrics/fleet.ts')
    const lastRun = state.last_check ? Date.parse(state.last_check) : Number.NaN
    const watch = { lastRunMs: Number.isNaN(lastRun) ? null : lastRun, consecutiveFailures: state.consecutive_failures, intervalMinutes: state.interval_minutes ?? DEFAULT_INTERVAL_MINUTES }
    const written = await writeHealthTextfile(metrics.promFile, [{ molt: molt.name, record, watch }], { all: false, version: metrics.version })
    if (written.warning) result.warnings.push(written.warning)
  } catch (error) {
    result.problems.push(`cannot write the metrics file ${metrics.promFile}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`)
  }
}

function saveState(molt: Molt, state: WatchFile, owner: { uid: number; gid: number } | undefined, result: WatchRunResult): void {
  try {
    writeWatchState(molt.home, state, owner)
  } catch (error) {
    result.problems.push(`cannot save the watch state: ${(error as Error).message}`)
  }
}

/** Oldest first; a channel that failed for now is not tried again this run (its server is down). */
async function deliver(state: WatchFile, due: Notice[], channels: Channel[], sender: NoticeSender, result: WatchRunResult, remaining: () => number, now: () => number): Promise<WatchFile> {
  const resting = new Set<Channel>()
  for (const notice of due) {
    const report: NoticeReport = { id: notice.id, kind: notice.kind, subject: sender.render(notice).subject, delivered: [], errors: [], pending: true }
    result.notices.push(report)
    for (const channel of channels) {
      if (notice.delivered[channel] || notice.failed[channel]) continue
      if (resting.has(channel) || remaining() < 2000) {
        report.errors.push({ channel, error: resting.has(channel) ? 'not tried: it failed earlier in this run' : 'not tried: the run is out of time', permanent: false })
        continue
      }
      const outcome = await sender.send(notice, channel)
      state = recordDelivery(state, notice.id, channel, outcome, now())
      if (outcome.ok) report.delivered.push(channel)
      else {
        report.errors.push({ channel, error: outcome.error, permanent: outcome.permanent })
        if (!outcome.permanent) resting.add(channel)
        const what = `${notice.kind} notice ${notice.id} via ${sender.describe(channel)}`
        result.problems.push(outcome.permanent ? `${what} FAILED for good (not retried): ${outcome.error}` : `${what} not delivered, will retry: ${outcome.error}`)
      }
    }
  }
  return state
}
