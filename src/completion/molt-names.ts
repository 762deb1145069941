import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { REGISTRY_FILE } from '../fleet/base-dir.ts'
import { isMoltName } from '../fleet/names.ts'

/**
 * The molt names a completion script offers, found the way discoverFleet finds molts (molts.json
 * entries, then folders holding a .molt-info) but reading nothing else: a TAB must answer at once,
 * so no zod, no openclaw.json, no ports. Anything unreadable just offers fewer names.
 */
export function moltNames(baseDir: string): string[] {
  const names = new Set<string>()
  try {
    const raw = JSON.parse(readFileSync(join(baseDir, REGISTRY_FILE), 'utf8')) as { molts?: unknown }
    if (raw?.molts && typeof raw.molts === 'object' && !Array.isArray(raw.molts)) for (const name of Object.keys(raw.molts)) names.add(name)
  } catch {}
  try {
    for (const entry of readdirSync(baseDir, { withFileTypes: true })) {
      if (entry.isDirectory() && !names.has(entry.name) && isFile(join(baseDir, entry.name, '.molt-info'))) names.add(entry.name)
    }
  } catch {}
  return [...names].filter(isMoltName).sort()
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile()
  } catch {
    return false
  }
}
