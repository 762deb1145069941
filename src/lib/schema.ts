import type * as Zod from 'zod'

/**
 * Every on-disk format has one zod schema, built on first use: loading zod costs ~25 ms, and cron
 * starts `health watch` for every molt every few minutes, mostly on files that need no schema.
 * `require` keeps readers synchronous; the bundler still includes zod in the compiled binary.
 */
export function lazySchema<T>(build: (z: typeof Zod.z) => T): () => T {
  let schema: T | undefined
  return () => (schema ??= build(loadZod()))
}

function loadZod(): typeof Zod.z {
  const { z } = require('zod') as typeof Zod
  // zod compiles a parser for each object schema (new Function) on its first use: a command parses
  // a few files once, and the compiled parsers cost more than they save (the manifest: 5 → 2.5 ms)
  z.config({ jitless: true })
  return z
}
