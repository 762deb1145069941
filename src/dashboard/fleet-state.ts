import { openAlertsDir } from '../alert/alerts-dir.ts'
import { openIncidents } from '../alert/alerts-dir.ts'
import type { Molt } from '../fleet/discover.ts'
import { readFleetConfig } from '../fleet/config.ts'
import { activeSilence, isOver, readSilences, type SilencesFile } from '../health/silence.ts'
import { WATCHER_STALE_INTERVALS, watcherStopped } from '../health/watchers.ts'
import { hostLimits, hostProblems, LOG_MAX_BYTES, readHost } from '../host/checks.ts'
import { HOST_FILE } from '../host/incidents.ts'
import { largeLogs, type LargeLog } from '../host/logs.ts'
import type { DashboardSilence, FleetAlert, HostStatus, MoltSilence, WatcherStatus } from './types.ts'

/**
 * The fleet-level part of `/api/molts`: silences, host checks, the watches' liveness and the red
 * banner made of them. The same functions and files as `molt health silence --list`, `doctor` and
 * `watch` (src/health/silence.ts, src/host/checks.ts, src/health/watchers.ts), read without locks
 * (those files are replaced atomically). Cheap: one statfs, /proc/meminfo, three small files;
 * the log sizes (three lstat per molt) are looked at once a minute.
 */
const LOGS_EVERY_MS = 60_000

export interface WatchLiveness {
  name: string
  /** ms; null: no watch ever ran */
  lastRun: number | null
  intervalMinutes: number
}

export interface FleetLevel {
  alerts: FleetAlert[]
  silences: DashboardSilence[]
  host: HostStatus
  watchers: WatcherStatus
  silenceOf(name: string): MoltSilence | null
}

export class FleetState {
  private logs: { at: number; list: LargeLog[] } | null = null

  constructor(private readonly baseDir: string) {}

  read(molts: Molt[], liveness: WatchLiveness[], now: number): FleetLevel {
    const alerts: FleetAlert[] = []
    const config = (() => {
      try {
        return readFleetConfig(this.baseDir).config
      } catch (error) {
        alerts.push({ kind: 'config', severity: 'warning', summary: (error as Error).message, since: null, molts: [] })
        return {}
      }
    })()
    const opened = openAlertsDir(this.baseDir, false)
    let dir: string | null = null
    if ('dir' in opened) dir = opened.dir
    else if (!opened.error.endsWith('does not exist')) alerts.push({ kind: 'config', severity: 'warning', summary: opened.error, since: null, molts: [] })

    // silences
    let file: SilencesFile = { version: 1, silences: [] }
    if (dir) {
      try {
        const read = readSilences(dir)
        file = read.file
        if (read.warning) alerts.push({ kind: 'config', severity: 'warning', summary: read.warning, since: null, molts: [] })
      } catch (error) {
        alerts.push({ kind: 'config', severity: 'warning', summary: `cannot read the silences: ${(error as Error).message}`, since: null, molts: [] })
      }
    }
    const silences: DashboardSilence[] = file.silences.map((s) => ({
      id: s.id, target: s.target, start: s.start, end: s.end, ended_at: s.ended_at, reason: s.reason, by: s.by,
      state: isOver(s, now) ? 'ended' : 'active', held: s.held.length + s.held_dropped,
    }))
    const silenceOf = (name: string): MoltSilence | null => {
      const s = activeSilence(file, name, now)
      return s && { id: s.id, target: s.target, until: s.end, reason: s.reason, by: s.by }
    }

    // host checks, with the watch's incident start when it has one
    const limits = hostLimits((config as { host_checks?: unknown }).host_checks) ?? { diskFreeMin: 0, memoryUsedMax: 100 }
    const reading = readHost(this.baseDir)
    const openHost = dir ? openIncidents(this.baseDir, HOST_FILE) : {}
    const problems = hostProblems(reading, limits).map((p) => ({ ...p, since: openHost[p.key]?.since ?? null }))
    for (const p of problems) alerts.push({ kind: 'host', severity: 'critical', summary: p.summary, since: p.since, molts: [] })
    if (!this.logs || now - this.logs.at >= LOGS_EVERY_MS || now < this.logs.at) this.logs = { at: now, list: largeLogs(molts) }
    const large = this.logs.list
    if (large.length) {
      const names = [...new Set(large.map((l) => l.molt))]
      alerts.push({ kind: 'logs', severity: 'warning', summary: `${large.length} log file(s) over ${LOG_MAX_BYTES / 1024 / 1024} MiB (${few(names)})`, since: null, molts: names })
    }
    const host: HostStatus = {
      disk: reading.disk,
      memory: reading.memory,
      limits: { disk_free_min_percent: limits.diskFreeMin, memory_used_max_percent: limits.memoryUsedMax, log_max_bytes: LOG_MAX_BYTES },
      problems,
      large_logs: large.map((l) => ({ molt: l.molt, path: l.path, bytes: l.bytes })),
    }

    // who watches the watcher
    let newest: number | null = null
    const stopped: WatcherStatus['stopped'] = []
    for (const w of liveness) {
      if (w.lastRun === null) continue
      if (newest === null || w.lastRun > newest) newest = w.lastRun
      if (watcherStopped(w.lastRun, w.intervalMinutes, now)) stopped.push({ molt: w.name, last_run: new Date(w.lastRun).toISOString(), interval_minutes: w.intervalMinutes })
    }
    if (stopped.length) {
      const names = stopped.map((s) => s.molt)
      const oldest = stopped.reduce((a, b) => (a.last_run <= b.last_run ? a : b)).last_run
      const watched = liveness.filter((w) => w.lastRun !== null).length
      const summary = stopped.length === watched
        ? `no watch has run on this host since ${utc(newest!)}: nothing checks the molts and no alert would come — is cron running?`
        : `no watch run for ${WATCHER_STALE_INTERVALS} intervals: ${few(names)} — nothing checks ${names.length === 1 ? 'it' : 'them'} and no alert would come`
      alerts.push({ kind: 'watcher-stopped', severity: 'critical', summary, since: oldest, molts: names })
    }
    const watchers: WatcherStatus = { last_run: newest === null ? null : new Date(newest).toISOString(), stopped, stale_intervals: WATCHER_STALE_INTERVALS }

    const rank = { 'watcher-stopped': 0, host: 1, logs: 2, config: 3 }
    alerts.sort((a, b) => (a.severity === b.severity ? rank[a.kind] - rank[b.kind] : a.severity === 'critical' ? -1 : 1))
    return { alerts, silences, host, watchers, silenceOf }
  }
}

function few(names: string[]): string {
  return names.length > 5 ? `${names.slice(0, 5).join(', ')} and ${names.length - 5} more` : names.join(', ')
}

function utc(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`
}
