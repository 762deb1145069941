import { posix } from 'node:path'
import { INDEX_MEMBER } from './index-file.ts'
import { STATE_MEMBER } from './state-file.ts'

/**
 * What a fleet archive holds and where, shared by backup, verify, list-backups and restore.
 *
 *   manifest.json                  first member: everything needed to plan a restore
 *   state.jsonl                    (format 4) what every molt held, for --incremental (state-file.ts)
 *   global/                        molts.json and clmnt.json of the base dir (`layout.global` in the manifest)
 *   <molt>/…                       the molt's components, paths relative to its home
 *   <molt>/.clmnt-crontab          the molt user's crontab text (component "crontab"), never a home file
 *   index.jsonl                    (format 3) type, mode, size, mtime, link target of every member (index-file.ts)
 *   checksums.sha256               last member: `sha256sum -c` lines, then `#clmnt-note` / `#clmnt-end` lines
 *
 * Legacy archives of the bash toolkit name the same things `./manifest.json`, `./<molt>/…`.
 */
export const FORMAT_VERSION = '4'
/** formats this clmnt reads as its own (2: no index.jsonl; 3: no state.jsonl) */
export const FORMAT_VERSIONS = ['2', '3', '4'] as const
export const MANIFEST_MEMBER = 'manifest.json'
export const CHECKSUMS_MEMBER = 'checksums.sha256'
export { INDEX_MEMBER, STATE_MEMBER }
export const GLOBAL_DIR = 'global'
/** used instead of `global/` when a molt is called "global" (a dot can never start a molt name) */
export const GLOBAL_DIR_FALLBACK = '.global'
export const CRONTAB_FILE = '.clmnt-crontab'
/** the global folder names a manifest may give (layout.global; not a molt's name) */
export const GLOBAL_DIR_NAME = /^[.]?[a-z_][a-z0-9_-]*$/
/** an incremental archive's parent (manifest.json): a file name in the same folder, and the sha256 of its manifest */
export const PARENT_FILE = /^[^/]+$/
export const SHA256_HEX = /^[0-9a-f]{64}$/
export const GLOBAL_FILES = ['molts.json', 'clmnt.json'] as const

export const COMPONENTS = ['config', 'skills', 'agents', 'openclaw-state', 'mail-config', 'maildir', 'state', 'logs', 'crontab'] as const
export type Component = (typeof COMPONENTS)[number]

export function isComponent(name: string): name is Component {
  return (COMPONENTS as readonly string[]).includes(name)
}

/** Home entries the backup looks at; everything else in a home (shells' dotfiles, caches) stays out. */
export const HOME_ROOTS = ['.molt-info', '.openclaw', '.msmtprc', '.mbsyncrc', '.mail-state', 'Maildir', '.molt-state'] as const

const LOG_FILE = /\.log(\.\d+)?$/
const TREES: Record<string, Component> = {
  '.mail-state': 'mail-config',
  Maildir: 'maildir',
  '.molt-state': 'state',
  '.openclaw/skills': 'skills',
  '.openclaw/workspace': 'agents',
  '.openclaw/agents': 'agents',
  '.openclaw/logs': 'logs',
}
/** [root, root + '/', component]: made once, componentOf runs for every member */
const TREE_LIST = Object.entries(TREES).map(([root, component]) => [root, `${root}/`, component] as const)
/**
 * What OpenClaw itself calls regenerable and leaves out of `openclaw backup create` (2026.9):
 * its managed runtime roots, the generated plugin-skills link index, plugin node_modules, agent
 * tmp folders; plus caches. Everything else in ~/.openclaw is the gateway's state: state/
 * (SQLite), credentials/, identity/, devices/, cron/, media/, and sandboxes/ — the workspaces of
 * sandboxed tool runs (workspaceAccess "none", the default), where an agent's tools keep what they
 * write; `openclaw backup create` archives them too.
 */
const REGENERABLE = new Set(['tmp', 'dev', 'git', 'npm', 'npm-runtime', 'tools', 'plugin-skills', 'cache', '.cache'])

/**
 * The component of a path inside a molt home: a Component, `null` for folders that only hold
 * components (the home itself, `.openclaw`), `undefined` for what never goes into an archive.
 * Paths may hold any bytes (as latin1 text): only their ASCII parts are looked at.
 */
