import type { ArgDef, ArgsDef, CommandDef, CommandMeta } from 'citty'
import { parseArgs, type ParseArgsConfig } from 'node:util'
import pkg from '../package.json' with { type: 'json' }
import { resolveBaseDir, type BaseDir } from './fleet/base-dir.ts'
import { ClmntError, UsageError, quote } from './lib/errors.ts'
import { createLogger, wantColor, type Logger } from './lib/log.ts'
import { didYouMean } from './lib/suggest.ts'

/**
 * Our own runner around citty command definitions. citty's runMain ignores unknown flags and extra
 * positionals, prints stack traces for expected failures and shows help without the full command
 * path; this one is strict, maps errors to exit codes, and returns the code instead of exiting.
 */

export interface Globals {
  baseDirFlag?: string
  verbose: boolean
  quiet: boolean
  noColor: boolean
}

/** What every command's run() receives as `data`. */
export interface RunData {
  globals: Globals
  log: Logger
  /** colour on stdout */
  color: boolean
  /** "clmnt molt health check" */
  path: string
  baseDir(): BaseDir
  stdout(text: string): void
}

type AnyCommand = CommandDef<ArgsDef> & UsageErrorHandler

/**
 * A command may answer bad usage itself, e.g. a Nagios plugin must print UNKNOWN and exit 3 for
 * any failure, a bad command line included. Returning undefined keeps the usual exit 2.
 */
export interface UsageErrorHandler {
  onUsageError?(message: string, argv: string[]): number | undefined
}

export const GLOBAL_ARGS = {
  'base-dir': { type: 'string', alias: 'd', valueHint: 'dir', description: 'fleet base directory (default: $CLMNT_BASE_DIR, else nearest folder with molts.json, else cwd)' },
  verbose: { type: 'boolean', alias: 'v', description: 'more detail, and the cause of errors' },
  quiet: { type: 'boolean', alias: 'q', description: 'only errors on stderr' },
  'no-color': { type: 'boolean', description: 'no colours (also NO_COLOR=1)' },
  help: { type: 'boolean', alias: 'h', description: 'show help' },
  version: { type: 'boolean', description: 'print the version' },
} as const satisfies ArgsDef

export const VERSION: string = pkg.version

interface Resolved {
  chain: { name: string; cmd: AnyCommand }[]
  rest: string[]
}

const resolve = async <T>(value: unknown): Promise<T> => (typeof value === 'function' ? await value() : await value) as T

async function resolveChain(root: AnyCommand, argv: string[]): Promise<Resolved> {
  const chain = [{ name: 'clmnt', cmd: root }]
  const rest: string[] = []
  let cmd = root
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!
    const subCommands = await resolve<Record<string, unknown> | undefined>(cmd.subCommands)
    if (!subCommands || token === '--') {
      rest.push(...argv.slice(i))
      break
    }
    if (token.startsWith('-')) {
      rest.push(token)
      if ((token === '-d' || token === '--base-dir') && i + 1 < argv.length) rest.push(argv[++i]!)
      continue
    }
    const sub = Object.hasOwn(subCommands, token) ? subCommands[token] : undefined
    if (!sub) {
      const path = chain.map((c) => c.name).join(' ')
      const names = Object.keys(subCommands)
      const hint = didYouMean(token, names, (w) => `'${[...chain.map((c) => c.name), w].join(' ')}'`)
      throw withPath(new UsageError(`unknown command ${quote(token)}${hint || `; available: ${names.join(', ')}`}`), path)
    }
    cmd = await resolve<AnyCommand>(sub)
    chain.push({ name: token, cmd })
  }
  return { chain, rest }
}

/** A usage error remembers which command it belongs to, for the "Run … --help" hint. */
function withPath(error: UsageError, path: string): UsageError {
  ;(error as UsageError & { commandPath?: string }).commandPath = path
  return error
}

export interface ParsedCommandLine {
  values: Record<string, string | string[] | boolean | undefined>
  globals: Globals & { version: boolean }
}

