import type { ArgDef, ArgsDef } from 'citty'
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { UsageError, quote } from './lib/errors.ts'
import { didYouMean } from './lib/suggest.ts'

/**
 * The strict parse of a command's options and arguments (citty's definitions, node:util's parser):
 * unknown options, missing values, extra positionals and bad choices are usage errors, where
 * citty would ignore them.
 */

export interface Globals {
  baseDirFlag?: string
  verbose: boolean
  quiet: boolean
  noColor: boolean
}

export const GLOBAL_ARGS = {
  'base-dir': { type: 'string', alias: 'd', valueHint: 'dir', description: 'fleet base directory (default: $CLMNT_BASE_DIR, else nearest folder with molts.json, else cwd)' },
  verbose: { type: 'boolean', alias: 'v', description: 'more detail, and the cause of errors' },
  quiet: { type: 'boolean', alias: 'q', description: 'only errors on stderr' },
  'no-color': { type: 'boolean', description: 'no colours (also NO_COLOR=1)' },
  help: { type: 'boolean', alias: 'h', description: 'show help' },
  version: { type: 'boolean', description: 'print the version' },
} as const satisfies ArgsDef

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

/** `repeatable: true` on a string arg: given several times, the command receives every value (see listArg). */
export function isRepeatable(def: ArgDef): boolean {
  return (def as { repeatable?: boolean }).repeatable === true
}

export function aliasesOf(def: ArgDef): string[] {
  return 'alias' in def && def.alias ? [def.alias].flat() : []
}
