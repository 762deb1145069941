import type { z as Parts } from './zod-parts.ts'

/** zod as the schemas see it: the functions they use (zod-parts.ts) */
export type Zod = typeof Parts

/**
 * Every on-disk format has one zod schema, built on first use: loading zod costs ~10 ms, and cron
 * starts `health watch` for every molt every few minutes, mostly on files that need no schema.
 * `require` keeps readers synchronous; the bundler still includes zod in the compiled binary.
 */
export function lazySchema<T>(build: (z: Zod) => T): () => T {
  let schema: T | undefined
  return () => (schema ??= build(loadZod()))
}

function loadZod(): Zod {
  const { z } = require('./zod-parts.ts') as typeof import('./zod-parts.ts')
  // zod compiles a parser for each object schema (new Function) on its first use: a command parses
  // a few files once, and the compiled parsers cost more than they save (the manifest: 5 → 2.5 ms)
  z.config({ jitless: true })
  return z
}
