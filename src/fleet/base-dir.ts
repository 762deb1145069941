import { existsSync, statSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { InputError, quote } from '../lib/errors.ts'

export type BaseDirRule = 'flag' | 'env' | 'registry' | 'cwd'

export interface BaseDir {
  dir: string
  /** which rule found it: doctor and -v say so */
  rule: BaseDirRule
}

export const REGISTRY_FILE = 'molts.json'

/** --base-dir > $CLMNT_BASE_DIR > nearest ancestor of cwd holding molts.json > cwd. */
export function resolveBaseDir(options: { flag?: string; env?: string; cwd: string }): BaseDir {
  const given = options.flag ? { path: options.flag, rule: 'flag' as const } : options.env ? { path: options.env, rule: 'env' as const } : null
  if (given) {
    const dir = resolve(options.cwd, given.path)
    let isDir = false
    try {
      isDir = statSync(dir).isDirectory()
    } catch {}
    if (!isDir) {
      const source = given.rule === 'flag' ? '--base-dir' : '$CLMNT_BASE_DIR'
      throw new InputError(`base dir ${quote(dir)} (from ${source}) is not a directory`)
    }
    return { dir, rule: given.rule }
  }
  for (let dir = resolve(options.cwd); ; dir = dirname(dir)) {
    if (existsSync(join(dir, REGISTRY_FILE))) return { dir, rule: 'registry' }
    if (dirname(dir) === dir) break
  }
  return { dir: resolve(options.cwd), rule: 'cwd' }
}
