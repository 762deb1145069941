import { discoverFleet } from '../fleet/discover.ts'
import { readWatchState } from '../health/watch-state.ts'
import type { RenderedNotice } from './message.ts'
import type { OutboxEntry } from './fleet-outbox.ts'

/**
 * A storm's notices as one message: "[Claw Mountain] 20 of 25 molts DOWN since 03:02: a, b, …",
 * an overview of what changed, then every notice in full (nothing an operator needs is lost:
 * commands, gateway logs, restart notes).
 */
export interface FleetPicture {
  total: number
  /** molts DOWN now, with the start of their incident */
  down: { name: string; since: string }[]
}

/** What each molt's watch state says now (a molt without one is not counted as down). */
export function fleetPicture(baseDir: string): FleetPicture {
  const fleet = discoverFleet(baseDir)
  const down: FleetPicture['down'] = []
  for (const molt of fleet.molts) {
    try {
      const state = readWatchState(molt.home).state
      if (state?.phase === 'down') down.push({ name: molt.name, since: (state.incident as { id?: string } | null)?.id ?? state.last_check ?? '' })
    } catch {}
  }
  return { total: fleet.molts.length, down }
}

const TROUBLE = new Set(['down', 'reminder', 'restart-failed', 'flapping', 'host', 'watcher-stopped'])

export function composeDigest(entries: OutboxEntry[], picture: FleetPicture, host: string, waitMs: number): RenderedNotice {
  const troubled = entries.filter((e) => TROUBLE.has(e.kind))
  const recovered = entries.filter((e) => e.kind === 'recovered')
  const other = entries.filter((e) => !TROUBLE.has(e.kind) && e.kind !== 'recovered')
  // the molts this digest reports down count even when their state changed since (a race with the next run)
  const downNames = [...new Set([...picture.down.map((d) => d.name), ...troubled.filter((e) => e.kind === 'down').map((e) => e.molt)])].sort()
  const total = Math.max(picture.total, downNames.length)
  const since = earliest([...picture.down.map((d) => d.since), ...troubled.map((e) => e.incident ?? e.created_at)])
  const downPart = downNames.length ? `${downNames.length} of ${total} molts DOWN since ${hhmm(since)}: ${few(downNames, 6)}` : ''
  let subject: string
  if (troubled.length && recovered.length) subject = `${troubled.length} alerts, ${recovered.length} molts UP again; ${downPart || `all ${total} molts up`}`
  else if (troubled.length) subject = downPart || `${troubled.length} alerts: ${few([...new Set(troubled.map((e) => e.molt))].sort(), 6)}`
  else if (recovered.length) subject = `${recovered.length} molts UP again: ${few(recovered.map((e) => e.molt).sort(), 6)}; ${downNames.length ? `${downNames.length} of ${total} still DOWN` : `all ${total} molts up`}`
  else subject = `${entries.length} notices: ${few(entries.map((e) => e.molt), 6)}`

  const lines = [
    `Claw Mountain host ${host}: ${downNames.length ? `${downNames.length} of ${total} molts are DOWN${since ? ` since ${whenUtc(since)}` : ''}.` : `all ${total} molts are up.`}`,
    `This digest groups ${entries.length} notices that came within ${Math.round(waitMs / 1000)} s of each other; each follows in full below.`,
    '',
  ]
  if (troubled.length) lines.push('Trouble:', ...troubled.map((e) => `  ${e.summary}`), '')
  if (recovered.length) lines.push('UP again:', ...recovered.map((e) => `  ${e.summary}`), '')
  if (other.length) lines.push('Other notices:', ...other.map((e) => `  ${e.summary}`), '')
  if (downNames.length) lines.push(`DOWN now: ${downNames.join(', ')}`, '')
  entries.forEach((e, i) => lines.push(`=== ${i + 1}/${entries.length}: ${e.subject} ===`, '', e.body.trimEnd(), ''))
  return { subject: `[Claw Mountain] ${subject}`, body: `${lines.join('\n').trimEnd()}\n` }
}

/** "a, b, c and 17 more" */
export function few(names: string[], max: number): string {
  return names.length <= max ? names.join(', ') : `${names.slice(0, max).join(', ')} and ${names.length - max} more`
}

function earliest(times: string[]): string {
  const valid = times.filter((t) => !Number.isNaN(Date.parse(t)))
  return valid.length ? valid.reduce((a, b) => (Date.parse(a) <= Date.parse(b) ? a : b)) : ''
}

function hhmm(at: string): string {
  return at ? `${new Date(at).toISOString().slice(11, 16)} UTC` : 'now'
}

function whenUtc(at: string): string {
  return `${new Date(at).toISOString().slice(0, 16).replace('T', ' ')} UTC`
}
