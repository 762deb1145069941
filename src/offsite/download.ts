import { closeSync, fsyncSync, lstatSync, mkdtempSync, openSync, readdirSync, rmSync, statfsSync, writeSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { missingParent, parentProblem, readFront, replacedParent, type ArchiveFront } from '../archive/chain.ts'
import { formatBytes } from '../archive/format.ts'
import { isArchiveName, isGoodListing, PARTIAL_SUFFIX } from '../archive/list.ts'
import { ArchiveReadError } from '../archive/read.ts'
import { ClmntError, InputError } from '../lib/errors.ts'
import { processStartTicks } from '../lib/proc.ts'
import { listRemoteBackups } from './list.ts'
import { markerName, parseMarker, type Marker } from './marker.ts'
import { openRemote, type Remote } from './remote.ts'
import { parseRemoteArchive } from './url.ts'

/**
 * `fleet restore --from s3://bucket/prefix/<archive>|latest` and `fleet verify s3://…`, the remote
 * half: find the archive (the newest good one for `latest`), refuse one without a valid completion
 * marker, stream it into a private temp folder in `destDir` (same filesystem as the base dir, mode
 * 0700: archives hold secrets), and check its size and SHA-256 against the marker before anyone
 * reads it. An incremental archive brings its chain: each parent its manifest names is fetched the
 * same way into the same folder, under its own name, so the local chain check (resolveChain: name,
 * size, sha256 of the manifest) and the local chain restore run on the copies as they are. A parent
 * missing from the bucket, unfinished, of another size than recorded or not matching its marker
 * refuses in one line, before the next one is fetched. The caller then works on `path` and calls
 * `cleanup()` whatever happens; a failure or an abort here removes the folder itself.
 */
export interface DownloadedArchive {
  /** the local copy; its file name is the archive's */
  path: string
  url: string
  archive: string
  sizeBytes: number
  sha256: string
  marker: Marker
  /** the local copies of its parents (an incremental archive's chain), the full archive first */
  chain: string[]
  /** removes the temp folder and the archives in it */
  cleanup(): void
}

export interface DownloadOptions {
  /** where clmnt.json is (S3 settings); the environment's AWS_* variables win */
  baseDir: string
  env?: Record<string, string | undefined>
  signal?: AbortSignal
  onProgress?(receivedBytes: number, totalBytes: number): void
  /** a line for each parent fetched */
  info?(message: string): void
  warn?(message: string): void
  /** for tests: an already opened store */
  remote?: Remote
}

/** A parent the chain needs is missing, unfinished, replaced or damaged in the bucket: restore refuses, verify reports it. */
export class BrokenRemoteChain extends InputError {
  constructor(message: string) {
    super(message)
    this.name = 'BrokenRemoteChain'
  }
}

/** A downloaded archive is not what its completion marker vouches for. */
export class MarkerMismatch extends ClmntError {
  constructor(message: string) {
    super(message, 1)
    this.name = 'MarkerMismatch'
  }
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
  ensureRoom(destDir, object.size + (await namedParentBytes(remote, archive, marker)))

  sweepKilledDownloads(destDir, options.warn)
  const dir = mkdtempSync(join(destDir, `${DOWNLOAD_PREFIX}${process.pid}-${processStartTicks(process.pid) ?? 0}-`))
  const cleanup = () => rmSync(dir, { recursive: true, force: true })
  try {
    const path = join(dir, archive)
    const { size, sha256 } = await fetchChecked(remote, archive, marker, path, '', options)
    const chain = await fetchParents(remote, path, options)
    return { path, url, archive, sizeBytes: size, sha256, marker, chain, cleanup }
  } catch (error) {
    cleanup()
    throw error
  }
}

/** The archive into `path`, its size and SHA-256 checked against its marker. */
async function fetchChecked(remote: Remote, archive: string, marker: Marker, path: string, role: string, options: DownloadOptions): Promise<{ size: number; sha256: string }> {
  const got = await streamToFile(remote, archive, path, marker.size_bytes, options)
  if (got.size !== marker.size_bytes || got.sha256 !== marker.sha256) {
    throw new MarkerMismatch(`downloaded ${remote.url(archive)}${role} does not match its completion marker (${got.size !== marker.size_bytes ? `${got.size} of ${marker.size_bytes} bytes` : 'SHA-256 differs'}): not using it`)
  }
  return got
}

/**
 * The parents of the archive at `path`, newest first, each into the same folder: what its manifest
 * records (name, size, sha256 of the parent's manifest) is checked against the marker before the
 * download and against the copy after it.
 */
async function fetchParents(remote: Remote, path: string, options: DownloadOptions): Promise<string[]> {
  const dir = dirname(path)
  const target = basename(path)
  const parents: string[] = []
  const seen = new Set([target])
  let child = await frontOf(remote, path)
  while (child.manifest.kind === 'incremental' && child.manifest.parent) {
    const recorded = child.manifest.parent
    const from = basename(child.path)
    if (seen.has(recorded.file)) throw new BrokenRemoteChain(`${from}: its chain of parents loops at ${recorded.file}`)
    if (!isArchiveName(recorded.file) || recorded.file.endsWith(PARTIAL_SUFFIX)) throw new BrokenRemoteChain(`${from}: its parent ${JSON.stringify(recorded.file)} is not the name of a finished archive`)
    seen.add(recorded.file)
    const marker = await parentMarker(remote, from, recorded.file)
    if (marker.size_bytes !== recorded.size) throw new BrokenRemoteChain(`broken chain: ${from}: ${replacedParent(recorded.file)}`)
    const object = await remote.stat(recorded.file)
    if (!object) throw new BrokenRemoteChain(missingParent(from, recorded.file, remote.url()))
    if (object.size !== marker.size_bytes) throw new BrokenRemoteChain(`broken chain: ${from} needs its parent ${recorded.file}, and ${remote.url(recorded.file)} holds ${object.size} bytes where its completion marker says ${marker.size_bytes}`)
    ensureRoom(dir, object.size)
    options.info?.(`downloading ${remote.url(recorded.file)} (${formatBytes(object.size)}), a parent of ${target}`)
    const local = join(dir, recorded.file)
    await fetchChecked(remote, recorded.file, marker, local, ` (in the chain of ${target})`, options)
    let parent: ArchiveFront
    try {
      parent = await readFront(local)
    } catch (error) {
      throw new BrokenRemoteChain(`broken chain: ${from} needs its parent ${recorded.file}, which cannot be read (${(error as Error).message})`)
    }
    const problem = parentProblem(child.manifest, parent, object.size)
    if (problem) throw new BrokenRemoteChain(`broken chain: ${from}: ${problem}`)
    parents.unshift(local)
    child = parent
  }
  return parents
}

/**
 * The bytes of the parents the markers name (an archive's marker repeats its manifest's parent
 * name), walked before any download: a parent missing or unfinished in the bucket refuses at
 * once, not after the rest of the chain came down. Only a hint: the manifests decide.
 */
async function namedParentBytes(remote: Remote, archive: string, marker: Marker): Promise<number> {
  let bytes = 0
  const seen = new Set([archive])
  for (let child = archive, m = marker; m.manifest.kind === 'incremental' && m.manifest.parent; ) {
    const parent = m.manifest.parent
    if (seen.has(parent) || !isArchiveName(parent) || parent.endsWith(PARTIAL_SUFFIX)) break
    seen.add(parent)
    m = await parentMarker(remote, child, parent)
    bytes += m.size_bytes
    child = parent
  }
  return bytes
}

async function frontOf(remote: Remote, path: string): Promise<ArchiveFront> {
  try {
    return await readFront(path)
  } catch (error) {
    if (error instanceof ArchiveReadError || error instanceof InputError) throw new InputError(`${remote.url(basename(path))}: ${error.message}`)
    throw error
  }
}

async function parentMarker(remote: Remote, child: string, parent: string): Promise<Marker> {
  const name = markerName(parent)
  if (!(await remote.stat(name))) {
    if (await remote.stat(parent)) throw new BrokenRemoteChain(`broken chain: ${child} needs its parent ${parent}, whose upload to ${remote.url()} did not finish (no completion marker)`)
    throw new BrokenRemoteChain(missingParent(child, parent, remote.url()))
  }
  const parsed = parseMarker(await remote.readText(name), parent)
  if ('problem' in parsed) throw new BrokenRemoteChain(`broken chain: ${child} needs its parent ${parent}: ${remote.url(parent)}: ${parsed.problem}`)
  return parsed.marker
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

/** `<prefix><pid>-<start ticks>-XXXXXX`: the pid and its start time name the run that owns it */
const DOWNLOAD_PREFIX = '.clmnt-download-'
const DOWNLOAD_FOLDER = /^\.clmnt-download-(\d+)-(\d+)-[A-Za-z0-9]{6}$/

/**
 * Ctrl-C and errors remove a download folder; kill -9 or a power cut cannot. Before a new
 * download, the folders whose run is gone (no process with that pid and start time) go.
 */
function sweepKilledDownloads(destDir: string, warn?: (message: string) => void): void {
  let names: string[]
  try {
    names = readdirSync(destDir)
  } catch {
    return
  }
  for (const name of names) {
    const m = DOWNLOAD_FOLDER.exec(name)
    if (!m || processStartTicks(Number(m[1])) === Number(m[2])) continue
    const path = join(destDir, name)
    if (!lstatSync(path, { throwIfNoEntry: false })?.isDirectory()) continue
    rmSync(path, { recursive: true, force: true })
    warn?.(`removed ${name}, left in ${destDir} by a download that was killed`)
  }
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
  const interrupted = () => new ClmntError(`download of ${remote.url(archive)} interrupted`)
  if (options.signal?.aborted) throw interrupted()
  const hasher = new Bun.CryptoHasher('sha256')
  const fd = openSync(path, 'wx', 0o600)
  let size = 0
  const reader = (remote.client.file(remote.key(archive)).stream() as ReadableStream<Uint8Array>).getReader()
  // Ctrl-C must not wait for the next chunk: a stalled connection may never send one
  const stop = () => void reader.cancel().catch(() => {})
  options.signal?.addEventListener('abort', stop, { once: true })
  try {
    for (;;) {
      const { done, value: chunk } = await reader.read()
      if (options.signal?.aborted) throw interrupted()
      if (done) break
      hasher.update(chunk)
      for (let at = 0; at < chunk.length; ) at += writeSync(fd, chunk, at)
      size += chunk.length
      options.onProgress?.(size, total)
    }
    fsyncSync(fd)
  } catch (error) {
    if (options.signal?.aborted) throw interrupted()
    if (error instanceof ClmntError) throw error
    throw remote.fail('downloading', archive, error)
  } finally {
    options.signal?.removeEventListener('abort', stop)
    closeSync(fd)
  }
  return { size, sha256: hasher.digest('hex') }
}
