import { discoverFleet, findMolt, type Molt } from '../fleet/discover.ts'
import { requireDuration } from '../lib/duration.ts'
import { UsageError } from '../lib/errors.ts'
import type { RunData } from '../runner.ts'

/** Argument fragments shared by commands (spread into `args`). */
export const moltArg = {
  name: { type: 'positional', required: true, description: 'molt name' },
} as const

export const moltOrAllArgs = {
  name: { type: 'positional', required: false, description: 'molt name (or --all)' },
  all: { type: 'boolean', description: 'every molt of the fleet' },
} as const

export const startupGraceArg = {
  'startup-grace': {
    type: 'string',
    valueHint: 'duration',
    description: 'a gateway not ready yet this soon after its start is "starting", not a failure (default 2m; 0: never)',
  },
} as const

/** --startup-grace, else clmnt.json "startup_grace", else the default; "0" turns the grace off. */
export function startupGraceMs(flag: string | undefined, config: string | undefined): number | undefined {
  const text = flag ?? config
  if (text === undefined) return undefined
  return text === '0' ? 0 : requireDuration(text, flag !== undefined ? '--startup-grace' : 'startup_grace')
}

export const jsonArg = {
  json: { type: 'boolean', description: 'print JSON on stdout (and nothing else there)' },
} as const

/** `<name>` or `--all`, never both, never neither. Warnings of discovery go to stderr. */
export function selectMolts(data: RunData, args: { name?: string; all?: boolean }): { molts: Molt[]; all: boolean } {
  if (args.all && args.name) throw new UsageError('give a molt name or --all, not both')
  if (!args.all && !args.name) throw new UsageError('missing molt name (or --all)')
  const { dir } = data.baseDir()
  data.log.debug(`base dir ${dir} (${data.baseDir().rule})`)
  if (args.all) {
    const fleet = discoverFleet(dir)
    for (const warning of fleet.warnings) data.log.warn(warning)
    for (const molt of fleet.molts) for (const warning of molt.warnings) data.log.warn(`${molt.name}: ${warning}`)
    return { molts: fleet.molts, all: true }
  }
  return { molts: [oneMolt(data, args.name!)], all: false }
}

export function oneMolt(data: RunData, name: string): Molt {
  const { molt, warnings } = findMolt(data.baseDir().dir, name)
  for (const warning of [...warnings, ...molt.warnings]) data.log.warn(`${molt.name}: ${warning}`)
  return molt
}

export function printJson(data: RunData, value: unknown): void {
  data.stdout(`${JSON.stringify(value, null, 2)}\n`)
}

/** A repeatable option (`repeatable: true`) as a list: every value given, commas split, blanks dropped. */
export function listArg(value: unknown): string[] {
  const values = Array.isArray(value) ? value : value === undefined || value === null || value === false ? [] : [value]
  return values.flatMap((v) => String(v).split(',')).map((v) => v.trim()).filter(Boolean)
}
