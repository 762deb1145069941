import { spawnSync } from 'node:child_process'
import { accessSync, constants, statSync } from 'node:fs'
import { join } from 'node:path'
import { InputError, quote } from '../lib/errors.ts'

/**
 * The command a schedule runs: `clmnt molt health watch <name> …` with absolute paths only,
 * rendered for cron (/bin/sh words) or for systemd (ExecStart= words).
 */

export interface WatchOptions {
  name: string
  /** absolute */
  baseDir: string
  interval: number
  alertEmails: string[]
  consecutiveFailures?: number
  remind?: string
  notifyMolt?: string
  restart?: boolean
  timeoutMs?: number
}

/** The watch's arguments. `--interval` always: the watch records it, and `status` uses it to spot a stopped schedule. */
export function watchArgs(o: WatchOptions): string[] {
  const args = ['molt', 'health', 'watch', o.name, '--base-dir', o.baseDir, '--interval', String(o.interval)]
  for (const email of o.alertEmails) args.push('--alert-email', email)
  if (o.consecutiveFailures !== undefined) args.push('--consecutive-failures', String(o.consecutiveFailures))
  if (o.remind !== undefined) args.push('--remind', o.remind)
  if (o.notifyMolt !== undefined) args.push('--notify-molt', o.notifyMolt)
  if (o.restart) args.push('--restart')
  if (o.timeoutMs !== undefined) args.push('--timeout', String(o.timeoutMs))
  return args
}

export type ClmntKind = 'compiled' | 'installed' | 'dist' | 'source'

let located: { argv: string[]; kind: ClmntKind; warning?: string } | undefined

/** Where `clmnt self install` puts the binary by default, then any `clmnt` on PATH. */
export function installedCandidates(path = process.env.PATH ?? ''): string[] {
  const dirs = ['/usr/local/bin', ...path.split(':').filter((d) => d.startsWith('/'))]
  return [...new Set(dirs.map((d) => join(d, 'clmnt')))]
}

/** A clmnt binary that knows `health watch`: a build older than the watch would fail every run. */
const knowsWatch = (bin: string) => spawnSync(bin, ['molt', 'health', 'watch', '--help'], { stdio: 'ignore', timeout: 10_000 }).status === 0

/**
 * How to start clmnt from a schedule: this very executable when we are the compiled binary (its
 * modules live under /$bunfs); else the installed binary (`clmnt self install`), so schedules do
 * not point into a checkout that may move; else the repository's compiled `dist/clmnt` (it starts
 * faster than bun + source, and cron starts it often); else this `bun` with the absolute `src/cli.ts`.
 */
export function clmntCommand(): { argv: string[]; kind: ClmntKind; warning?: string } {
  if (located) return located
  const source = { argv: [process.execPath, join(import.meta.dir, '..', 'cli.ts')], kind: 'source' as const }
  if (import.meta.dir.startsWith('/$bunfs/')) return (located = { argv: [process.execPath], kind: 'compiled' })
  const installed = installedCandidates().find((bin) => isExecutableFile(bin) && knowsWatch(bin))
  if (installed) return (located = { argv: [installed], kind: 'installed' })
  const dist = join(import.meta.dir, '..', '..', 'dist', 'clmnt')
  if (!isExecutableFile(dist)) located = source
  else if (knowsWatch(dist)) located = { argv: [dist], kind: 'dist' }
  else located = { ...source, warning: `${dist} is out of date (it has no \`health watch\`): the schedule runs bun + src/cli.ts; rebuild with \`bun run build\` (or install with \`clmnt self install\`) and run setup again` }
  return located
}

export function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false
    accessSync(path, constants.X_OK)
    return true
  } catch {
    return false
  }
}

/**
 * Refuse what no quoting can carry through cron: control characters (a newline would end the
 * crontab line) and `%`, which cron turns into a newline *before* the shell sees the line — even
 * inside quotes — and feeds the rest to the command's stdin. `\%` would escape it, but then a value
 * ending in a backslash followed by % cannot be written at all; refusing is simpler and exact.
 */
