import { readdirSync } from 'node:fs'
import { isAbsolute, join } from 'node:path'
import { InputError, quote } from '../lib/errors.ts'
import { legacyNumber } from '../lib/legacy.ts'
import { readHomeFile, safeFsMessage, statHomeFile } from '../lib/safe-read.ts'
import { parseMoltInfo } from './molt-info.ts'
import { assertMoltName, isMoltName } from './names.ts'
import { readOpenclawConfig } from './openclaw-config.ts'
import { readRegistry, type Registry, type RegistryEntry } from './registry.ts'

export type PortSource = 'molt-info' | 'openclaw.json' | 'registry'

export interface Molt {
  name: string
  /** where the molt's files are: its folder as found, or the registry's "home"; never .molt-info's MOLT_HOME */
  home: string
  port: number | null
  portSource: PortSource | null
  created: string | null
  inRegistry: boolean
  hasMoltInfo: boolean
  /** things an operator should know: unreadable values, conflicts */
  warnings: string[]
}

export interface Fleet {
  baseDir: string
  molts: Molt[]
  warnings: string[]
}

const MOLT_INFO = '.molt-info'
/** KEY=VALUE lines of a few bytes each */
const MOLT_INFO_MAX_BYTES = 64 * 1024

/** Every molt: registry entries plus folders of the base dir that hold a `.molt-info`. Sorted by name. */
export function discoverFleet(baseDir: string): Fleet {
  const { names, warnings, load } = fleetNames(baseDir)
  return { baseDir, molts: names.map(load), warnings }
}

/**
 * The fleet's molt names (sorted) and a loader for each: discoverFleet in two steps, so a caller
 * with a large fleet (the dashboard) can load molt by molt and let other work in between.
 */
export function fleetNames(baseDir: string): { names: string[]; warnings: string[]; load(name: string): Molt } {
  const warnings: string[] = []
  const { registry, warning } = readRegistry(baseDir)
  if (warning) warnings.push(warning)
  const names = new Set<string>()
  for (const name of Object.keys(registry?.molts ?? {})) {
    if (isMoltName(name)) names.add(name)
    else warnings.push(`molts.json: skipping entry ${quote(name)}: not a valid molt name`)
  }
  let entries: import('node:fs').Dirent[] = []
  try {
    entries = readdirSync(baseDir, { withFileTypes: true })
  } catch (error) {
    throw new InputError(`cannot read base dir ${quote(baseDir)}: ${(error as Error).message}`)
  }
  for (const entry of entries) {
    // a symlinked folder could point anywhere; molts are real folders or registry entries
    if (!entry.isDirectory() || names.has(entry.name)) continue
    if (!isFile(join(baseDir, entry.name), MOLT_INFO)) continue
    if (isMoltName(entry.name)) names.add(entry.name)
    else warnings.push(`skipping folder ${quote(entry.name)}: holds ${MOLT_INFO} but is not a valid molt name`)
  }
  return { names: [...names].sort(), warnings, load: (name) => loadMolt(baseDir, name, registry) }
}

/** One molt by name, without scanning the fleet. Invalid or unknown names are exit-2 errors. */
export function findMolt(baseDir: string, name: string): { molt: Molt; warnings: string[] } {
  assertMoltName(name)
  const { registry, warning } = readRegistry(baseDir)
  const warnings = warning ? [warning] : []
  if (!registry?.molts[name] && !isFile(join(baseDir, name), MOLT_INFO)) {
    throw new InputError(`unknown molt ${quote(name)}: no entry in molts.json and no ${join(baseDir, name, MOLT_INFO)}`)
  }
  return { molt: loadMolt(baseDir, name, registry), warnings }
}

function loadMolt(baseDir: string, name: string, registry: Registry | null): Molt {
  const entry: RegistryEntry | undefined = registry?.molts[name]
  const warnings: string[] = []
  const home = entry?.home ? (isAbsolute(entry.home) ? entry.home : join(baseDir, entry.home)) : join(baseDir, name)

  let info: Record<string, string> = {}
  let hasMoltInfo = false
  try {
    const text = readHomeFile(home, MOLT_INFO, { maxBytes: MOLT_INFO_MAX_BYTES })
    if (text !== null) {
      const parsed = parseMoltInfo(text)
      info = parsed.values
      hasMoltInfo = true
      if (parsed.badLines.length) warnings.push(`${MOLT_INFO}: unreadable line(s) ${parsed.badLines.join(', ')} ignored`)
    }
  } catch (error) {
    // a link, FIFO or huge file in its place: the molt is still listed, with the reason
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') warnings.push(safeFsMessage(error, join(home, MOLT_INFO)))
  }
  if (info.MOLT_NAME && info.MOLT_NAME !== name) {
    warnings.push(`${MOLT_INFO}: MOLT_NAME ${quote(info.MOLT_NAME)} differs from the folder; using ${quote(name)}`)
  }

  const { port, source } = resolvePort(home, info, entry, warnings)
  return {
    name,
    home,
    port,
    portSource: source,
    created: info.CREATED ?? entry?.created ?? null,
    inRegistry: entry !== undefined,
    hasMoltInfo,
    warnings,
  }
}

/** .molt-info MOLT_PORT, then openclaw.json gateway.port, then the registry. A bad value warns and falls through. */
function resolvePort(
  home: string,
  info: Record<string, string>,
  entry: RegistryEntry | undefined,
  warnings: string[],
): { port: number | null; source: PortSource | null } {
  if (info.MOLT_PORT !== undefined) {
    const port = asPort(info.MOLT_PORT)
    if (port !== null) return { port, source: 'molt-info' }
    warnings.push(`${MOLT_INFO}: MOLT_PORT ${quote(info.MOLT_PORT)} is not a port number`)
  }
  try {
    const config = readOpenclawConfig(home)
    const raw = config?.gateway?.port
    if (raw !== undefined && raw !== null) {
      const port = asPort(raw)
      if (port !== null) return { port, source: 'openclaw.json' }
      warnings.push(`openclaw.json: gateway.port ${quote(String(raw))} is not a port number`)
    }
  } catch (error) {
    warnings.push(`openclaw.json: ${(error as Error).message}`)
  }
  if (entry?.port) return { port: entry.port, source: 'registry' }
  return { port: null, source: null }
}

function asPort(value: unknown): number | null {
  const n = legacyNumber(value)
  return n !== null && Number.isInteger(n) && n >= 1 && n <= 65535 ? n : null
}

/** A molt folder holds `.molt-info` as a regular file: looked at, never followed nor opened. */
function isFile(home: string, rel: string): boolean {
  try {
    return statHomeFile(home, rel)?.isFile() ?? false
  } catch {
    return false
  }
}
