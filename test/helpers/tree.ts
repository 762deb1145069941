import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs'
import { join } from 'node:path'

/** A folder tree as data, for comparing homes before and after a restore. */
export interface TreeEntry {
  kind: 'dir' | 'file' | 'symlink' | 'other'
  mode: number
  size: number
  mtimeNs: bigint
  uid: number
  gid: number
  sha256?: string
  target?: string
}

export function readTree(root: string, options: { content?: boolean } = {}): Map<string, TreeEntry> {
  const out = new Map<string, TreeEntry>()
  const walk = (rel: string) => {
    const path = rel ? join(root, rel) : root
    const st = lstatSync(path, { bigint: true })
    const kind = st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : st.isFile() ? 'file' : 'other'
    const entry: TreeEntry = { kind, mode: Number(st.mode & 0o7777n), size: kind === 'file' ? Number(st.size) : 0, mtimeNs: st.mtimeNs, uid: Number(st.uid), gid: Number(st.gid) }
    if (kind === 'file' && options.content !== false) entry.sha256 = new Bun.CryptoHasher('sha256').update(readFileSync(path)).digest('hex')
    if (kind === 'symlink') entry.target = readlinkSync(path)
    out.set(rel, entry)
    if (kind === 'dir') for (const name of readdirSync(path).sort()) walk(rel ? `${rel}/${name}` : name)
  }
  walk('')
  return out
}

/**
 * Differences between two trees, one line each. mtimes are compared to the microsecond: the tar
 * reader hands restore a pax mtime as a float, good to ~0.25 µs (symlinks' mtimes are compared too).
 */
export function treeDiff(a: Map<string, TreeEntry>, b: Map<string, TreeEntry>, options: { ignore?: (rel: string) => boolean; mtimes?: boolean; owners?: boolean } = {}): string[] {
  const out: string[] = []
  for (const rel of new Set([...a.keys(), ...b.keys()])) {
    if (options.ignore?.(rel)) continue
    const x = a.get(rel)
    const y = b.get(rel)
    if (!x || !y) {
      out.push(`${rel || '.'}: ${x ? 'missing after' : 'only after'}`)
      continue
    }
    const fields: (keyof TreeEntry)[] = ['kind', 'mode', 'size', 'sha256', 'target', ...(options.owners ? (['uid', 'gid'] as const) : [])]
    for (const f of fields) if (x[f] !== y[f]) out.push(`${rel || '.'}: ${f} ${String(x[f])} → ${String(y[f])}`)
    if (options.mtimes !== false) {
      const delta = x.mtimeNs > y.mtimeNs ? x.mtimeNs - y.mtimeNs : y.mtimeNs - x.mtimeNs
      if (delta >= 1000n) out.push(`${rel || '.'}: mtime ${x.mtimeNs} → ${y.mtimeNs}`)
    }
  }
  return out
}

/** Every path under `root` with its mtime, for "nothing changed" checks (the folder itself included). */
export function fullListing(root: string): string[] {
  return [...readTree(root)].map(([rel, e]) => `${rel || '.'} ${e.kind} ${e.mode.toString(8)} ${e.size} ${e.mtimeNs} ${e.sha256 ?? e.target ?? ''}`)
}
