/** Plain aligned columns; colour codes are not counted in the width. */
export function renderTable(header: string[], rows: string[][]): string {
  const visible = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, '').length
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => visible(r[i] ?? ''))))
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c + ' '.repeat(widths[i]! - visible(c))))
      .join('  ')
      .trimEnd()
  return [line(header), ...rows.map(line)].join('\n') + '\n'
}

/**
 * The columns a molt table may have, in the one order every command uses (`molt list`, `health
 * check`, `health status`, …): whatever a table shows of these, it shows in this order, MOLT first.
 */
export const MOLT_COLUMNS = ['MOLT', 'STATUS', 'PORT', 'PID', 'GATEWAY', 'HTTP', 'TIME', 'CHECKED', 'FAILS', 'REASON', 'HOME'] as const

/** The header for `columns` after checking that they follow MOLT_COLUMNS (a typo or a reorder fails at once). */
export function moltHeader(...columns: (typeof MOLT_COLUMNS)[number][]): string[] {
  const at = columns.map((c) => MOLT_COLUMNS.indexOf(c))
  if (at.some((i, k) => k > 0 && i <= at[k - 1]!)) throw new Error(`molt table columns out of order: ${columns.join(' ')}`)
  return columns
}
