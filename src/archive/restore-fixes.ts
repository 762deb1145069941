import { clmntJobMolt, joinLines, splitLines, type Line } from '../schedule/crontab-edit.ts'
import { cronCommand, parseCronCommand, shQuote } from '../schedule/job.ts'

/**
 * What a restored home needs to fit where it now lives: pure text edits (no I/O), so each is a
 * table of cases in the unit tests.
 */

/** A path prefix and its replacement: `[old home, new home]`, `[old base dir, new base dir]`. */
export type PathMap = [from: string, to: string][]

/** One value for a shell KEY=VALUE line: bare when nothing in it is special to the shell; paths quoted, as `molt create` writes them. */
export function shellValue(value: string): string {
  return /^[A-Za-z0-9_@%+=:,.-]*$/.test(value) ? value : `"${value.replace(/[\\"$`]/g, '\\$&')}"`
}

/**
 * `.molt-info` with each KEY=VALUE of `values` set: the first line of that key replaced in place,
 * later ones removed (never a second RESTORED= line), a missing key appended. Other lines keep
 * their bytes.
 */
export function setMoltInfoValues(text: string, values: Record<string, string>): string {
  const lines = splitLines(text)
  const done = new Set<string>()
  const out: Line[] = []
  for (const line of lines) {
    const key = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=/.exec(line.text)?.[1]
    if (key === undefined || !Object.hasOwn(values, key)) {
      out.push(line)
      continue
    }
    if (done.has(key)) continue
    done.add(key)
    out.push({ text: `${key}=${shellValue(values[key]!)}`, eol: line.eol || '\n' })
  }
  const last = out.at(-1)
  if (last && last.eol === '') out[out.length - 1] = { ...last, eol: '\n' }
  for (const [key, value] of Object.entries(values)) if (!done.has(key)) out.push({ text: `${key}=${shellValue(value)}`, eol: '\n' })
  return joinLines(out)
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

/**
 * Replace path prefixes inside a string, only where a whole path starts: `/srv/fleet/alpha` and
 * `/srv/fleet` match in "/srv/fleet/alpha/x" and "--dir=/srv/fleet", not in "/srv/fleet2".
 * The longest prefix wins, and each occurrence is replaced once.
 */
export function rewritePaths(value: string, map: PathMap): string {
  const pairs = map.filter(([from, to]) => from && from !== to && from !== '/').sort((a, b) => b[0].length - a[0].length)
  if (!pairs.length) return value
  const pattern = new RegExp(`(^|[^A-Za-z0-9._/-])(${pairs.map(([from]) => escapeRegExp(from.replace(/\/+$/, ''))).join('|')})(?=/|$|[^A-Za-z0-9._-])`, 'g')
  const to = new Map(pairs.map(([from, t]) => [from.replace(/\/+$/, ''), t.replace(/\/+$/, '')]))
  return value.replace(pattern, (_, before: string, from: string) => `${before}${to.get(from)}`)
}

/**
 * openclaw.json with the old absolute paths in its string values rewritten. null when the text is
 * not JSON (left as it is, with a warning); `changed` false when no value held an old path.
 */
export function rewriteOpenclawConfig(text: string, map: PathMap): { text: string; changed: number } | null {
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch {
    return null
  }
  let changed = 0
  const walk = (value: unknown): unknown => {
    if (typeof value === 'string') {
      const next = rewritePaths(value, map)
      if (next !== value) changed++
      return next
    }
    if (Array.isArray(value)) return value.map(walk)
    if (value && typeof value === 'object') {
      const out: Record<string, unknown> = {}
      for (const [k, v] of Object.entries(value)) out[k] = walk(v)
      return out
    }
    return value
  }
  const next = walk(data)
  if (!changed) return { text, changed: 0 }
  return { text: `${JSON.stringify(next, null, 2)}\n`, changed }
}

export interface CrontabRewrite {
  text: string
  /** clmnt watch lines now pointing at this host's clmnt and base dir */
  rewritten: number
  warnings: string[]
}

/**
 * An archived crontab made to run on this host: every clmnt `molt health watch` line gets this
 * host's clmnt command, `--base-dir`, and its cron.err path under the new home; schedule fields,
 * markers and everything else keep their bytes. Other lines that name the old base dir are only
 * reported: they are not clmnt's to edit.
 */
export function rewriteCrontab(text: string, options: { clmnt: string[]; baseDir: string; map: PathMap; tee: string }): CrontabRewrite {
  const lines = splitLines(text)
  const warnings: string[] = []
  let rewritten = 0
  let foreign = 0
  const olds = options.map.filter(([from, to]) => from !== to).map(([from]) => from)
  for (const [index, line] of lines.entries()) {
    if (line.text.trimStart().startsWith('#')) continue
    if (!clmntJobMolt(line.text)) {
      if (olds.some((old) => rewritePaths(line.text, [[old, '\0']]) !== line.text)) foreign++
      continue
    }
    const match = /^(\s*(?:\S+\s+){5})(.*)$/.exec(line.text)
    const parsed = match ? parseCronCommand(match[2]!) : null
    const at = parsed ? parsed.argv.findIndex((w, i) => w === 'molt' && parsed.argv[i + 1] === 'health' && parsed.argv[i + 2] === 'watch') : -1
    if (!match || !parsed || at < 0) {
      warnings.push(`crontab line ${index + 1} runs a clmnt watch clmnt cannot read: left as it is`)
      continue
    }
    const args = parsed.argv.slice(at)
    for (let i = 0; i < args.length - 1; i++) if (args[i] === '--base-dir' || args[i] === '-d') args[i + 1] = options.baseDir
    const errFile = parsed.errFile === null ? null : rewritePaths(parsed.errFile, options.map)
    try {
      const command = errFile === null ? [...options.clmnt, ...args].map(shQuote).join(' ') : cronCommand([...options.clmnt, ...args], errFile, options.tee)
      lines[index] = { text: `${match[1]}${command}`, eol: line.eol }
      rewritten++
    } catch (error) {
      warnings.push(`crontab line ${index + 1}: ${(error as Error).message}; left as it is`)
    }
  }
  if (foreign) warnings.push(`${foreign} other crontab line(s) mention the old base dir: they are not clmnt's; check them with crontab -u <molt> -l`)
  return { text: joinLines(lines), rewritten, warnings }
}
