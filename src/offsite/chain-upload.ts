import { statSync } from 'node:fs'
import { basename } from 'node:path'
import { resolveChain } from '../archive/chain.ts'
import { markerName, parseMarker } from './marker.ts'
import { RemoteError, type Remote } from './remote.ts'
import { uploadArchive, type UploadOptions, type UploadResult } from './upload.ts'

/**
 * An incremental archive in a bucket restores only with its chain there too. Before it goes up,
 * each parent (from its local folder, the chain checked by resolveChain) is looked up in the
 * bucket by its completion marker: the same archive (size and manifest time as recorded) is left
 * alone; a parent absent from the bucket is uploaded, oldest first, each marker written last; a
 * parent name taken by another archive stops the upload, since the bucket's chain would be broken
 * (an archive is never overwritten). Only the markers are read (a few hundred bytes each).
 */
export async function uploadMissingParents(remote: Remote, path: string, options: Omit<UploadOptions, 'manifest'>): Promise<UploadResult[]> {
  const { archives } = await resolveChain(path)
  const uploaded: UploadResult[] = []
  for (let i = 0; i < archives.length - 1; i++) {
    const parent = archives[i]!
    const file = basename(parent.path)
    const child = basename(archives[i + 1]!.path)
    const size = statSync(parent.path).size
    if (await remote.stat(markerName(file))) {
      const parsed = parseMarker(await remote.readText(markerName(file)), file)
      if (!('problem' in parsed) && parsed.marker.size_bytes === size && parsed.marker.manifest.timestamp === parent.manifest.timestamp) continue
      throw new RemoteError(`${remote.url(file)} is another archive than the one ${child} was made from (${'problem' in parsed ? parsed.problem : 'its size or time differs'}): its chain in the bucket would be broken; nothing of it uploaded`, 'Exists')
    }
    uploaded.push(await uploadArchive(remote, parent.path, { ...options, manifest: parent.manifest }))
  }
  return uploaded
}
