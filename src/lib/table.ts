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
