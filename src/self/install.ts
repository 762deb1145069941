import { spawnSync } from 'node:child_process'
import { chmodSync, copyFileSync, existsSync, readFileSync, renameSync, rmSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { ensureDir, syncDir, writeFileAtomic } from '../lib/atomic.ts'
import { ClmntError } from '../lib/errors.ts'

/**
 * `clmnt self install`: the binary, the completion scripts and the man page under a prefix, in the
 * places Debian's bash-completion, zsh, fish and man look (for /usr/local and for ~/.local alike).
 * Plain functions: the command passes what to write; nothing here knows about citty.
 */

export const DEFAULT_PREFIX = '/usr/local'

export interface InstallLayout {
  prefix: string
  bin: string
  bash: string
  zsh: string
  fish: string
  man: string
}

export function installLayout(prefix: string): InstallLayout {
  return {
    prefix,
    bin: join(prefix, 'bin', 'clmnt'),
    bash: join(prefix, 'share', 'bash-completion', 'completions', 'clmnt'),
    zsh: join(prefix, 'share', 'zsh', 'site-functions', '_clmnt'),
    fish: join(prefix, 'share', 'fish', 'vendor_completions.d', 'clmnt.fish'),
    man: join(prefix, 'share', 'man', 'man1', 'clmnt.1'),
  }
}

export type FileAction = 'installed' | 'replaced' | 'unchanged'

export interface InstalledFile {
  what: 'binary' | 'bash completion' | 'zsh completion' | 'fish completion' | 'man page'
  path: string
  action: FileAction
}

/** Where the binary comes from: this very executable when compiled, else a fresh build of the checkout. */
export type BinarySource = { kind: 'compiled'; path: string } | { kind: 'build'; build: (outfile: string) => void }

const isCompiled = () => import.meta.dir.startsWith('/$bunfs/')

export function binarySource(): BinarySource {
  if (isCompiled()) return { kind: 'compiled', path: process.execPath }
  const script = join(import.meta.dir, '..', '..', 'scripts', 'build.ts')
  return {
    kind: 'build',
    build(outfile) {
      const result = spawnSync(process.execPath, [script, outfile], { encoding: 'utf8', timeout: 300_000 })
      if (result.status !== 0) throw new ClmntError(`building the binary failed: ${(result.stderr || result.stdout).trim().split('\n').at(-1) ?? `exit ${result.status}`}`)
    },
  }
}

/** "permission denied: run as root" is the answer an operator needs, not EACCES. */
export function permissionProblem(error: unknown, path: string): ClmntError {
  const code = (error as NodeJS.ErrnoException).code
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
    return new ClmntError(`permission denied: cannot write ${path}: run as root, or install for yourself with --prefix ~/.local`, 1, { cause: error })
  }
  return new ClmntError(`cannot write ${path}: ${(error as Error).message}`, 1, { cause: error })
}

function actionFor(path: string, content: string | null): FileAction {
  if (!existsSync(path)) return 'installed'
  if (content === null) return 'replaced'
  try {
    return readFileSync(path, 'utf8') === content ? 'unchanged' : 'replaced'
  } catch {
    return 'replaced'
  }
}

/**
 * The binary goes in as a temp file beside its destination and is renamed over it: a cron job
 * starting clmnt at that moment runs the old binary or the new one, never half of one (and a
 * running binary is never written to: ETXTBSY).
 */
export function installBinary(layout: InstallLayout, source: BinarySource, options: { dryRun: boolean }): InstalledFile {
  const file: InstalledFile = { what: 'binary', path: layout.bin, action: actionFor(layout.bin, null) }
  if (options.dryRun) return file
  const tmp = join(dirname(layout.bin), `.${basename(layout.bin)}.${process.pid}.new`)
  try {
    ensureDir(dirname(layout.bin))
    if (source.kind === 'compiled') copyFileSync(source.path, tmp)
    else source.build(tmp)
    chmodSync(tmp, 0o755)
    checkBinary(tmp)
    renameSync(tmp, layout.bin)
    syncDir(dirname(layout.bin))
  } catch (error) {
    rmSync(tmp, { force: true })
    throw error instanceof ClmntError ? error : permissionProblem(error, layout.bin)
  }
  return file
}

/** The new binary must start and say it is clmnt before it replaces a working one. */
function checkBinary(path: string): void {
  const result = spawnSync(path, ['--version'], { encoding: 'utf8', timeout: 30_000 })
  if (result.status !== 0 || !/^clmnt \S+/.test(result.stdout)) throw new ClmntError(`the new binary does not run (${path} --version: ${result.stderr.trim() || `exit ${result.status}`}); nothing was replaced`)
}

/** Completion scripts and the man page: small text files, written atomically, left alone when unchanged. */
export function installText(what: InstalledFile['what'], path: string, content: string, options: { dryRun: boolean }): InstalledFile {
  const file: InstalledFile = { what, path, action: actionFor(path, content) }
  if (options.dryRun || file.action === 'unchanged') return file
  try {
    ensureDir(dirname(path))
    writeFileAtomic(path, content, { mode: 0o644 })
  } catch (error) {
    throw permissionProblem(error, path)
  }
  return file
}
