import type { Check, DoctorReport, Level } from './types.ts'

/**
 * The checklist. Marks are ✓ ! ✗ – on a UTF-8 terminal; elsewhere (a pipe, a file, cron mail, a
 * C locale) fixed-width ASCII tags a script can grep: [ OK ] [WARN] [FAIL] [SKIP].
 */
export interface RenderStyle {
  unicode: boolean
  color: boolean
}

const MARKS: Record<Level, { unicode: string; ascii: string; color: number }> = {
  ok: { unicode: '✓', ascii: '[ OK ]', color: 32 },
  warn: { unicode: '!', ascii: '[WARN]', color: 33 },
  fail: { unicode: '✗', ascii: '[FAIL]', color: 31 },
  skip: { unicode: '–', ascii: '[SKIP]', color: 90 },
}

/** Unicode marks only where they will show: a terminal whose locale is UTF-8. */
export function wantUnicode(stream: { isTTY?: boolean }, env: Record<string, string | undefined> = process.env): boolean {
  const locale = env.LC_ALL || env.LC_CTYPE || env.LANG || ''
  return Boolean(stream.isTTY) && env.TERM !== 'dumb' && /utf-?8/i.test(locale)
}

export function renderReport(report: DoctorReport, style: RenderStyle): string {
  const paint = (code: number, text: string) => (style.color ? `\x1b[${code}m${text}\x1b[39m` : text)
  const bold = (text: string) => (style.color ? `\x1b[1m${text}\x1b[22m` : text)
  const arrow = style.unicode ? '→' : '->'
  const indent = style.unicode ? '    ' : '         '
  const out: string[] = []
  const line = (check: Check) => {
    const mark = MARKS[check.level]
    out.push(`  ${paint(mark.color, style.unicode ? mark.unicode : mark.ascii)} ${check.title}: ${check.detail}`)
    if (check.advice && (check.level === 'warn' || check.level === 'fail')) out.push(`${indent}${arrow} ${check.advice}`)
  }
  const section = (heading: string, checks: Check[]) => {
    if (!checks.length) return
    out.push(bold(heading))
    checks.forEach(line)
    out.push('')
  }
  section('Host', report.checks.filter((c) => c.group === 'host'))
  for (const molt of report.molts) {
    const own = report.checks.filter((c) => c.molt === molt)
    section(`Molt ${molt}`, own.filter((c) => c.group === 'molt'))
    section(`Monitoring of ${molt}`, own.filter((c) => c.group === 'monitoring'))
  }
  section('Backups', report.checks.filter((c) => c.group === 'backups'))
  const { counts } = report
  const parts = [`${counts.fail} failed`, `${counts.warn} warning(s)`, `${counts.ok} ok`]
  if (counts.skip) parts.push(`${counts.skip} skipped`)
  const verdict = counts.fail ? paint(31, 'problems found') : counts.warn ? paint(33, 'no failures') : paint(32, 'all good')
  out.push(`${verdict}: ${parts.join(', ')}`)
  return `${out.join('\n')}\n`
}
