import type { HealthStatus } from '../../health/record.ts'
import type { BackupEntry, FleetCounts, RecentPoint } from '../types.ts'

/** The page's pure parts (no DOM): what a state looks like, how times read, the sparkline's geometry. */

export type Tone = 'ok' | 'warn' | 'bad' | 'none'

/** green healthy, amber unhealthy, red dead/stopped, grey starting (within its grace), unknown or never checked */
export function toneOf(status: HealthStatus | null): Tone {
  switch (status) {
    case 'healthy':
      return 'ok'
    case 'unhealthy':
      return 'warn'
    case 'dead':
    case 'stopped':
      return 'bad'
    default:
      return 'none'
  }
}

/** A glyph beside the word, so the state does not hang on colour alone. */
export const TONE_GLYPH: Record<Tone, string> = { ok: '✓', warn: '!', bad: '✕', none: '?' }

export function statusLabel(status: HealthStatus | null): string {
  return status ?? 'no data'
}

/** "just now", "45 s ago", "2 min ago", "3 h ago", "4 d ago" */
export function ago(at: string | number | null, now: number): string {
  if (at === null) return 'never'
  const t = typeof at === 'number' ? at : Date.parse(at)
  if (Number.isNaN(t)) return 'at an unreadable time'
  const s = Math.round((now - t) / 1000)
  if (s < -5) return 'in the future'
  if (s < 10) return 'just now'
  if (s < 60) return `${s} s ago`
  if (s < 3600) return `${Math.floor(s / 60)} min ago`
  if (s < 48 * 3600) return `${Math.floor(s / 3600)} h ago`
  return `${Math.floor(s / 86400)} d ago`
}

export function formatMs(ms: number | null): string {
  if (ms === null) return '–'
  return ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`
}

/** One decimal, rounded down: 99.96 % is not "100.0 %" while a check failed. */
export function formatPercent(p: number | null): string {
  if (p === null) return '–'
  return p >= 100 ? '100 %' : `${(Math.floor(p * 10) / 10).toFixed(1)} %`
}

/** "45 s", "32 min", "2 h 5 min", "3 d 4 h": two units at most, as an operator says it. */
export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000))
  if (s < 60) return `${s} s`
  const m = Math.floor(s / 60)
  if (m < 60) return `${m} min`
  const h = Math.floor(m / 60)
  if (h < 48) return m % 60 ? `${h} h ${m % 60} min` : `${h} h`
  const d = Math.floor(h / 24)
  return h % 24 ? `${d} d ${h % 24} h` : `${d} d`
}

/** "18 healthy · 1 unhealthy · 1 dead": the non-zero counts, worst last, as the header says them. */
export const SUMMARY_ORDER = ['healthy', 'starting', 'unhealthy', 'dead', 'stopped', 'unknown', 'no_data'] as const

export function summaryParts(counts: FleetCounts): { key: (typeof SUMMARY_ORDER)[number]; text: string; tone: Tone }[] {
  return SUMMARY_ORDER.filter((key) => counts[key] > 0).map((key) => ({
    key,
    text: `${counts[key]} ${key === 'no_data' ? 'not checked yet' : key}`,
    tone: key === 'no_data' ? 'none' : toneOf(key),
  }))
}

export function summaryText(counts: FleetCounts): string {
  const parts = summaryParts(counts)
  return parts.length ? parts.map((p) => p.text).join(' · ') : 'no molts'
}

export const BACKUP_MAX_AGE_MS = 24 * 3600 * 1000

export interface BackupVerdict {
  newest: BackupEntry | null
  age_ms: number | null
  /** what the operator must hear; null when the newest good archive is recent */
  warning: string | null
}

/** The newest good archive (ok, or legacy: restore takes both) and whether it is older than a day. */
export function backupVerdict(backups: BackupEntry[], now: number): BackupVerdict {
  const good = backups.filter((b) => (b.status === 'ok' || b.status === 'legacy') && b.created !== null && !Number.isNaN(Date.parse(b.created)))
  const newest = good.reduce<BackupEntry | null>((best, b) => (best === null || Date.parse(b.created!) > Date.parse(best.created!) ? b : best), null)
  if (!newest) return { newest: null, age_ms: null, warning: backups.length ? 'no good backup: every archive is incomplete or corrupt' : 'no backup yet' }
  const age = now - Date.parse(newest.created!)
  return { newest, age_ms: age, warning: age > BACKUP_MAX_AGE_MS ? `the newest good backup is ${duration(age)} old` : null }
}

export interface Sparkline {
  /** SVG path of the answered checks; a gap where a check got no answer */
  path: string
  /** x of checks that were not healthy */
  failures: number[]
  min: number | null
  max: number | null
  answered: number
}

/** Response times over the recent checks, scaled to the slowest; the y axis starts at 0. */
export function sparkline(points: RecentPoint[], width: number, height: number, pad = 2): Sparkline {
  const times = points.map((p) => p.response_time_ms).filter((v): v is number => v !== null)
  const max = times.length ? Math.max(...times) : null
  const min = times.length ? Math.min(...times) : null
  const step = points.length > 1 ? (width - 2 * pad) / (points.length - 1) : 0
  const round = (n: number) => Math.round(n * 10) / 10
  const segments: string[] = []
  const failures: number[] = []
  let drawing = false
  points.forEach((p, i) => {
    const x = round(points.length > 1 ? pad + i * step : width / 2)
    if (p.status !== 'healthy') failures.push(x)
    if (p.response_time_ms === null) {
      drawing = false
      return
    }
    const y = round(max ? height - pad - (p.response_time_ms / max) * (height - 2 * pad) : height - pad)
    // a lone answer between failures is a dot (zero-length segment, round cap)
    segments.push(drawing ? `L${x} ${y}` : `M${x} ${y} l0 0`)
    drawing = true
  })
  return { path: segments.join(' '), failures, min, max, answered: times.length }
}
