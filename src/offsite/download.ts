import { closeSync, fsyncSync, mkdtempSync, openSync, rmSync, statfsSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { ClmntError, InputError } from '../lib/errors.ts'
import { isGoodListing } from '../archive/list.ts'
import { listRemoteBackups } from './list.ts'
import { markerName, parseMarker, type Marker } from './marker.ts'
import { openRemote, type Remote } from './remote.ts'
import { parseRemoteArchive } from './url.ts'

/**
 * `fleet restore --from s3://bucket/prefix/<archive>|latest`, the remote half: find the archive
 * (the newest good one for `latest`), refuse one without a valid completion marker, stream it into
 * a private temp folder in `destDir` (same filesystem as the base dir, mode 0700: archives hold
 * secrets), and check its size and SHA-256 against the marker before anyone reads it. The caller
 * then runs the normal verified restore on `path` and calls `cleanup()` whatever happens.
 */
export interface DownloadedArchive {
  /** the local copy; its file name is the archive's */
  path: string
  url: string
  archive: string
  sizeBytes: number
  sha256: string
  marker: Marker
  /** removes the temp folder and the archive in it */
  cleanup(): void
}

export interface DownloadOptions {
  /** where clmnt.json is (S3 settings); the environment's AWS_* variables win */
  baseDir: string
  env?: Record<string, string | undefined>
  signal?: AbortSignal
  onProgress?(receivedBytes: number, totalBytes: number): void
  warn?(message: string): void
  /** for tests: an already opened store */
  remote?: Remote
}

/** The archive `s3url` names, or for `…/latest` the newest good one: its name and s3:// URL. */
export async function resolveRemoteArchive(s3url: string, options: DownloadOptions): Promise<{ remote: Remote; archive: string; url: string }> {
  const ref = parseRemoteArchive(s3url)
  const remote = options.remote ?? openRemote(ref.location, options)
  if (ref.archive) return { remote, archive: ref.archive, url: remote.url(ref.archive) }
  const listings = await listRemoteBackups(remote)
  const latest = listings.find(isGoodListing)
  if (!latest) {
    const unfinished = listings.length ? ` (${listings.length} there, none complete: clmnt fleet list-backups --from ${remote.url()})` : ''
    throw new InputError(`no complete archive under ${remote.url()}${unfinished}`)
  }
  return { remote, archive: latest.file, url: latest.path }
}

export async function downloadArchive(s3url: string, destDir: string, options: DownloadOptions): Promise<DownloadedArchive> {
  const { remote, archive, url } = await resolveRemoteArchive(s3url, options)
  const marker = await readMarker(remote, archive)
  const object = await remote.stat(archive)
  if (!object) throw new InputError(`${url} does not exist (only its completion marker does)`)
  if (object.size !== marker.size_bytes) throw new InputError(`${url} holds ${object.size} bytes, its completion marker says ${marker.size_bytes}: not a complete upload`)
  ensureRoom(destDir, object.size)

  const dir = mkdtempSync(join(destDir, '.clmnt-download-'))
  const cleanup = () => rmSync(dir, { recursive: true, force: true })
  const path = join(dir, archive)
  try {
    const { size, sha256 } = await streamToFile(remote, archive, path, object.size, options)
    if (size !== marker.size_bytes || sha256 !== marker.sha256) {
      throw new ClmntError(`downloaded ${url} does not match its completion marker (${size !== marker.size_bytes ? `${size} of ${marker.size_bytes} bytes` : 'SHA-256 differs'}): not restoring from it`)
    }
    return { path, url, archive, sizeBytes: size, sha256, marker, cleanup }
  } catch (error) {
    cleanup()
    throw error
  }
}

async function readMarker(remote: Remote, archive: string): Promise<Marker> {
  const name = markerName(archive)
  if (!(await remote.stat(name))) {
    const exists = await remote.stat(archive)
    throw new InputError(exists ? `${remote.url(archive)} has no completion marker: its upload did not finish; pick another archive (clmnt fleet list-backups --from ${remote.url()})` : `${remote.url(archive)} does not exist (clmnt fleet list-backups --from ${remote.url()})`)
  }
  const parsed = parseMarker(await remote.readText(name), archive)
  if ('problem' in parsed) throw new InputError(`${remote.url(archive)}: ${parsed.problem}`)
  return parsed.marker
}

function ensureRoom(dir: string, size: number): void {
  let free: number
  try {
    const fs = statfsSync(dir)
    free = fs.bavail * fs.bsize
  } catch (error) {
    throw new InputError(`cannot use ${dir} for the download: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`)
  }
  // the restore stages the extracted molts on the same filesystem: leave it some room
  if (free < size + (64 << 20)) throw new ClmntError(`not enough free space in ${dir} for the ${Math.ceil(size / (1 << 20))} MiB archive (${Math.floor(free / (1 << 20))} MiB free)`)
}

async function streamToFile(remote: Remote, archive: string, path: string, total: number, options: DownloadOptions): Promise<{ size: number; sha256: string }> {
  const hasher = new Bun.CryptoHasher('sha256')
  const fd = openSync(path, 'wx', 0o600)
  let size = 0
  try {
    const stream = remote.client.file(remote.key(archive)).stream()
    for await (const chunk of stream as unknown as AsyncIterable<Uint8Array>) {
      if (options.signal?.aborted) throw new ClmntError(`download of ${remote.url(archive)} interrupted`)
      hasher.update(chunk)
      for (let at = 0; at < chunk.length; ) at += writeSync(fd, chunk, at)
      size += chunk.length
      options.onProgress?.(size, total)
    }
    fsyncSync(fd)
  } catch (error) {
    if (error instanceof ClmntError) throw error
    throw remote.fail('downloading', archive, error)
  } finally {
    closeSync(fd)
  }
  return { size, sha256: hasher.digest('hex') }
}
