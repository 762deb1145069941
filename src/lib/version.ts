import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import pkg from '../../package.json' with { type: 'json' }

/** Set by scripts/build.ts (`--define`): the commit the binary was built from. */
declare const CLMNT_BUILD_COMMIT: string | undefined

export interface VersionInfo {
  version: string
  /** short git commit; a "+" marks a checkout with uncommitted changes; null when unknown */
  commit: string | null
  bun: string
  platform: string
  /** compiled: a single executable; source: bun running src/cli.ts */
  build: 'compiled' | 'source'
  executable: string
}

const compiled = () => import.meta.dir.startsWith('/$bunfs/')

/** The commit: baked in at build time, else asked of git in the checkout we run from. */
export function buildCommit(cwd = join(import.meta.dir, '..', '..')): string | null {
  if (typeof CLMNT_BUILD_COMMIT === 'string' && CLMNT_BUILD_COMMIT) return CLMNT_BUILD_COMMIT
  if (compiled()) return null
  const git = (...args: string[]) => spawnSync('git', ['-C', cwd, ...args], { encoding: 'utf8', timeout: 5000 })
  const head = git('rev-parse', '--short=12', 'HEAD')
  if (head.status !== 0) return null
  const dirty = git('status', '--porcelain', '--untracked-files=no').stdout.trim() !== ''
  return `${head.stdout.trim()}${dirty ? '+' : ''}`
}

export function versionInfo(): VersionInfo {
  return {
    version: pkg.version,
    commit: buildCommit(),
    bun: Bun.version,
    platform: `${process.platform}-${process.arch}`,
    build: compiled() ? 'compiled' : 'source',
    executable: compiled() ? process.execPath : join(import.meta.dir, '..', 'cli.ts'),
  }
}
