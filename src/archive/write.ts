import { closeSync, fchmodSync, fsyncSync, openSync, realpathSync, unlinkSync } from 'node:fs'
import { dirname } from 'node:path'
import { syncDir } from '../lib/atomic.ts'
import { ClmntError } from '../lib/errors.ts'
import type { BackupHooks, BackupOptions, BackupProgress, BackupResult, Target } from './backup.ts'
import { CHECKSUMS_HEADER, checksumLine, type BackupNote } from './checksums.ts'
import { binaryPath, decodeEntry, displayPath, errorCode, fsPath, groupName, KIND_DIR, KIND_SYMLINK, nameOfUid, resolveRel, type MoltPlan, type Plan } from './collect.ts'
import { ParallelCompressor, type Compression } from './compress.ts'
import { indexLine, type IndexEntry } from './index-file.ts'
import { CHECKSUMS_MEMBER, CRONTAB_FILE, MANIFEST_MEMBER, STATE_MEMBER } from './layout.ts'
import { maildirPlace, MaildirTracker, unarchivedMessages, withinMessages } from './live-mail.ts'
import { serializeManifest, type Manifest } from './manifest.ts'
import { renameNoReplace } from './restore-fs.ts'
import { Spool } from './spool.ts'
import { spoolMember, writeTail, type Start } from './write-tail.ts'
import { removeStaleSnapshots, snapshotSqlite } from './sqlite.ts'
import { streamFile, TarStream, writeEntryHeader, writeMember, type FileOutcome } from './stream.ts'
import { paxMtime, type HeaderInput } from './tar.ts'

/**
 * The archive, start to end, as `<name>.partial` (0600): manifest, global files, molts, then
 * index.jsonl and checksums.sha256 (both built in spool files as members go by, so memory does
 * not grow with the file count), end blocks; then fsync, a rename that never replaces (works on
 * file systems without hard links: vfat, exFAT), and an fsync of the folder. On any failure the
 * .partial goes.
 */
/** Files that could not be read, and no --allow-partial: no archive is left behind. */
export class UnreadableFilesError extends ClmntError {
  constructor(readonly unreadable: { path: string; reason: string }[]) {
    super(`backup failed: ${unreadable.length} file(s) or folder(s) could not be read; no archive written (fix their permissions, or use --allow-partial)`, 1)
    this.name = 'UnreadableFilesError'
  }
}

type Meta = { mode: number; mtimeSec: number; mtimeNsec?: number; uid: number; gid: number }
const encoder = new TextEncoder()

