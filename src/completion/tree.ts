import type { ArgDef, ArgsDef, CommandDef, CommandMeta } from 'citty'

/**
 * The command tree as the completion scripts need it, walked from the same citty definitions the
 * runner resolves: every subcommand (lazy ones loaded), its options with their aliases, the
 * choices of enum options, and what each value or positional is — so a command added to
 * src/commands shows up in the next generated script without touching this code.
 */
export type ValueKind = 'molt' | 'file' | 'dir' | 'user' | 'none'

export interface OptionSpec {
  /** as typed: ["-d", "--base-dir"]; a boolean that defaults to on is offered as --no-<name> */
  flags: string[]
  description: string
  takesValue: boolean
  /** enum options */
  choices: string[] | null
  value: ValueKind
}

export interface PositionalSpec {
  name: string
  description: string
  value: ValueKind
}

export interface CommandNode {
  name: string
  /** words after the program name: [] for the root, ["molt", "health", "check"] */
  path: string[]
  description: string
  subcommands: CommandNode[]
  /** the command's own options, then the global ones */
  options: OptionSpec[]
  positionals: PositionalSpec[]
}

type AnyCommand = CommandDef<ArgsDef>

const resolve = async <T>(value: unknown): Promise<T> => (typeof value === 'function' ? await value() : await value) as T

/** What goes into a generated script unquoted: command names, flags, choices. */
const WORD = /^[A-Za-z0-9_][A-Za-z0-9_.+-]*$/

function word(text: string, what: string): string {
  if (!WORD.test(text)) throw new Error(`cannot complete ${what} ${JSON.stringify(text)}: only letters, digits and _ . + - are allowed`)
  return text
}

export async function commandTree(root: AnyCommand, globals: ArgsDef, name = 'clmnt'): Promise<CommandNode> {
  const globalOptions = options(globals)
  const walk = async (cmd: AnyCommand, nodeName: string, path: string[]): Promise<CommandNode> => {
    const meta = await resolve<CommandMeta | undefined>(cmd.meta)
    const args = await resolve<ArgsDef>(cmd.args ?? {})
    const subs = await resolve<Record<string, unknown> | undefined>(cmd.subCommands)
    const subcommands: CommandNode[] = []
    for (const [subName, sub] of Object.entries(subs ?? {})) {
      const subCmd = await resolve<AnyCommand>(sub)
      const subMeta = await resolve<CommandMeta | undefined>(subCmd.meta)
      if (subMeta?.hidden) continue
      subcommands.push(await walk(subCmd, word(subName, 'command'), [...path, subName]))
    }
    const positionals = Object.entries(args)
      .filter(([, def]) => def.type === 'positional')
      .map(([argName, def]) => ({ name: argName, description: def.description ?? '', value: valueKind(argName, def) }))
    return { name: nodeName, path, description: meta?.description ?? '', subcommands, options: [...options(args), ...globalOptions], positionals }
  }
  return walk(root, name, [])
}

function options(args: ArgsDef): OptionSpec[] {
  const out: OptionSpec[] = []
  for (const [name, def] of Object.entries(args) as [string, ArgDef][]) {
    if (def.type === 'positional') continue
    const aliases = 'alias' in def && def.alias ? [def.alias].flat() : []
    const negated = def.type === 'boolean' && def.default === true
    const flags = [...aliases.map((a) => (a.length === 1 ? `-${word(a, 'alias')}` : `--${word(a, 'alias')}`)), `--${negated ? 'no-' : ''}${word(name, 'option')}`]
    const takesValue = def.type === 'string' || def.type === 'enum'
    const choices = def.type === 'enum' ? (def.options ?? []).map((c) => word(String(c), 'choice')) : null
    const description = negated ? ((def as { negativeDescription?: string }).negativeDescription ?? def.description ?? '') : (def.description ?? '')
    out.push({ flags, description, takesValue, choices, value: takesValue ? valueKind(name, def) : 'none' })
  }
  return out
}

/** From the argument's name and value hint: molt names, files, folders, users, or nothing to offer. */
export function valueKind(name: string, def: ArgDef): ValueKind {
  const description = def.description ?? ''
  if (def.type === 'positional') {
    if (name === 'name' || /^molt name/i.test(description)) return 'molt'
    return /archive|file|path|dir/i.test(name) ? 'file' : 'none'
  }
  const hint = 'valueHint' in def ? (def.valueHint ?? '') : ''
  if (hint === 'name' && /molt/i.test(description)) return 'molt'
  if (hint === 'dir') return 'dir'
  if (/file|archive/.test(hint)) return 'file'
  if (hint === 'user') return 'user'
  return 'none'
}

/** Every node, the root first, parents before children. */
export function flatten(node: CommandNode): CommandNode[] {
  return [node, ...node.subcommands.flatMap(flatten)]
}

/** The kind of value an option takes, as the scripts encode it: "choice:cron,systemd", "molt", "none". */
export function valueCode(option: OptionSpec): string {
  return option.choices ? `choice:${option.choices.join(',')}` : option.value
}

/** For shells whose single quotes are plain (bash, zsh): 'it'\''s'. */
export function singleQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`
}
