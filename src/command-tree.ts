import type { ArgDef, ArgsDef, CommandDef, CommandMeta } from 'citty'
import { aliasesOf, GLOBAL_ARGS, isRepeatable } from './command-line.ts'
import { UsageError, quote } from './lib/errors.ts'
import { didYouMean } from './lib/suggest.ts'

/**
 * The command tree: finding the command that a command line's words name (a wrong word gets a
 * "did you mean"), and its help, which shows the full command path (citty's shows only the last word).
 */

export type AnyCommand = CommandDef<ArgsDef> & UsageErrorHandler

/**
 * A command may answer bad usage itself, e.g. a Nagios plugin must print UNKNOWN and exit 3 for
 * any failure, a bad command line included. Returning undefined keeps the usual exit 2.
 */
export interface UsageErrorHandler {
  onUsageError?(message: string, argv: string[]): number | undefined
}

export interface Resolved {
  chain: { name: string; cmd: AnyCommand }[]
  rest: string[]
}

/** citty lets meta, args and subCommands be a value, a promise or a function returning either. */
export const resolve = async <T>(value: unknown): Promise<T> => (typeof value === 'function' ? await value() : await value) as T

export async function resolveChain(root: AnyCommand, argv: string[]): Promise<Resolved> {
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

/** The help of the command at `path` (words under the root), e.g. for `clmnt help` or the man page. */
export async function helpOf(root: AnyCommand, path: string[]): Promise<string> {
  return renderHelp((await resolveChain(root, path)).chain)
}

export async function renderHelp(chain: Resolved['chain']): Promise<string> {
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
