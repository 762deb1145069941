import type { Compression } from '../archive/compress.ts'
import { archivesToPrune, blankListing, isArchiveName, isGoodListing, newestFirst, OWN_ARCHIVE_NAME, PARTIAL_SUFFIX, type BackupListing, type PruneScope } from '../archive/list.ts'
import { isLegacyVersion } from '../archive/manifest.ts'
import { mapLimit } from '../lib/pool.ts'
import { MARKER_SUFFIX, markerName, parseMarker } from './marker.ts'
import type { Remote, RemoteObject } from './remote.ts'

/**
 * The archives under an s3:// prefix, in the same shape as a local listing: an archive is `ok`
 * only when its completion marker is there, parses, and gives the archive's exact size. Nothing
 * is downloaded but the markers (a few hundred bytes each).
 */
export async function listRemoteBackups(remote: Remote): Promise<BackupListing[]> {
  const objects = await remote.list()
  const byName = new Map(objects.map((o) => [o.name, o]))
  const archives = objects.filter((o) => isArchiveName(o.name))
  const listings = await mapLimit(archives, 8, (o) => describe(remote, o, byName))
  // a marker whose archive is gone: say so, rather than hide it
  for (const o of objects) {
    if (!o.name.endsWith(MARKER_SUFFIX)) continue
    const archive = o.name.slice(0, -MARKER_SUFFIX.length)
    if (isArchiveName(archive) && !byName.has(archive)) {
      listings.push({ ...blank(remote, archive, o), status: 'corrupt', reason: 'the archive is missing: only its completion marker is there', size_bytes: 0 })
    }
  }
  return listings.sort(newestFirst)
}

function blank(remote: Remote, file: string, o: RemoteObject): BackupListing {
  return blankListing({ file, path: remote.url(file), status: 'incomplete', size: o.size, mtimeMs: o.lastModifiedMs })
}

async function describe(remote: Remote, o: RemoteObject, byName: Map<string, RemoteObject>): Promise<BackupListing> {
  const listing = blank(remote, o.name, o)
  if (o.name.endsWith(PARTIAL_SUFFIX)) return { ...listing, reason: 'a staged upload that did not finish' }
  if (!byName.has(markerName(o.name))) return { ...listing, reason: 'no completion marker: the upload did not finish (or is still running)' }
  let text: string
  try {
    text = await remote.readText(markerName(o.name))
  } catch (error) {
    return { ...listing, status: 'corrupt', reason: `cannot read its completion marker: ${(error as Error).message}` }
  }
  const parsed = parseMarker(text, o.name)
  if ('problem' in parsed) return { ...listing, status: 'corrupt', reason: parsed.problem }
  const m = parsed.marker.manifest
  const created = Date.parse(m.timestamp)
  Object.assign(listing, {
    created: m.timestamp,
    molts: m.molts,
    hostname: m.hostname,
    base_dir: m.base_dir ?? null,
    clmnt_version: m.clmnt_version,
    format_version: m.version,
    compression: m.compression === 'gzip' || m.compression === 'zstd' ? (m.compression as Compression) : null,
    total_files: m.total_files,
    total_size_bytes: m.total_size_bytes,
    kind: m.kind ?? null,
    parent: m.parent ?? null,
    sort_ms: Number.isNaN(created) ? o.lastModifiedMs : created,
  })
  if (parsed.marker.size_bytes !== o.size) return { ...listing, status: 'corrupt', reason: `holds ${o.size} bytes, its completion marker says ${parsed.marker.size_bytes}` }
  return { ...listing, status: isLegacyVersion(m.version) ? 'legacy' : 'ok' }
}

/** The newest archive restore may use, or null. */
export async function resolveLatestRemote(remote: Remote): Promise<BackupListing | null> {
  return (await listRemoteBackups(remote)).find(isGoodListing) ?? null
}

export interface RemotePrune {
  /** s3:// URLs of the archives deleted (each with its marker) */
  deleted: string[]
  /** unfinished uploads of ours cleared away */
  cleared: string[]
  failed: string[]
}

/** An unfinished upload this old is dead: no upload of ours takes a day. */
export const STALE_UPLOAD_MS = 24 * 3600_000

/**
 * `--keep N` on the bucket: what the local folder's --keep deletes (archivesToPrune: this host's
 * fleet only, judged by the manifest, never the archive just uploaded), marker first, so an
 * interrupted prune never leaves an archive that looks whole but is half gone; and our unfinished
 * uploads older than a day. Never an archive named otherwise.
 */
export async function pruneRemote(remote: Remote, scope: PruneScope, now = Date.now()): Promise<RemotePrune> {
  const listings = await listRemoteBackups(remote)
  const own = (l: BackupListing) => OWN_ARCHIVE_NAME.test(l.file.endsWith(PARTIAL_SUFFIX) ? l.file.slice(0, -PARTIAL_SUFFIX.length) : l.file)
  const result: RemotePrune = { deleted: [], cleared: [], failed: [] }
  for (const old of archivesToPrune(listings, scope)) {
    try {
      await remote.delete(markerName(old.file))
      await remote.delete(old.file)
      result.deleted.push(old.path)
    } catch (error) {
      result.failed.push(`${old.path}: ${(error as Error).message}`)
    }
  }
  for (const stale of listings.filter((l) => l.status === 'incomplete' && own(l) && now - l.mtime_ms > STALE_UPLOAD_MS)) {
    try {
      await remote.delete(stale.file)
      result.cleared.push(stale.path)
    } catch (error) {
      result.failed.push(`${stale.path}: ${(error as Error).message}`)
    }
  }
  return result
}