/** Strict parse: unknown options, missing values, extra positionals and bad choices are usage errors. */
export function parseCommandLine(tokens: string[], argsDef: ArgsDef): ParsedCommandLine {
  const defs = { ...GLOBAL_ARGS, ...argsDef } as Record<string, ArgDef>
  const options: Options = {}
  const aliasOf = new Map<string, string>()
  const positionals: [string, ArgDef][] = []
  for (const [name, def] of Object.entries(defs)) {
    if (def.type === 'positional') {
      positionals.push([name, def])
      continue
    }
    const type = def.type === 'boolean' ? 'boolean' : 'string'
    const multiple = isRepeatable(def)
    options[name] = { type, multiple }
    for (const alias of aliasesOf(def)) {
      if (alias.length === 1) options[name]!.short = alias
      else {
        options[alias] = { type, multiple }
        aliasOf.set(alias, name)
      }
    }
  }
  // `--no-record` turns off a boolean that defaults to on (citty's convention)
  const negated = new Set<string>()
  const args: string[] = []
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!
    if (token === '--') {
      args.push(...tokens.slice(i))
      break
    }
    const name = token.startsWith('--no-') ? token.slice(5) : ''
    const next = tokens[i + 1]
    if (name && !(token.slice(2) in options) && defs[name]?.type === 'boolean') negated.add(name)
    else if (next !== undefined && /^-\d/.test(next) && takesValue(token, options)) {
      // node:util refuses "--timeout -1" as ambiguous; pass the number on so the range check names it
      args.push(`--${token.startsWith('--') ? token.slice(2) : shortToLong(token, options)}=${next}`)
      i++
    } else args.push(token)
  }
  let parsed: ReturnType<typeof parseArgs>
  try {
    parsed = parseArgs({ args, options, strict: true, allowPositionals: true })
  } catch (error) {
    throw new UsageError(describeParseError(error as Error & { code?: string }, Object.keys(options)))
  }
  const values: Record<string, string | string[] | boolean | undefined> = {}
  for (const [key, value] of Object.entries(parsed.values)) {
    const name = aliasOf.get(key) ?? key
    const previous = values[name]
    // a repeatable option collects every value, also across its aliases
    values[name] = Array.isArray(value) ? [...(Array.isArray(previous) ? previous : []), ...value.map(String)] : (value as string | boolean)
  }
  for (const name of negated) values[name] = false
  const extra = [...parsed.positionals]
  for (const [name, def] of positionals) {
    const value = extra.shift()
    if (value !== undefined) values[name] = value
    else if (def.required) throw new UsageError(`missing argument <${name}>`)
  }
  if (extra.length) throw new UsageError(`unexpected argument ${quote(extra[0]!)}`)
  for (const [name, def] of Object.entries(defs)) {
    const value = values[name]
    if (value === undefined && def.default !== undefined) values[name] = isRepeatable(def) ? [String(def.default)] : (def.default as string | boolean)
    if (def.type === 'enum' && typeof value === 'string' && def.options && !def.options.includes(value)) {
      throw new UsageError(`invalid value ${quote(value)} for --${name}: expected one of ${def.options.join(', ')}`)
    }
    if (def.type === 'string' && def.required && value === undefined) throw new UsageError(`missing option --${name}`)
  }
  return {
    values,
    globals: {
      baseDirFlag: values['base-dir'] as string | undefined,
      verbose: values.verbose === true,
      quiet: values.quiet === true,
      noColor: values['no-color'] === true,
      version: values.version === true,
    },
  }
}

type Options = NonNullable<ParseArgsConfig['options']>

function shortToLong(token: string, options: Options): string | undefined {
  return Object.entries(options).find(([, o]) => o.short === token.slice(1))?.[0]
}

function takesValue(token: string, options: Options): boolean {
  if (token.includes('=')) return false
  const name = token.startsWith('--') ? token.slice(2) : token.length === 2 ? shortToLong(token, options) : undefined
  return name !== undefined && options[name]?.type === 'string'
}

