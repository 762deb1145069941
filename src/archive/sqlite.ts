import { Database } from 'bun:sqlite'
import { existsSync, lchownSync, lstatSync, readdirSync, unlinkSync } from 'node:fs'
import { join } from 'node:path'

/**
 * A consistent copy of a live SQLite database, as OpenClaw's own docs ask (never its raw file
 * and its -wal/-shm): `VACUUM INTO` on a read-only connection reads one snapshot, committed WAL
 * content included, while the gateway keeps writing, and writes a compact single file.
 *
 * Opening a WAL database creates its -wal and -shm when they are missing. Made by root they would
 * lock the molt's gateway out of its own database, so any sidecar this creates is given to the
 * database's owner.
 */
let serial = 0

export interface Snapshot {
  path: string
  size: number
  cleanup(): void
}

const SNAPSHOT = /^\.clmnt-sqlite-(\d+)-\d+\.sqlite$/

/**
 * Snapshots left by a backup that was killed (their process is gone): `VACUUM INTO` needs a
 * named file, so unlike the spool files they cannot be unlinked while in use.
 */
export function removeStaleSnapshots(dir: string): void {
  let names: string[] = []
  try {
    names = readdirSync(dir)
  } catch {}
  for (const name of names) {
    const pid = SNAPSHOT.exec(name)?.[1]
    if (!pid || existsSync(`/proc/${pid}`)) continue
    try {
      unlinkSync(join(dir, name))
    } catch {}
  }
}

export function snapshotSqlite(dbPath: string, scratchDir: string): Snapshot {
  const owner = lstatSync(dbPath)
  const sidecars = ['-wal', '-shm'].map((suffix) => `${dbPath}${suffix}`)
  const existed = sidecars.map((path) => existsSync(path))
  const target = join(scratchDir, `.clmnt-sqlite-${process.pid}-${++serial}.sqlite`)
  let db: Database | undefined
  try {
    db = new Database(dbPath, { readonly: true })
    db.exec('PRAGMA busy_timeout = 10000')
    db.exec('PRAGMA trusted_schema = OFF')
    db.query('VACUUM INTO ?').run(target)
  } catch (error) {
    try {
      unlinkSync(target)
    } catch {}
    throw new Error(`SQLite online backup failed: ${(error as Error).message}`)
  } finally {
    db?.close()
    sidecars.forEach((path, i) => {
      if (existed[i] || process.getuid?.() !== 0) return
      try {
        const st = lstatSync(path)
        if (st.isFile() && st.uid !== owner.uid) lchownSync(path, owner.uid, owner.gid)
      } catch {}
    })
  }
  return {
    path: target,
    size: lstatSync(target).size,
    cleanup: () => {
      try {
        unlinkSync(target)
      } catch {}
    },
  }
}
