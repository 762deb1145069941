/**
 * `bun run build` → dist/clmnt, one self-contained executable (Bun runtime included).
 * --bytecode alone emits CommonJS, which rejects cli.ts's top-level await: --format=esm is required.
 */
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'

const root = join(import.meta.dir, '..')
const outfile = process.argv[2] ?? join(root, 'dist', 'clmnt')
const result = spawnSync(
  process.execPath,
  ['build', '--compile', '--bytecode', '--format=esm', '--minify', '--sourcemap', join(root, 'src', 'cli.ts'), '--outfile', outfile],
  { stdio: 'inherit', cwd: root },
)
process.exit(result.status ?? 1)