export function assertSchedulable(value: string, what: string): void {
  if (/[\x00-\x1f\x7f]/.test(value)) throw new InputError(`${what} ${quote(value)} contains a control character: it cannot go into a schedule`)
  if (value.includes('%')) throw new InputError(`${what} ${quote(value)} contains "%", which cron turns into a newline: use a path or value without it`)
}

/** One /bin/sh word: inside single quotes nothing is special; a ' is closed, escaped and reopened. */
export function shQuote(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`
}

/** Vixie/Debian cron reads at most 999 characters of a command and silently drops the rest. */
export const CRON_COMMAND_MAX = 999

/** tee by absolute path, like everything else on the line (cron's PATH is short and not ours to trust). */
export function findTee(): string {
  const dirs = ['/usr/bin', '/bin', ...(process.env.PATH ?? '').split(':').filter((d) => d.startsWith('/'))]
  const found = dirs.map((d) => join(d, 'tee')).find(isExecutableFile)
  if (!found) throw new InputError('tee is not installed (coreutils): the schedule needs it for .molt-state/cron.err')
  return found
}

/**
 * The command part of a crontab line:
 *
 *   '<clmnt>' 'molt' 'health' 'watch' … 2>&1 >/dev/null | '/usr/bin/tee' '<home>/.molt-state/cron.err'
 *
 * stdout goes to /dev/null: the watch keeps its log, status and history in .molt-state. stderr —
 * where the watch speaks only when something needs a human (a notice it could not deliver, an
 * alert with no channel configured) — goes through tee: into cron.err, overwritten each run so it
 * holds the last run's and can never grow (`--status` shows it), and on to cron, which mails it to
 * MAILTO when it is not empty. So cron mails nothing on a normal run. Unlike a `2>file` redirect,
 * tee still passes the text on when it cannot open the file, and the watch still runs.
 */
export function cronCommand(argv: string[], errFile: string, tee = findTee()): string {
  for (const arg of [...argv, errFile, tee]) assertSchedulable(arg, 'value')
  const command = `${argv.map(shQuote).join(' ')} 2>&1 >/dev/null | ${shQuote(tee)} ${shQuote(errFile)}`
  const bytes = Buffer.byteLength(command)
  if (bytes > CRON_COMMAND_MAX) {
    throw new InputError(`the watch command would be ${bytes} characters; cron cuts commands at ${CRON_COMMAND_MAX}: use fewer --alert-email values or a shorter base dir`)
  }
  return command
}

// a single-quoted word; inside it, shQuote writes a quote as '\''
const QUOTED = `'((?:[^']|'\\\\'')*)'`
const unquote = (word: string) => word.replaceAll(`'\\''`, "'")

/** The argv of a crontab command written by cronCommand (single-quoted words); null when it is not one. */
export function parseCronCommand(command: string): { argv: string[]; errFile: string | null } | null {
  const words: string[] = []
  let rest = command.trim()
  const word = new RegExp(`^${QUOTED}(?=\\s|$)`)
  for (let match = word.exec(rest); match; match = word.exec(rest)) {
    words.push(unquote(match[1]!))
    rest = rest.slice(match[0].length).trimStart()
  }
  if (!words.length) return null
  const err = new RegExp(`^2>&1 >/dev/null \\| ${QUOTED} ${QUOTED}$`).exec(rest)
  return { argv: words, errFile: err ? unquote(err[2]!) : null }
}

/**
 * One ExecStart= word. systemd expands `%` specifiers and `$VAR` even inside quotes, and reads C
 * escapes in them: each is escaped.
 */
export function systemdQuote(value: string): string {
  return `"${value.replace(/[\\"%$]/g, (c) => (c === '%' ? '%%' : c === '$' ? '$$' : `\\${c}`))}"`
}
