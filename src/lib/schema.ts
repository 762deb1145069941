import type * as Zod from 'zod'

/**
 * Every on-disk format has one zod schema, built on first use: loading zod costs ~25 ms, and cron
 * starts `health watch` for every molt every few minutes, mostly on files that need no schema.
 * `require` keeps readers synchronous; the bundler still includes zod in the compiled binary.
 */
export function lazySchema<T>(build: (z: typeof Zod.z) => T): () => T {
  let schema: T | undefined
  return () => (schema ??= build((require('zod') as typeof Zod).z))
}
