import { InputError, quote } from '../lib/errors.ts'
import type { FoundEntry } from './crontab-edit.ts'
import { assertEmail } from './options.ts'
import type { SetupRequest } from './plan.ts'

/**
 * What a bash-toolkit entry (`# MOLT-HEALTH-WATCH - Health check every 5min` and its
 * `*\/5 * * * * …/health-watch <molt> --alert-email ops@… >> …/health.log 2>&1` line) asked for,
 * so that migrating it to clmnt keeps every setting. The toolkit's health-watch took
 * --alert-email, --consecutive-failures and --verbose (parseArger, `--opt value` or `--opt=value`);
 * anything else cannot be carried over and is refused, so nothing is dropped without a word.
 */
export interface LegacySettings {
  interval?: number
  alertEmails: string[]
  consecutiveFailures?: number
  /** where the toolkit's job appended its output; clmnt logs to .molt-state/health.log instead */
  logFile?: string
  /** what was there but means nothing to a scheduled run (--verbose) */
  dropped: string[]
}

/** Shell words of a crontab command, up to the first redirection or control operator. */
export function shellWords(command: string): { words: string[]; rest: string } {
  const words: string[] = []
  let i = 0
  const s = command
  while (i < s.length) {
    while (i < s.length && /\s/.test(s[i]!)) i++
    if (i >= s.length) break
    if (/^(\d?>>?|<|\||;|&)/.test(s.slice(i))) return { words, rest: s.slice(i) }
    let word = ''
    while (i < s.length && !/\s/.test(s[i]!)) {
      const c = s[i]!
      if (c === "'" || c === '"') {
        const end = s.indexOf(c, i + 1)
        if (end < 0) throw new Error('unbalanced quote')
        word += s.slice(i + 1, end)
        i = end + 1
      } else if (c === '\\' && i + 1 < s.length) {
        word += s[i + 1]
        i += 2
      } else if (/[|;&<>]/.test(c)) break
      else {
        word += c
        i++
      }
    }
    words.push(word)
  }
  return { words, rest: '' }
}

export function legacySettings(entry: FoundEntry): LegacySettings {
  const line = entry.lines[1] ?? ''
  const refuse = (why: string) => new InputError(`${entry.molt}: the bash toolkit's crontab entry ${why}; nothing was changed. Give the equivalent clmnt options, or remove the old entry first (setup ${entry.molt} --remove)`)
  const job = /^\s*(@[a-z]+|(?:\S+\s+){4}\S+)\s+(.*)$/.exec(line)
  if (!job) throw refuse(`cannot be read (${quote(line)})`)
  const settings: LegacySettings = { alertEmails: [], dropped: [] }
  const expression = job[1]!.trim().split(/\s+/).join(' ')
  const every = /^\*\/(\d+) \* \* \* \*$/.exec(expression)
  if (every) settings.interval = Number(every[1])
  else if (expression === '* * * * *') settings.interval = 1
  else if (expression === '@hourly' || expression === '0 * * * *') settings.interval = 60
  else throw refuse(`runs on the schedule ${quote(expression)}, which clmnt cannot carry over as an interval: give --interval`)
  let parsed: ReturnType<typeof shellWords>
  try {
    parsed = shellWords(job[2]!)
  } catch {
    throw refuse(`cannot be read (${quote(job[2]!)})`)
  }
  const log = /^\d?>>?\s*(\S+)/.exec(parsed.rest)?.[1]
  if (log && log !== '/dev/null') settings.logFile = log
  const args = parsed.words.slice(2) // the health-watch program, the molt name
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined]
    const value = () => {
      const v = inline ?? args[++i]
      if (v === undefined) throw refuse(`ends with ${flag} and no value`)
      return v
    }
    if (flag === '--alert-email') {
      const email = value()
      try {
        settings.alertEmails.push(assertEmail(email))
      } catch {
        throw refuse(`has --alert-email ${quote(email)}, which is not an address clmnt can schedule`)
      }
    } else if (flag === '--consecutive-failures') {
      const n = value()
      if (!/^\d+$/.test(n) || Number(n) < 1 || Number(n) > 64) throw refuse(`has --consecutive-failures ${quote(n)}; clmnt takes 1-64`)
      settings.consecutiveFailures = Number(n)
    } else if (flag === '--verbose' || flag === '-v') settings.dropped.push(flag)
    else throw refuse(`passes ${quote(arg)}, which clmnt does not know`)
  }
  return settings
}

/** Which install options the operator gave: those win over the old entry's. */
export interface GivenOptions {
  interval: boolean
  alertEmails: boolean
  consecutiveFailures: boolean
}

/** The request with the old entry's settings where the command line gave none, and what was carried, in words. */
export function mergeLegacy(request: SetupRequest, given: GivenOptions, legacy: LegacySettings): { request: SetupRequest; carried: string[]; notes: string[] } {
  const merged = { ...request }
  const carried: string[] = []
  const notes: string[] = []
  if (legacy.interval !== undefined && !given.interval) {
    merged.interval = legacy.interval
    carried.push(`--interval ${legacy.interval}m`)
  }
  if (legacy.alertEmails.length) {
    if (given.alertEmails) notes.push(`the old entry's --alert-email ${legacy.alertEmails.join(', ')} is replaced by the one(s) given`)
    else {
      merged.alertEmails = [...new Set(legacy.alertEmails)]
      carried.push(...merged.alertEmails.map((e) => `--alert-email ${e}`))
    }
  }
  if (legacy.consecutiveFailures !== undefined) {
    if (given.consecutiveFailures) notes.push(`the old entry's --consecutive-failures ${legacy.consecutiveFailures} is replaced by the value given`)
    else {
      merged.consecutiveFailures = legacy.consecutiveFailures
      carried.push(`--consecutive-failures ${legacy.consecutiveFailures}`)
    }
  }
  for (const flag of legacy.dropped) notes.push(`${flag} is not carried over: the watch always logs each run to .molt-state/health.log`)
  if (legacy.logFile) notes.push(`the old job appended to ${legacy.logFile}; the watch logs to .molt-state/health.log (clmnt molt health logs)`)
  return { request: merged, carried, notes }
}