export function componentOf(rel: string, isDir: boolean): Component | null | undefined {
  if (rel === '' || (rel === '.openclaw' && isDir)) return null
  if (rel === CRONTAB_FILE) return isDir ? undefined : 'crontab'
  if (rel === '.molt-info') return 'config'
  if (rel === '.msmtprc' || rel === '.mbsyncrc') return 'mail-config'
  const base = posix.basename(rel)
  if (base === 'gateway.pid') return undefined
  if (rel.startsWith('.openclaw/')) {
    const parts = rel.split('/')
    if (REGENERABLE.has(parts[1]!) || parts.includes('node_modules')) return undefined
    // agents/<id>/agent/…/tmp: the product's agent temporary files
    if (parts[1] === 'agents' && parts[3] === 'agent' && parts.slice(4).some((p) => p === 'tmp' || p === '.tmp')) return undefined
  }
  for (const [root, below, component] of TREE_LIST) {
    if (rel === root || rel.startsWith(below)) return !isDir && LOG_FILE.test(base) ? 'logs' : component
  }
  if (rel.startsWith('.openclaw/')) {
    if (!isDir && LOG_FILE.test(base)) return 'logs'
    // top level of .openclaw: its configuration; everything else is the gateway's state
    if (posix.dirname(rel) === '.openclaw' && !isDir && (base === '.env' || base.endsWith('.json'))) return 'config'
    return 'openclaw-state'
  }
  return undefined
}

/** Why a member name is unsafe to extract, or null. Legacy archives may prefix every name with `./`. */
export function memberNameProblem(name: string, options: { legacy?: boolean } = {}): string | null {
  if (isPlainName(name)) return null
  if (name === '') return 'empty member name'
  if (name.includes('\0')) return 'member name holds a NUL byte'
  if (name.startsWith('/')) return 'absolute path'
  const rest = options.legacy && name.startsWith('./') ? name.slice(2) : name
  const parts = rest.replace(/\/$/, '').split('/')
  if (parts.includes('..')) return 'path with ".."'
  if (rest === '' || rest === './' || rest === '.') return options.legacy ? null : 'member "./"'
  if (parts.some((p) => p === '' || p === '.')) return 'path not normalized (empty or "." segment)'
  return null
}

/**
 * The names nearly every member has, decided without splitting: not empty, no NUL, not starting
 * with `/` or `.`, no `//`, and no segment `.` or `..` (memberNameProblem has nothing to say).
 */
function isPlainName(name: string): boolean {
  const first = name.charCodeAt(0)
  if (name === '' || first === 0x2f || first === 0x2e || name.includes('\0') || name.includes('//')) return false
  for (let i = name.indexOf('/.'); i >= 0; i = name.indexOf('/.', i + 2)) {
    // "/." then the end or "/", or "/.." then the end or "/": a "." or ".." segment (NaN: past the end)
    const next = name.charCodeAt(i + 2)
    if (Number.isNaN(next) || next === 0x2f) return false
    if (next === 0x2e) {
      const after = name.charCodeAt(i + 3)
      if (Number.isNaN(after) || after === 0x2f) return false
    }
  }
  return true
}

/** `./alpha/x` → `alpha/x`, `alpha/` → `alpha`: the name members are compared by. */
export function normalizeMemberName(name: string): string {
  // most names need nothing: no "./" in front, no "/" at the end
  if (name.charCodeAt(0) !== 0x2e && name.charCodeAt(name.length - 1) !== 0x2f) return name
  let out = name
  while (out.startsWith('./')) out = out.slice(2)
  return out.replace(/\/+$/, '')
}

/**
 * Does a symlink at `linkRel` (relative to its molt folder) pointing at `target` stay inside that
 * folder? Decided on the text alone: absolute targets never do, `..` may not climb above the folder.
 */
export function symlinkStaysInside(linkRel: string, target: string): boolean {
  if (target === '' || target.startsWith('/') || target.includes('\0')) return false
  const depth: string[] = []
  for (const part of posix.dirname(linkRel).split('/')) if (part && part !== '.') depth.push(part)
  for (const part of target.split('/')) {
    if (part === '' || part === '.') continue
    if (part === '..') {
      if (!depth.length) return false
      depth.pop()
    } else depth.push(part)
  }
  return true
}

/** Where a member belongs: a molt (with its path inside the home), the global folder, or clmnt's own files. */
export type MemberPlace =
  | { kind: 'manifest' }
  | { kind: 'checksums' }
  | { kind: 'index' }
  | { kind: 'state' }
  | { kind: 'global'; rel: string }
  | { kind: 'molt'; molt: string; rel: string }
  | { kind: 'outside' }

export function placeOf(name: string, layout: { global: string; molts: ReadonlySet<string> }): MemberPlace {
  const clean = normalizeMemberName(name)
  if (clean === MANIFEST_MEMBER) return { kind: 'manifest' }
  if (clean === CHECKSUMS_MEMBER) return { kind: 'checksums' }
  if (clean === INDEX_MEMBER) return { kind: 'index' }
  if (clean === STATE_MEMBER) return { kind: 'state' }
  const slash = clean.indexOf('/')
  const top = slash < 0 ? clean : clean.slice(0, slash)
  const rel = slash < 0 ? '' : clean.slice(slash + 1)
  if (top === layout.global) return { kind: 'global', rel }
  if (layout.molts.has(top)) return { kind: 'molt', molt: top, rel }
  return { kind: 'outside' }
}
