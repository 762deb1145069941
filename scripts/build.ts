/**
 * `bun run build` → dist/clmnt, one self-contained executable (Bun runtime included).
 * --bytecode alone emits CommonJS, which rejects cli.ts's top-level await: --format=esm is required.
 */
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { buildCommit } from '../src/lib/version.ts'

const root = join(import.meta.dir, '..')
const outfile = process.argv[2] ?? join(root, 'dist', 'clmnt')
// `clmnt version` of the binary names the commit it was built from (it has no git to ask)
const commit = buildCommit(root) ?? ''
const result = spawnSync(
  process.execPath,
  ['build', '--compile', '--bytecode', '--format=esm', '--minify', '--sourcemap', `--define=CLMNT_BUILD_COMMIT=${JSON.stringify(commit)}`, join(root, 'src', 'cli.ts'), '--outfile', outfile],
  { stdio: 'inherit', cwd: root },
)
process.exit(result.status ?? 1)