function describeParseError(error: Error & { code?: string }, known: string[]): string {
  // node:util quotes the option first: "Option '-d, --base-dir <value>' argument missing"
  const option = /'([^']+)'/.exec(error.message)?.[1]?.replace(/ <value>$/, '')
  switch (error.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION': {
      const long = option?.startsWith('--') ? option.slice(2).split('=')[0]! : ''
      return `unknown option ${quote(option ?? '?')}${long ? didYouMean(long, known, (w) => `--${w}`) : ''}`
    }
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      return /does not take an argument/.test(error.message) ? `option ${option ?? ''} takes no value` : `option ${option ?? ''} needs a value`
    default:
      return error.message
  }
}

/** Run the command line; returns the exit code (the entry point sets it: in-process tests must not). */
export async function main(argv: string[], root: AnyCommand): Promise<number> {
  // `clmnt help molt health check` is `clmnt molt health check --help` (gh, kubectl, restic);
  // `clmnt help` and `clmnt help environment` are the help command's own
  if (argv[0] === 'help' && argv.length > 1 && !argv[1]!.startsWith('-') && argv[1] !== 'environment') argv = [...argv.slice(1), '--help']
  const verbose = argv.includes('-v') || argv.includes('--verbose')
  const noColor = argv.includes('--no-color')
  let log = createLogger({ level: verbose ? 'verbose' : 'normal', color: wantColor(noColor, process.stderr) })
  let path = 'clmnt'
  let leaf: AnyCommand | undefined
  try {
    const { chain, rest } = await resolveChain(root, argv)
    path = chain.map((c) => c.name).join(' ')
    leaf = chain.at(-1)!.cmd
    const argsDef = await resolve<ArgsDef>(leaf.args ?? {})
    // help wins over everything else on the line, even a missing argument
    const options = rest.slice(0, rest.includes('--') ? rest.indexOf('--') : undefined)
    if (options.includes('-h') || options.includes('--help')) {
      process.stdout.write(await renderHelp(chain))
      return 0
    }
    const { values, globals } = parseCommandLine(rest, argsDef)
    if (globals.version) {
      process.stdout.write(`clmnt ${VERSION}\n`)
      return 0
    }
    if (!leaf.run && chain.length === 1) {
      // `clmnt` alone: what can I do here? Help on stdout, exit 0 (git, gh, restic)
      process.stdout.write(await renderHelp(chain))
      return 0
    }
    if (!leaf.run) {
      process.stderr.write(await renderHelp(chain))
      throw new UsageError('missing command')
    }
    const level = globals.quiet ? 'quiet' : globals.verbose ? 'verbose' : 'normal'
    log = createLogger({ level, color: wantColor(globals.noColor, process.stderr) })
    let baseDir: BaseDir | undefined
    const data: RunData = {
      globals,
      log,
      path,
      color: wantColor(globals.noColor, process.stdout),
      baseDir: () => {
        baseDir ??= resolveBaseDir({ flag: globals.baseDirFlag, env: process.env.CLMNT_BASE_DIR, cwd: process.cwd() })
        return baseDir
      },
      stdout: (text) => process.stdout.write(text),
    }
    const code = await leaf.run({ rawArgs: argv, args: { _: [], ...values } as never, cmd: leaf, data })
    return typeof code === 'number' ? code : 0
  } catch (error) {
    const code = reportError(error, log, path)
    const own = error instanceof UsageError ? leaf?.onUsageError?.(error.message, argv) : undefined
    return own ?? code
  }
}

function reportError(error: unknown, log: Logger, path: string): number {
  if (error instanceof UsageError) {
    const at = (error as UsageError & { commandPath?: string }).commandPath ?? path
    log.error(`${at}: ${error.message}`)
    process.stderr.write(`Run '${at} --help' for usage.\n`)
    return 2
  }
  if (error instanceof ClmntError) {
    log.error(error.message)
    if (error.cause) log.debug(`cause: ${error.cause instanceof Error ? (error.cause.stack ?? error.cause.message) : String(error.cause)}`)
    return error.exitCode
  }
  const err = error instanceof Error ? error : new Error(String(error))
  // a molt home is 0700 and its user's: as anyone but root (or that user) reading it fails here
  const errno = err as NodeJS.ErrnoException
  if (errno.code === 'EACCES' || errno.code === 'EPERM') {
    log.error(`permission denied${errno.path ? `: ${errno.path}` : ''}: run as root${process.getuid?.() === 0 ? '' : ' (sudo)'}`)
    if (log.level === 'verbose') process.stderr.write(`${err.stack ?? ''}\n`)
    return 1
  }
  log.error(`internal error: ${err.message}`)
  if (log.level === 'verbose') process.stderr.write(`${err.stack ?? ''}\n`)
  else process.stderr.write('Run again with -v for details.\n')
  return 1
}