export async function writeArchive(
  target: Target,
  plan: Plan,
  manifest: Manifest,
  result: BackupResult,
  options: BackupOptions & { compression: Compression; level: number; state?: Spool | null },
  hooks: BackupHooks,
): Promise<void> {
  let fd: number
  try {
    fd = openSync(target.partialPath, 'wx', 0o600)
  } catch (error) {
    throw new ClmntError(`cannot create ${target.partialPath}: ${errorCode(error)}`, 1, { cause: error })
  }
  let renamed = false
  removeStaleSnapshots(target.dir)
  const compressor = new ParallelCompressor({ fd, compression: options.compression, level: options.level, workers: options.workers })
  const sums = new Spool(target.dir)
  const index = new Spool(target.dir)
  try {
    try {
      fchmodSync(fd, 0o600)
    } catch (error) {
      // vfat/exFAT have no modes (the mount options decide): not a reason to fail
      if (errorCode(error) !== 'EPERM') throw error
    }
    const out = new TarStream(compressor)
    const nowSec = Math.floor(Date.now() / 1000)
    const rootOwner = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 }
    const owner = (uid: number, gid: number) => ({ uid, gid, uname: nameOfUid(uid) ?? '', gname: groupName(gid) ?? '' })
    sums.append(encoder.encode(CHECKSUMS_HEADER))
    const progress: BackupProgress = { filesDone: 0, filesTotal: plan.files, bytesDone: 0, bytesTotal: plan.bytes, bytesOut: 0, elapsedMs: 0 }
    // rate and ETA count from here: planning is behind us
    const streaming = performance.now()
    const report = () => {
      progress.bytesOut = compressor.bytesOut
      progress.elapsedMs = performance.now() - streaming
      hooks.onProgress?.(progress)
    }
    /** names are latin1 text of their bytes from here on */
    /** regular files index.jsonl lists so far, and their bytes: each molt's share goes in the molt index */
    const filesListed = { files: 0, bytes: 0 }
    const listed = (name: string, entry: Omit<IndexEntry, 'path'>) => {
      index.append(encoder.encode(indexLine({ ...entry, path: fsPath(name) })))
      if (entry.type === 'file') {
        filesListed.files++
        filesListed.bytes += entry.size
      }
    }
    const summed = (digest: string, name: string) => sums.append(fsPath(checksumLine(digest, name)))
    const header = (name: string, type: HeaderInput['type'], meta: Meta, extra: Partial<HeaderInput> = {}): HeaderInput => ({ name: fsPath(name), type, size: 0, mode: meta.mode, mtimeSec: meta.mtimeSec, mtimeNsec: meta.mtimeNsec, ...owner(meta.uid, meta.gid), ...extra })
    const mtimeText = (meta: Meta) => paxMtime(meta.mtimeSec, meta.mtimeNsec) ?? String(meta.mtimeSec)
    const inMemory = async (name: string, content: Uint8Array, meta: Meta, molt: string | null) => {
      const digest = await writeMember(out, header(name, 'file', meta, { size: content.length }), content)
      summed(digest, name)
      listed(name, { type: 'file', mode: meta.mode, size: content.length, mtime: mtimeText(meta), molt })
    }
    const dir = async (name: string, meta: Meta, molt: string | null) => {
      await writeEntryHeader(out, header(`${name}/`, 'directory', meta))
      listed(name, { type: 'dir', mode: meta.mode, size: 0, mtime: mtimeText(meta), molt })
    }

    // 1. the manifest, alone in the first compressed chunk: list-backups inflates only that
    await inMemory(MANIFEST_MEMBER, encoder.encode(serializeManifest(manifest)), { mode: 0o600, mtimeSec: nowSec, ...rootOwner }, null)
    /** a chunk of its own starts here: its offset goes in the molt index (seek-index.ts) */
    const mark = async () => {
      const wait = out.flush()
      if (wait) await wait
      return { chunk: compressor.boundary(), tar: out.bytes }
    }
    // the state and global/ start chunks of their own: a one-molt restore of a full archive skips the state
    const stateStart = await mark()

    // 1b. state.jsonl: read by the next --incremental from the head of this archive
    let extraFiles = 0
    let extraBytes = 0
    if (options.state) {
      const stateMeta = { mode: 0o600, mtimeSec: nowSec, ...rootOwner }
      summed((await spoolMember(out, header(STATE_MEMBER, 'file', stateMeta, { size: options.state.size }), options.state)).digest, STATE_MEMBER)
      listed(STATE_MEMBER, { type: 'file', mode: 0o600, size: options.state.size, mtime: String(nowSec), molt: null })
      extraFiles++
      extraBytes += options.state.size
    }
    const globalStart = await mark()

    // 2. global/
    const globalDir = manifest.layout.global
    if (plan.global.length) {
      await dir(globalDir, { mode: 0o700, mtimeSec: nowSec, ...rootOwner }, null)
      for (const g of plan.global) {
        await inMemory(`${globalDir}/${g.name}`, g.content, g, null)
        result.files++
        result.bytesIn += g.content.length
        progress.filesDone++
        progress.bytesDone += g.content.length
      }
    }

    // 3. the molts, from the plan's spool
    const lines = plan.spool?.lines()
    let failFast = false
    /** the molt index (seek-index.ts): each molt starts a compressed chunk of its own */
    const starts: Start[] = []
    const boundary = async (molt: string) => {
      const { chunk, tar } = await mark()
      starts.push({ molt, chunk, tar, index: index.size, sums: sums.size, ...filesListed })
    }
    for (const moltPlan of plan.molts) {
      const name = moltPlan.molt.name
      await boundary(name)
      const home = binaryPath(moltPlan.molt.home)
      const realHome = binaryPath(safeRealpath(moltPlan.molt.home))
      const pathOf = (rel: string) => fsPath(resolveRel(home, moltPlan.followed, rel))
      const realOf = (rel: string) => displayPathBytes(resolveRel(realHome, moltPlan.followed, rel))
      const mail = new MaildirTracker()

      /** Stream one file (planned, or found by the Maildir rescan) and record what came of it. */
      const file = async (rel: string, planned: { size: number; dev: number; ino: number; sqlite?: boolean }, appeared: boolean) => {
        const member = `${name}/${rel}`
        const shown = displayPath(member)
        const path = pathOf(rel)
        hooks.onFile?.(shown, path.toString('utf8'))
        let outcome: FileOutcome
        let snapshotNote: BackupNote | null = null
        if (planned.sqlite && !failFast) {
          let snapshot: ReturnType<typeof snapshotSqlite> | null = null
          try {
            snapshot = snapshotSqlite(path.toString('utf8'), target.dir)
          } catch (error) {
            outcome = { archived: false, unreadable: (error as Error).message, note: { kind: 'unreadable', path: shown, detail: `${(error as Error).message}; not archived (a raw copy of a live database can be torn)`, planned_size: planned.size } }
          }
          if (snapshot) {
            try {
              outcome = await streamFile(out, { member: fsPath(member), shown, path, realPath: realOf(rel), ...planned, contentPath: snapshot.path }, owner, { failFast, readFault: hooks.readFault })
            } finally {
              snapshot.cleanup()
            }
            if (outcome.archived) snapshotNote = { kind: 'sqlite', path: shown, detail: "captured with SQLite's online backup (VACUUM INTO): one consistent snapshot, committed WAL content included, no -wal/-shm", planned_size: planned.size, archived_size: outcome.size }
          }
        } else {
          outcome = await streamFile(out, { member: fsPath(member), shown, path, realPath: realOf(rel), ...planned }, owner, { failFast, readFault: hooks.readFault })
        }
        outcome = outcome!
        const place = maildirPlace(rel)
        if (outcome.note) {
          if (appeared && outcome.archived) delete outcome.note.planned_size
          result.notes.push(outcome.note)
        }
        if (snapshotNote && !outcome.note) result.notes.push(snapshotNote)
        if (appeared && outcome.archived && !outcome.note) {
          result.notes.push({ kind: 'appeared', path: shown, detail: 'not planned: found when its Maildir folder was listed again (a message renamed during the backup)', archived_size: outcome.size })
        }
        if (outcome.unreadable) {
          result.unreadable.push({ path: shown, reason: outcome.unreadable })
          // without --allow-partial the archive is lost anyway: only find the other unreadable files
          if (!options.allowPartial) failFast = true
        }
        if (!outcome.archived && outcome.note.kind === 'vanished' && place) mail.vanished++
        if (outcome.archived && place) mail.keys.add(place.key)
        if (outcome.archived && !failFast) {
          if (!outcome.damaged) summed(outcome.digest, member)
          const h = outcome.header
          listed(member, { type: 'file', mode: h.mode, size: h.size, mtime: paxMtime(h.mtimeSec, h.mtimeNsec) ?? String(h.mtimeSec), sparse: h.sparse, molt: name })
          result.files++
          result.bytesIn += outcome.size
        }
        progress.filesDone++
        progress.bytesDone += planned.size
        report()
      }

      /** Past a Maildir folder's cur/ and new/: archive what was renamed under our feet. */
      const rescan = async () => {
        for (let round = 0; mail.dir !== null && mail.vanished > 0 && round < 3; round++) {
          mail.vanished = 0
          for (const [rel, st] of unarchivedMessages(mail.dir, mail.keys, pathOf)) {
            progress.filesTotal++
            await file(rel, { size: st.size, dev: st.dev, ino: st.ino }, true)
          }
        }
        mail.dir = null
      }

      for (let i = 0; i < moltPlan.entries; i++) {
        if (hooks.signal?.aborted) throw new ClmntError('backup interrupted; no archive written', 1)
        const entry = decodeEntry(lines!.next().value!)
        if (mail.dir !== null && !withinMessages(entry.rel, mail.dir)) await rescan()
        const member = entry.rel ? `${name}/${entry.rel}` : name
        if (entry.kind === KIND_DIR) {
          if (!failFast) await dir(member, entry, name)
          continue
        }
        if (entry.kind === KIND_SYMLINK) {
          if (!failFast) {
            await writeEntryHeader(out, header(member, 'symlink', entry, { linkname: fsPath(entry.target!) }))
            listed(member, { type: 'symlink', mode: entry.mode, size: 0, mtime: mtimeText(entry), link: fsPath(entry.target!), molt: name })
          }
          continue
        }
        const place = maildirPlace(entry.rel)
        if (place && entry.component === 'maildir' && mail.dir !== place.dir) mail.enter(place.dir)
        await file(entry.rel, entry, false)
      }
      if (mail.dir !== null) await rescan()
      if (moltPlan.crontab) {
        if (!failFast) await inMemory(`${name}/${CRONTAB_FILE}`, moltPlan.crontab, { mode: 0o600, mtimeSec: nowSec, ...moltPlan.owner }, name)
        result.files++
        result.bytesIn += moltPlan.crontab.length
        progress.filesDone++
        progress.bytesDone += moltPlan.crontab.length
      }
    }
    if (failFast) throw new UnreadableFilesError(result.unreadable)
    await boundary('')

    // 4. index.jsonl and checksums.sha256 (write-tail.ts); 5. the end-of-archive blocks
    const ended = await writeTail({
      out,
      compressor,
      mark,
      starts,
      index,
      sums,
      header: (name, size) => header(name, 'file', { mode: 0o600, mtimeSec: Math.floor(Date.now() / 1000), ...rootOwner }, { size }),
      summed,
      state: stateStart,
      global: globalStart,
      stateBytes: options.state?.size ?? 0,
      notes: result.notes,
      end: { files: result.files + extraFiles, bytes: result.bytesIn + extraBytes, partial: result.unreadable.length > 0 },
    })
    result.bytesOut = ended.bytesOut
    result.tarBytes = ended.tarBytes
    report()
    fsyncSync(fd)
    closeSync(fd)
    fd = -1
    // a rename that never replaces a file that appeared meanwhile, and needs no hard links
    try {
      renameNoReplace(target.partialPath, target.finalPath)
    } catch (error) {
      throw new ClmntError(`cannot put the archive in place as ${target.finalPath}: ${errorCode(error)}`, 1, { cause: error })
    }
    renamed = true
    syncDir(dirname(target.finalPath))
  } finally {
    compressor.close()
    sums.close()
    index.close()
    if (fd >= 0) closeSync(fd)
    if (!renamed) {
      try {
        unlinkSync(target.partialPath)
      } catch {}
    }
  }
}

/** What /proc/self/fd shows for a path given as latin1 text of its bytes. */
function displayPathBytes(binary: string): string {
  return fsPath(binary).toString('utf8')
}

function safeRealpath(path: string): string {
  try {
    return realpathSync(path)
  } catch {
    return path
  }
}
