/**
 * The crontab as text, edited without touching what is not ours. Pure functions: no I/O.
 *
 * Ours is a block: the marker `# MOLT-HEALTH-WATCH <name> …` and the clmnt watch lines for <name>
 * directly after it (a marker alone counts only when it says "(clmnt"). The bash toolkit's block — `# MOLT-HEALTH-WATCH - Health check every …`
 * directly followed by a job running `…/health-watch <name> …` — is recognised so it can be
 * migrated or removed. Every other line (jobs, comments, blank lines, MAILTO= and other
 * environment lines, a job of another program that mentions health-watch) keeps its bytes,
 * including a CRLF ending or a missing final newline. Lines we write end in "\n": cron would pass
 * a "\r" on to the shell as part of the last argument.
 */

export const MARKER = '# MOLT-HEALTH-WATCH'

const NAME = '[a-z_][a-z0-9_-]{0,31}'
const MARKER_LINE = new RegExp(`^#\\s*MOLT-HEALTH-WATCH\\s+(${NAME})(?:\\s|$)`)
const LEGACY_MARKER_LINE = /^#\s*MOLT-HEALTH-WATCH\s+-\s+Health check every\b/
/** five schedule fields, then anything, then our quoted words naming the molt */
const CLMNT_JOB_LINE = new RegExp(`^\\s*(?:\\S+\\s+){5}.*'molt' 'health' 'watch' '(${NAME})'(?:\\s|$)`)
/** `@every`-style or five fields, then the command word and its first argument */
const LEGACY_JOB_LINE = /^\s*(?:@[a-z]+|(?:\S+\s+){4}\S+)\s+(\S+)\s+(\S+)/

export interface Line {
  text: string
  eol: '' | '\n' | '\r\n'
}

export function splitLines(text: string): Line[] {
  const lines: Line[] = []
  let start = 0
  while (start < text.length) {
    const nl = text.indexOf('\n', start)
    if (nl < 0) {
      lines.push({ text: text.slice(start), eol: '' })
      break
    }
    const crlf = nl > start && text[nl - 1] === '\r'
    lines.push({ text: text.slice(start, crlf ? nl - 1 : nl), eol: crlf ? '\r\n' : '\n' })
    start = nl + 1
  }
  return lines
}

export const joinLines = (lines: Line[]) => lines.map((l) => l.text + l.eol).join('')

export type EntryKind = 'clmnt' | 'legacy'

export interface FoundEntry {
  molt: string
  kind: EntryKind
  /** index of the first line (0-based) and one past the last */
  start: number
  end: number
  lines: string[]
}

export interface CrontabScan {
  entries: FoundEntry[]
  /** clmnt watch lines with no marker above them: hand-edited, so left alone and reported */
  strayLines: { index: number; molt: string }[]
}

/** The molt a line runs `clmnt molt health watch` for, or null. */
export function clmntJobMolt(line: string): string | null {
  return CLMNT_JOB_LINE.exec(line)?.[1] ?? null
}