// ---------------------------------------------------------------------------------------------
// help

/** The help of the command at `path` (words under the root), e.g. for `clmnt help` or the man page. */
export async function helpOf(root: AnyCommand, path: string[]): Promise<string> {
  return renderHelp((await resolveChain(root, path)).chain)
}

async function renderHelp(chain: Resolved['chain']): Promise<string> {
  const path = chain.map((c) => c.name).join(' ')
  const cmd = chain.at(-1)!.cmd
  const meta = await resolve<CommandMeta | undefined>(cmd.meta)
  const argsDef = await resolve<ArgsDef>(cmd.args ?? {})
  const subCommands = await resolve<Record<string, unknown> | undefined>(cmd.subCommands)
  const lines: string[] = []
  if (meta?.description) lines.push(meta.description, '')
  const positionals = Object.entries(argsDef).filter(([, d]) => d.type === 'positional')
  const usage = [path]
  if (subCommands) usage.push('<command>')
  else {
    usage.push('[options]')
    for (const [name, def] of positionals) usage.push(def.required ? `<${name}>` : `[${name}]`)
  }
  lines.push(`Usage: ${usage.join(' ')}`, '')
  if (subCommands) {
    const rows: [string, string][] = []
    for (const [name, sub] of Object.entries(subCommands)) {
      const subMeta = await resolve<CommandMeta | undefined>((await resolve<AnyCommand>(sub)).meta)
      if (!subMeta?.hidden) rows.push([name, subMeta?.description ?? ''])
    }
    lines.push('Commands:', ...columns(rows), '')
  }
  if (positionals.length) {
    lines.push('Arguments:', ...columns(positionals.map(([name, def]) => [name, def.description ?? ''])), '')
  }
  const own = Object.entries(argsDef).filter(([, d]) => d.type !== 'positional')
  if (own.length) lines.push('Options:', ...columns(own.map(optionRow)), '')
  lines.push('Global options:', ...columns(Object.entries(GLOBAL_ARGS as ArgsDef).map(optionRow)), '')
  if (subCommands) lines.push(`Run '${path} <command> --help' for a command's options.`, '')
  if (chain.length === 1) lines.push("Run 'clmnt help environment' for the environment variables clmnt reads.", '')
  return lines.join('\n')
}

function optionRow([name, def]: [string, ArgDef]): [string, string] {
  const aliases = (aliasesOf(def)).map((a) => (a.length === 1 ? `-${a}` : `--${a}`))
  let flag = def.type === 'boolean' && def.default === true ? `--no-${name}` : `--${name}`
  if (def.type === 'string') flag += ` <${def.valueHint ?? 'value'}>${isRepeatable(def) ? '…' : ''}`
  if (def.type === 'enum') flag += ` <${def.options?.join('|') ?? 'value'}>`
  let text = def.description ?? ''
  if (def.type === 'boolean' && def.default === true) text = (def as { negativeDescription?: string }).negativeDescription ?? text
  else if (def.default !== undefined && def.default !== false) text += ` (default: ${def.default})`
  return [[...aliases, flag].join(', '), text]
}

function columns(rows: [string, string][]): string[] {
  const width = Math.min(32, Math.max(...rows.map(([a]) => a.length)))
  return rows.map(([a, b]) => `  ${a.padEnd(width)}  ${b}`.trimEnd())
}

/** `repeatable: true` on a string arg: given several times, the command receives every value (see listArg). */
function isRepeatable(def: ArgDef): boolean {
  return (def as { repeatable?: boolean }).repeatable === true
}

function aliasesOf(def: ArgDef): string[] {
  return 'alias' in def && def.alias ? [def.alias].flat() : []
}
