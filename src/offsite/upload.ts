import { statSync } from 'node:fs'
import { basename } from 'node:path'
import type { Manifest } from '../archive/manifest.ts'
import { PARTIAL_SUFFIX } from '../archive/list.ts'
import { buildMarker, markerName } from './marker.ts'
import { Remote, RemoteError } from './remote.ts'

/**
 * Upload a finished archive so that the final key holds either nothing or the whole archive:
 *
 * - bigger than one part: a multipart upload straight to the final key. S3 assembles the object
 *   only when the upload completes, so a failure (the source stream errors, and Bun's client
 *   aborts the upload) or a kill -9 leaves no object, only parts (an S3 lifecycle rule
 *   "AbortIncompleteMultipartUpload" clears those).
 * - one part or less: Bun sends a single PUT, which some S3-compatible servers (s3rver among
 *   them) store even when the connection is cut halfway. So it goes to `<archive>.partial`
 *   first and reaches the final key by a server-side copy once its size is right.
 *
 * Then the remote size is compared with the local one, and only then the completion marker is
 * written: the last object, the one that says "this archive is whole". The data is streamed from
 * the file (memory stays near part size × queue size, whatever the archive's size).
 */
export interface UploadOptions {
  manifest: Manifest
  clmntVersion: string
  signal?: AbortSignal
  onProgress?(sentBytes: number, totalBytes: number): void
  /** stop when the store takes nothing for this long (default 5 min) */
  stallMs?: number
  now?: () => Date
}

export interface UploadResult {
  url: string
  archive: string
  sizeBytes: number
  sha256: string
  durationMs: number
  method: 'multipart' | 'staged-copy'
}

const MiB = 1 << 20
/** S3 allows 10,000 parts; stay well under it */
const MAX_PARTS = 9000
const QUEUE_SIZE = 4

/** 5 MiB (the S3 minimum), or more for archives so big that 5 MiB parts would be too many. */
export function partSizeFor(sizeBytes: number): number {
  return Math.max(5 * MiB, Math.ceil(sizeBytes / MAX_PARTS / MiB) * MiB)
}

export async function uploadArchive(remote: Remote, localPath: string, options: UploadOptions): Promise<UploadResult> {
  const started = performance.now()
  const archive = basename(localPath)
  const size = statSync(localPath).size
  for (const name of [archive, markerName(archive)]) {
    if (await remote.stat(name)) throw new RemoteError(`${remote.url(name)} already exists; an archive is never overwritten`, 'Exists')
  }
  const partSize = partSizeFor(size)
  const staged = size <= partSize
  const uploadName = staged ? archive + PARTIAL_SUFFIX : archive
  const source = hashingStream(localPath, size, options)
  try {
    await remote.client.write(remote.key(uploadName), new Response(source.stream), { partSize, queueSize: QUEUE_SIZE, retry: 3, type: 'application/octet-stream' })
  } catch (error) {
    // a multipart upload was aborted by the client; a staged single PUT may have left a stump
    if (staged) await remote.delete(uploadName).catch(() => {})
    throw remote.fail('uploading to', archive, source.failure() ?? error)
  } finally {
    source.dispose()
  }
  const digest = source.digest()
  if (source.sent() !== size) {
    await remote.delete(uploadName).catch(() => {})
    throw new RemoteError(`uploading ${remote.url(archive)} failed: ${localPath} changed while it was read (${source.sent()} of ${size} bytes)`, 'LocalChanged')
  }
  if (staged) {
    await verifySize(remote, uploadName, size)
    if (options.signal?.aborted) {
      await remote.delete(uploadName).catch(() => {})
      throw new RemoteError(`uploading ${remote.url(archive)} was interrupted`, 'Interrupted')
    }
    await remote.copy(uploadName, archive)
    await remote.delete(uploadName).catch(() => {})
  }
  await verifySize(remote, archive, size)
  const marker = buildMarker({ archive, sizeBytes: size, sha256: digest, uploadedAt: (options.now ?? (() => new Date()))(), clmntVersion: options.clmntVersion, manifest: options.manifest })
  await remote.writeText(markerName(archive), `${JSON.stringify(marker, null, 2)}\n`)
  return { url: remote.url(archive), archive, sizeBytes: size, sha256: digest, durationMs: performance.now() - started, method: staged ? 'staged-copy' : 'multipart' }
}

/** The remote object must have exactly the local size; a wrong one is deleted (it is ours, just written). */
async function verifySize(remote: Remote, name: string, size: number): Promise<void> {
  const found = await remote.stat(name)
  if (found?.size === size) return
  if (found) await remote.delete(name).catch(() => {})
  throw new RemoteError(`${remote.url(name)} ${found ? `holds ${found.size} bytes instead of ${size}` : 'is missing after its upload'}; deleted, no completion marker written`, 'SizeMismatch')
}

/**
 * The file as a pull stream that hashes what it hands over. Erroring it (interrupt, stall) makes
 * Bun's client abort the upload instead of completing it.
 */
function hashingStream(path: string, size: number, options: UploadOptions) {
  const hasher = new Bun.CryptoHasher('sha256')
  const reader = Bun.file(path).stream().getReader()
  const stallMs = options.stallMs ?? 5 * 60_000
  let sent = 0
  let failure: Error | null = null
  let timer: Timer | undefined
  let controllerRef: ReadableStreamDefaultController<Uint8Array> | null = null
  const fail = (error: Error) => {
    if (failure) return
    failure = error
    clearTimeout(timer)
    try {
      controllerRef?.error(error)
    } catch {}
    reader.cancel(error).catch(() => {})
  }
  const arm = () => {
    clearTimeout(timer)
    timer = setTimeout(() => fail(new Error(`the upload stalled: the store took nothing for ${Math.round(stallMs / 1000)} s`)), stallMs)
  }
  const onAbort = () => fail(new Error('interrupted'))
  options.signal?.addEventListener('abort', onAbort, { once: true })
  const stream = new ReadableStream<Uint8Array>(
    {
      start(controller) {
        controllerRef = controller
        if (options.signal?.aborted) fail(new Error('interrupted'))
        else arm()
      },
      async pull(controller) {
        if (failure) return
        arm()
        const { done, value } = await reader.read()
        if (failure) return
        if (done) {
          clearTimeout(timer)
          options.signal?.removeEventListener('abort', onAbort)
          controller.close()
          return
        }
        hasher.update(value)
        sent += value.length
        options.onProgress?.(sent, size)
        controller.enqueue(value)
      },
      cancel(reason) {
        clearTimeout(timer)
        reader.cancel(reason).catch(() => {})
      },
    },
    { highWaterMark: 0 },
  )
  const dispose = () => {
    clearTimeout(timer)
    options.signal?.removeEventListener('abort', onAbort)
  }
  return { stream, sent: () => sent, digest: () => hasher.digest('hex'), failure: () => failure, dispose }
}
