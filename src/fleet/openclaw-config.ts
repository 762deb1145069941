import { join } from 'node:path'
import type { z } from 'zod'
import { legacyString } from '../lib/legacy.ts'
import { lazySchema } from '../lib/schema.ts'
import { readHomeFile, safeFsMessage } from '../lib/safe-read.ts'

/** The parts of `.openclaw/openclaw.json` clmnt reads; the gateway owns the rest of the file. */
export const openclawConfigSchema = lazySchema((z) =>
  z.looseObject({
    gateway: z
      .looseObject({
        // kept raw: discovery validates it and warns about a bad value instead of hiding it
        port: z.unknown().optional(),
        bind: z.preprocess(legacyString, z.string().nullable()).optional(),
      })
      .optional(),
  }),
)

export type OpenclawConfig = z.infer<ReturnType<typeof openclawConfigSchema>>

export const OPENCLAW_CONFIG_REL = '.openclaw/openclaw.json'

export function openclawConfigPath(home: string): string {
  return join(home, OPENCLAW_CONFIG_REL)
}

/** null when absent; throws a plain Error with a readable message when present but unusable. */
export function readOpenclawConfig(home: string): OpenclawConfig | null {
  let text: string | null
  try {
    // the molt's own file: never followed, never blocking, capped (safe-fs.ts)
    text = readHomeFile(home, OPENCLAW_CONFIG_REL, { maxBytes: 4 * 1024 * 1024 })
  } catch (error) {
    throw new Error(safeFsMessage(error, openclawConfigPath(home)))
  }
  if (text === null) return null
  const parsed = openclawConfigSchema().safeParse(JSON.parse(text))
  if (!parsed.success) throw new Error(`not an openclaw config: ${parsed.error.issues[0]?.message}`)
  return parsed.data
}
