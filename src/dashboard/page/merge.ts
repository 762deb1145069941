import type { MoltsResponse } from '../types.ts'

/**
 * A change on top of the fleet the page has: `GET /api/molts?since=<generation>` answers only the
 * molts changed since (`full: false`) with the names gone in `removed`, and the fleet-level fields
 * whole. Pure: the unit tests read it as the page does.
 */
export function mergeSnapshot(have: MoltsResponse | null, got: MoltsResponse): MoltsResponse {
  if (got.full || !have) return got
  const changed = new Map(got.molts.map((m) => [m.name, m]))
  const removed = new Set(got.removed)
  const molts = have.molts.filter((m) => !removed.has(m.name)).map((m) => changed.get(m.name) ?? m)
  const known = new Set(have.molts.map((m) => m.name))
  for (const m of got.molts) if (!known.has(m.name)) molts.push(m)
  return { ...got, full: true, removed: [], molts }
}
