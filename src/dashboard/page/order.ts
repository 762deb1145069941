import type { DashboardMolt, MoltSilence } from '../types.ts'
import type { Tone } from './format.ts'

/**
 * Problems first: what the page shows at the top, what the summary counts and what its filters
 * pick. Pure (no DOM): the unit tests read it as the page does.
 */

/** The order of the page, worst first; within a group, molts go by name. */
export const GROUPS = ['down', 'unhealthy', 'stopped', 'stale', 'starting', 'silenced', 'healthy'] as const
export type Group = (typeof GROUPS)[number]

export const GROUP_TONE: Record<Group, Tone> = { down: 'bad', unhealthy: 'warn', stopped: 'bad', stale: 'none', starting: 'none', silenced: 'none', healthy: 'ok' }

export const GROUP_HELP: Record<Group, string> = {
  down: 'dead, or declared DOWN by the watch',
  unhealthy: 'answering badly or not at all (or its state could not be read)',
  stopped: 'the gateway is not running',
  stale: 'no check recorded within 3 × the watch interval, or never checked: is the schedule running?',
  starting: 'within its start-up grace',
  silenced: 'silenced: checks recorded, notices held',
  healthy: 'answering',
}

/** The silence holding the molt's notices now (its own or the whole fleet's), if any. */
export function silenceOf(m: DashboardMolt): MoltSilence | null {
  return m.silence ?? null
}

export function groupOf(m: DashboardMolt): Group {
  // a silenced molt is one the operator already knows about: below the problems nobody has seen
  if (silenceOf(m)) return 'silenced'
  if (m.phase === 'down' || m.health === 'dead') return 'down'
  if (m.health === 'unhealthy' || m.health === 'unknown') return 'unhealthy'
  if (m.health === 'stopped') return 'stopped'
  if (m.health === null || m.stale) return 'stale'
  if (m.health === 'starting') return 'starting'
  return 'healthy'
}

const RANK = Object.fromEntries(GROUPS.map((g, i) => [g, i])) as Record<Group, number>

export function problemsFirst(molts: DashboardMolt[]): DashboardMolt[] {
  return molts
    .map((m) => ({ m, rank: RANK[groupOf(m)] }))
    .sort((a, b) => a.rank - b.rank || (a.m.name < b.m.name ? -1 : a.m.name > b.m.name ? 1 : 0))
    .map((x) => x.m)
}

export function groupCounts(molts: DashboardMolt[]): Record<Group, number> {
  const counts = Object.fromEntries(GROUPS.map((g) => [g, 0])) as Record<Group, number>
  for (const m of molts) counts[groupOf(m)]++
  return counts
}

/** What the operator narrowed the list to: kept in the URL's hash, so a reload (or a shared link) keeps it. */
export interface ViewFilter {
  groups: Group[]
  query: string
}

export function matches(m: DashboardMolt, filter: ViewFilter): boolean {
  if (filter.groups.length && !filter.groups.includes(groupOf(m))) return false
  const q = filter.query.trim().toLowerCase()
  return !q || m.name.toLowerCase().includes(q)
}

/** "#show=down,unhealthy&q=mail" ⇄ the filter; unknown groups and keys are ignored. */
export function parseHash(hash: string): ViewFilter {
  const params = new URLSearchParams(hash.replace(/^#/, ''))
  const groups = (params.get('show') ?? '')
    .split(',')
    .filter((g): g is Group => (GROUPS as readonly string[]).includes(g))
  return { groups: GROUPS.filter((g) => groups.includes(g)), query: params.get('q') ?? '' }
}

export function formatHash(filter: ViewFilter): string {
  const params = new URLSearchParams()
  if (filter.groups.length) params.set('show', GROUPS.filter((g) => filter.groups.includes(g)).join(','))
  if (filter.query) params.set('q', filter.query)
  // URLSearchParams writes "," as %2C; the hash reads better with it plain
  const text = params.toString().replace(/%2C/g, ',')
  return text ? `#${text}` : ''
}

/**
 * Which items can stay where they are when a list is reordered: `seq[i]` is the current position
 * of the item wanted at i (-1: new). The longest increasing run of positions stays; only the
 * others move. A moved node loses the focus (and a moved card its hover), so few moves matter:
 * one molt changing state moves one node, not every node between its old and new place.
 */
export function staying(seq: number[]): Set<number> {
  // patience sorting: tails[k] = index in seq of the smallest tail of an increasing run of length k+1
  const tails: number[] = []
  const prev: number[] = new Array(seq.length).fill(-1)
  seq.forEach((v, i) => {
    if (v < 0) return
    let lo = 0
    let hi = tails.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (seq[tails[mid]!]! < v) lo = mid + 1
      else hi = mid
    }
    if (lo > 0) prev[i] = tails[lo - 1]!
    tails[lo] = i
  })
  const keep = new Set<number>()
  for (let i = tails.at(-1) ?? -1; i >= 0; i = prev[i]!) keep.add(i)
  return keep
}
