import { closeSync, fchmodSync, fsyncSync, linkSync, openSync, realpathSync, unlinkSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { ClmntError } from '../lib/errors.ts'
import type { BackupHooks, BackupOptions, BackupProgress, BackupResult, Target } from './backup.ts'
import { CHECKSUMS_HEADER, checksumLine, endLine, noteLine } from './checksums.ts'
import { KIND_DIR, KIND_SYMLINK, errorCode, groupName, nameOfUid, type Plan } from './collect.ts'
import { ParallelCompressor, type Compression } from './compress.ts'
import { CHECKSUMS_MEMBER, MANIFEST_MEMBER } from './layout.ts'
import { serializeManifest, type Manifest } from './manifest.ts'
import { streamFile, TarStream, writeEnd, writeEntryHeader, writeMember } from './stream.ts'
import { syncDir } from '../lib/atomic.ts'

/**
 * The archive, start to end, as `<name>.partial` (0600): manifest, global files, molts, checksums
 * and notes, end blocks; then fsync, and a link + unlink into place (a rename that cannot replace
 * a file that appeared meanwhile), and an fsync of the folder. On any failure the .partial goes.
 */
/** Files that could not be read, and no --allow-partial: no archive is left behind. */
export class UnreadableFilesError extends ClmntError {
  constructor(readonly unreadable: { path: string; reason: string }[]) {
    super(`backup failed: ${unreadable.length} file(s) or folder(s) could not be read; no archive written (fix their permissions, or use --allow-partial)`, 1)
    this.name = 'UnreadableFilesError'
  }
}

export async function writeArchive(
  target: Target,
  plan: Plan,
  manifest: Manifest,
  result: BackupResult,
  options: BackupOptions & { compression: Compression; level: number },
  hooks: BackupHooks,
): Promise<void> {
  let fd: number
  try {
    fd = openSync(target.partialPath, 'wx', 0o600)
  } catch (error) {
    throw new ClmntError(`cannot create ${target.partialPath}: ${errorCode(error)}`, 1, { cause: error })
  }
  let renamed = false
  const compressor = new ParallelCompressor({ fd, compression: options.compression, level: options.level, workers: options.workers })
  try {
    fchmodSync(fd, 0o600)
    const out = new TarStream(compressor)
    const nowSec = Math.floor(Date.now() / 1000)
    const rootOwner = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 }
    const owner = (uid: number, gid: number) => ({ uid, gid, uname: nameOfUid(uid) ?? '', gname: groupName(gid) ?? '' })
    const sums: string[] = [CHECKSUMS_HEADER]
    const progress: BackupProgress = { filesDone: 0, filesTotal: plan.files, bytesDone: 0, bytesTotal: plan.bytes, bytesOut: 0, elapsedMs: 0 }
    // rate and ETA count from here: planning is behind us
    const streaming = performance.now()
    const report = () => {
      progress.bytesOut = compressor.bytesOut
      progress.elapsedMs = performance.now() - streaming
      hooks.onProgress?.(progress)
    }
    const inMemory = async (name: string, content: Uint8Array, meta: { mode: number; mtimeSec: number; mtimeNsec?: number; uid: number; gid: number }) => {
      const { mode, mtimeSec, mtimeNsec, uid, gid } = meta
      const digest = await writeMember(out, { name, type: 'file', size: content.length, mode, mtimeSec, mtimeNsec, ...owner(uid, gid) }, content)
      sums.push(checksumLine(digest, name))
      return digest
    }

    // 1. the manifest, alone in the first compressed chunk: list-backups inflates only that
    await inMemory(MANIFEST_MEMBER, new TextEncoder().encode(serializeManifest(manifest)), { mode: 0o600, mtimeSec: nowSec, ...rootOwner })
    let wait = out.flush()
    if (wait) await wait

    // 2. global/
    const globalDir = manifest.layout.global
    if (plan.global.length) {
      await writeEntryHeader(out, { name: `${globalDir}/`, type: 'directory', size: 0, mode: 0o700, mtimeSec: nowSec, ...owner(rootOwner.uid, rootOwner.gid) })
      for (const g of plan.global) {
        await inMemory(`${globalDir}/${g.name}`, g.content, g)
        result.files++
        result.bytesIn += g.content.length
        progress.filesDone++
        progress.bytesDone += g.content.length
      }
    }

    // 3. the molts
    let failFast = false
    for (const moltPlan of plan.molts) {
      const name = moltPlan.molt.name
      const realHome = safeRealpath(moltPlan.molt.home)
      for (const entry of moltPlan.entries) {
        if (hooks.signal?.aborted) throw new ClmntError('backup interrupted; no archive written', 1)
        const member = entry.rel ? `${name}/${entry.rel}` : `${name}/`
        const ids = owner(entry.uid, entry.gid)
        if (entry.kind === KIND_DIR) {
          if (!failFast) await writeEntryHeader(out, { name: entry.rel ? `${member}/` : member, type: 'directory', size: 0, mode: entry.mode, mtimeSec: entry.mtimeSec, mtimeNsec: entry.mtimeNsec, ...ids })
          continue
        }
        if (entry.kind === KIND_SYMLINK) {
          if (!failFast) await writeEntryHeader(out, { name: member, type: 'symlink', size: 0, mode: entry.mode, mtimeSec: entry.mtimeSec, mtimeNsec: entry.mtimeNsec, linkname: entry.target, ...ids })
          continue
        }
        if (entry.content) {
          if (!failFast) await inMemory(member, entry.content, entry)
          result.files++
          result.bytesIn += entry.content.length
          progress.filesDone++
          progress.bytesDone += entry.content.length
          continue
        }
        const path = join(moltPlan.molt.home, entry.rel)
        hooks.onFile?.(member, path)
        const outcome = await streamFile(
          out,
          { member, path, realPath: join(realHome, entry.rel), size: entry.size, dev: entry.dev, ino: entry.ino },
          owner,
          { failFast },
        )
        if (outcome.note) result.notes.push(outcome.note)
        if (outcome.unreadable) {
          result.unreadable.push({ path: member, reason: outcome.unreadable })
          // without --allow-partial the archive is lost anyway: only find the other unreadable files
          if (!options.allowPartial) failFast = true
        }
        if (outcome.archived && !failFast) {
          sums.push(checksumLine(outcome.digest, member))
          result.files++
          result.bytesIn += outcome.size
        }
        progress.filesDone++
        progress.bytesDone += entry.size
        report()
      }
    }
    if (failFast) throw new UnreadableFilesError(result.unreadable)

    // 4. checksums, then what the backup noticed, then the end marker; 5. the end-of-archive blocks, alone
    for (const note of result.notes) sums.push(noteLine(note))
    sums.push(endLine({ files: result.files, bytes: result.bytesIn, notes: result.notes.length, partial: result.unreadable.length > 0 }))
    await writeMember(out, { name: CHECKSUMS_MEMBER, type: 'file', size: 0, mode: 0o600, mtimeSec: Math.floor(Date.now() / 1000), ...owner(rootOwner.uid, rootOwner.gid) }, new TextEncoder().encode(sums.join('')))
    result.bytesOut = await writeEnd(out, compressor)
    result.tarBytes = out.bytes
    report()
    fsyncSync(fd)
    closeSync(fd)
    fd = -1
    // link + unlink: a rename that cannot replace a file that appeared meanwhile
    try {
      linkSync(target.partialPath, target.finalPath)
    } catch (error) {
      throw new ClmntError(`cannot put the archive in place as ${target.finalPath}: ${errorCode(error)}`, 1, { cause: error })
    }
    renamed = true
    unlinkSync(target.partialPath)
    syncDir(dirname(target.finalPath))
  } finally {
    compressor.close()
    if (fd >= 0) closeSync(fd)
    if (!renamed) {
      try {
        unlinkSync(target.partialPath)
      } catch {}
    }
  }
}

function safeRealpath(path: string): string {
  try {
    return realpathSync(path)
  } catch {
    return path
  }
}

