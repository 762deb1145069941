import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { z } from 'zod'
import { writeFileAtomic } from '../lib/atomic.ts'
import { legacyNumber, legacyString } from '../lib/legacy.ts'
import { lazySchema } from '../lib/schema.ts'
import { REGISTRY_FILE } from './base-dir.ts'

/** molts.json: {"version":"1","updated":ISO,"molts":{NAME:{"name","port","home","created"}}} */
export const registrySchema = lazySchema((z) => {
  const entry = z.looseObject({
    name: z.string().optional(),
    port: z.preprocess(legacyNumber, z.number().int().min(1).max(65535).nullable()).catch(null).optional(),
    home: z.preprocess(legacyString, z.string().nullable()).optional(),
    created: z.preprocess(legacyString, z.string().nullable()).optional(),
  })
  return z.looseObject({
    version: z.preprocess((v) => (v === undefined ? '1' : String(v)), z.string()),
    updated: z.preprocess(legacyString, z.string().nullable()).optional(),
    molts: z.record(z.string(), entry).default({}),
  })
})

export type Registry = z.infer<ReturnType<typeof registrySchema>>
export type RegistryEntry = Registry['molts'][string]

const optional = (value: unknown, type: 'string' | 'number') => value === undefined || value === null || typeof value === type

/**
 * True when molts.json already has the shape clmnt writes, so zod (~8 ms compiled, ~50 ms from
 * source) need not load: every command reads the registry, and cron runs `health watch` often.
 */
export function isCleanRegistry(raw: unknown): raw is Registry {
  if (!raw || typeof raw !== 'object') return false
  const r = raw as Record<string, unknown>
  if (typeof r.version !== 'string' || !optional(r.updated, 'string') || !r.molts || typeof r.molts !== 'object' || Array.isArray(r.molts)) return false
  return Object.values(r.molts).every((entry) => {
    if (!entry || typeof entry !== 'object') return false
    const e = entry as Record<string, unknown>
    const portOk = e.port === undefined || e.port === null || (Number.isInteger(e.port) && (e.port as number) >= 1 && (e.port as number) <= 65535)
    return portOk && optional(e.name, 'string') && optional(e.home, 'string') && optional(e.created, 'string')
  })
}

export type RegistryRead = { registry: Registry | null; warning?: string }

/** A missing registry is normal (a fleet of bare molt folders); a broken one is a warning, not a crash. */
export function readRegistry(baseDir: string): RegistryRead {
  const path = join(baseDir, REGISTRY_FILE)
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { registry: null }
    return { registry: null, warning: `cannot read ${path}: ${(error as Error).message}` }
  }
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch {
    return { registry: null, warning: `${path} is not valid JSON; ignoring the registry` }
  }
  if (isCleanRegistry(raw)) return { registry: raw }
  const parsed = registrySchema().safeParse(raw)
  if (!parsed.success) {
    return { registry: null, warning: `${path} is not a molt registry (${parsed.error.issues[0]?.message}); ignoring it` }
  }
  return { registry: parsed.data }
}

export function writeRegistry(baseDir: string, registry: Registry): void {
  const clean = { ...registry, version: '1', updated: new Date().toISOString() }
  writeFileAtomic(join(baseDir, REGISTRY_FILE), `${JSON.stringify(clean, null, 2)}\n`)
}