/** The molt a bash-toolkit line runs `…/health-watch` for: the command's basename must be exactly that. */
export function legacyJobMolt(line: string): string | null {
  const match = LEGACY_JOB_LINE.exec(line)
  if (!match) return null
  const unquote = (s: string) => s.replace(/^(['"])(.*)\1$/, '$2')
  if (!/(^|\/)health-watch$/.test(unquote(match[1]!))) return null
  const name = unquote(match[2]!)
  return new RegExp(`^${NAME}$`).test(name) ? name : null
}

export function scanCrontab(text: string): CrontabScan {
  const lines = splitLines(text).map((l) => l.text)
  const entries: FoundEntry[] = []
  const strayLines: CrontabScan['strayLines'] = []
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!
    const marker = MARKER_LINE.exec(line)
    if (marker) {
      const molt = marker[1]!
      let end = i + 1
      while (end < lines.length && clmntJobMolt(lines[end]!) === molt) end++
      // an operator's own note ("# MOLT-HEALTH-WATCH mybot paused, see OPS-12") is not ours:
      // ours has job lines under it, or at least says it was written by clmnt
      if (end > i + 1 || line.includes('(clmnt')) {
        entries.push({ molt, kind: 'clmnt', start: i, end, lines: lines.slice(i, end) })
        i = end - 1
        continue
      }
    }
    if (LEGACY_MARKER_LINE.test(line) && i + 1 < lines.length) {
      const molt = legacyJobMolt(lines[i + 1]!)
      if (molt) {
        entries.push({ molt, kind: 'legacy', start: i, end: i + 2, lines: lines.slice(i, i + 2) })
        i++
        continue
      }
    }
    const stray = clmntJobMolt(line)
    if (stray) strayLines.push({ index: i, molt: stray })
  }
  return { entries, strayLines }
}

export interface EntryEdit {
  text: string
  /** entries taken out (ours and legacy) for this molt */
  removed: FoundEntry[]
  changed: boolean
}

/**
 * Put `block` (marker + job lines, no line endings) in place of the molt's entries — where the
 * first of them was, else at the end — or, with `block` null, just remove them.
 */
export function setEntry(text: string, molt: string, block: string[] | null): EntryEdit {
  for (const line of block ?? []) if (/[\r\n]/.test(line)) throw new Error('a crontab line cannot hold a line break')
  const lines = splitLines(text)
  const removed = scanCrontab(text).entries.filter((e) => e.molt === molt)
  const out = replaceSpans(lines, removed, block)
  const result = joinLines(out)
  return { text: result, removed, changed: result !== text }
}

/**
 * `lines` with the line spans [start, end) taken out and `block` put where the first of them was,
 * else at the end; with `block` null the spans are only removed. Every other line keeps its bytes.
 */
export function replaceSpans(lines: Line[], spans: { start: number; end: number }[], block: string[] | null): Line[] {
  const drop = new Set(spans.flatMap((e) => Array.from({ length: e.end - e.start }, (_, k) => e.start + k)))
  const ours: Line[] = (block ?? []).map((t) => ({ text: t, eol: '\n' }))
  const out: Line[] = []
  let inserted = false
  lines.forEach((line, index) => {
    if (!drop.has(index)) out.push(line)
    else if (!inserted) {
      out.push(...ours)
      inserted = true
    }
  })
  if (!inserted && ours.length) {
    const last = out.at(-1)
    // the last line had no newline: it needs one before ours can follow
    if (last && last.eol === '') out[out.length - 1] = { ...last, eol: '\n' }
    out.push(...ours)
  }
  return out
}

/** A unified diff of two crontab texts (CRLF and a missing final newline made visible), for --dry-run. */
export function diffCrontab(before: string, after: string, labels = { before: 'crontab (now)', after: 'crontab (after)' }, context = 2): string {
  const show = (l: Line) => l.text + (l.eol === '\r\n' ? '␍' : l.eol === '' ? '  ⟨no newline at end⟩' : '')
  const a = splitLines(before).map(show)
  const b = splitLines(after).map(show)
  // longest common subsequence: crontabs are small, O(n·m) is fine
  const lcs = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0))
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!)
  }
  type Op = { op: ' ' | '-' | '+'; text: string; aBefore: number; bBefore: number }
  const ops: Op[] = []
  for (let i = 0, j = 0; i < a.length || j < b.length; ) {
    const at = { aBefore: i, bBefore: j }
    if (i < a.length && j < b.length && a[i] === b[j]) {
      ops.push({ op: ' ', text: a[i]!, ...at })
      i++
      j++
    } else if (i < a.length && (j === b.length || lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) ops.push({ op: '-', text: a[i++]!, ...at })
    else ops.push({ op: '+', text: b[j++]!, ...at })
  }
  const changes = ops.flatMap((o, k) => (o.op === ' ' ? [] : [k]))
  if (!changes.length) return ''
  const out = [`--- ${labels.before}`, `+++ ${labels.after}`]
  for (let c = 0; c < changes.length; ) {
    let last = c
    while (last + 1 < changes.length && changes[last + 1]! - changes[last]! - 1 <= 2 * context) last++
    const hunk = ops.slice(Math.max(0, changes[c]! - context), Math.min(ops.length, changes[last]! + context + 1))
    const aLen = hunk.filter((o) => o.op !== '+').length
    const bLen = hunk.filter((o) => o.op !== '-').length
    const range = (before: number, len: number) => `${len ? before + 1 : before}${len === 1 ? '' : `,${len}`}`
    out.push(`@@ -${range(hunk[0]!.aBefore, aLen)} +${range(hunk[0]!.bBefore, bLen)} @@`)
    for (const o of hunk) out.push(`${o.op}${o.text}`)
    c = last + 1
  }
  return `${out.join('\n')}\n`
}
