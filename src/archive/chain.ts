import { statSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { InputError } from '../lib/errors.ts'
import type { Compression } from './compress.ts'
import { MANIFEST_MEMBER, normalizeMemberName } from './layout.ts'
import { parseManifest, type Manifest } from './manifest.ts'
import { ArchiveReadError, archiveCompression, endsComplete, readArchive } from './read.ts'
import { parseStateLine, STATE_MEMBER, type StateEntry } from './state-file.ts'

/**
 * Chains of archives: a full archive, then incremental ones, each naming its parent by file name
 * (in the same folder), size and the sha256 of its manifest.json. Reading a chain costs the head
 * of each archive (manifest and state.jsonl); verify and restore then read every archive whole.
 */
export interface ArchiveFront {
  path: string
  manifest: Manifest
  legacy: boolean
  compression: Compression
  /** sha256 (hex) of the manifest.json member as stored */
  manifestSha256: string
  /** the archive ends as clmnt ends its archives */
  complete: boolean | null
  /** it has a state.jsonl (format 4): it can be a parent */
  hasState: boolean
}

const MAX_MANIFEST = 16 << 20

/**
 * manifest.json and, when asked, every line of state.jsonl (the second member): reading stops
 * right after them. A state line that does not parse makes the archive unusable as a parent.
 */
export async function readFront(path: string, onState?: (entry: StateEntry) => void): Promise<ArchiveFront> {
  const compression = archiveCompression(path)
  let index = 0
  let manifestParts: Uint8Array[] | null = null
  let stateSeen = false
  let carry = ''
  let lineNo = 0
  const utf8 = new TextDecoder()
  const stateLine = (row: string) => {
    lineNo++
    if (!onState || row === '') return
    // the file is UTF-8 JSON; names inside are latin1 text of bytes, which JSON keeps as they are
    const parsed = parseStateLine(utf8.decode(Buffer.from(row, 'latin1')))
    if (typeof parsed === 'string') throw new ArchiveReadError(`${STATE_MEMBER} line ${lineNo}: ${parsed}`, 'format')
    onState(parsed)
  }
  let current: 'manifest' | 'state' | null = null
  await readArchive(
    path,
    {
      entry(entry) {
        const i = index++
        const name = normalizeMemberName(entry.name)
        if (i === 0 && name === MANIFEST_MEMBER && entry.type === 'file') {
          if (entry.size > MAX_MANIFEST) throw new ArchiveReadError(`manifest.json is ${entry.size} bytes: too big to be a manifest`, 'format')
          manifestParts = []
          current = 'manifest'
          return
        }
        if (i === 1 && name === STATE_MEMBER && entry.type === 'file') {
          stateSeen = true
          current = 'state'
          if (!onState) return 'stop'
          return
        }
        return 'stop'
      },
      data(chunk) {
        if (current === 'manifest') manifestParts!.push(chunk.slice())
        else if (current === 'state') {
          // Buffer's latin1 is byte for byte (TextDecoder's 'latin1' is windows-1252)
          const text = carry + Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length).toString('latin1')
          const rows = text.split('\n')
          carry = rows.pop()!
          for (const row of rows) stateLine(row)
        }
      },
      entryEnd() {
        if (current === 'state') {
          stateLine(carry)
          return 'stop'
        }
        current = null
      },
    },
    compression,
  )
  if (!manifestParts) throw new ArchiveReadError('manifest.json is not the first member', 'format')
  const bytes = Buffer.concat(manifestParts)
  const { manifest, legacy } = parseManifest(utf8.decode(bytes))
  const manifestSha256 = new Bun.CryptoHasher('sha256').update(bytes).digest('hex')
  return { path, manifest, legacy, compression, manifestSha256, complete: legacy ? null : endsComplete(path, compression), hasState: stateSeen }
}

/** Why an archive's recorded parent is not the file found under that name, or null. */
export function parentProblem(child: Manifest, parent: ArchiveFront, size: number): string | null {
  const recorded = child.parent!
  if (recorded.manifest_sha256 !== parent.manifestSha256 || recorded.size !== size) return replacedParent(recorded.file)
  return null
}

/** The words for a parent found under its name that is another archive (a folder's or a bucket's). */
export function replacedParent(file: string): string {
  return `its parent ${file} was changed or replaced since (not the archive it was made from)`
}

/** The one line for a parent that is not where its child says: `where` is a folder or an s3:// prefix. */
export function missingParent(child: string, parent: string, where: string): string {
  return `broken chain: ${child} needs its parent ${parent}, which is missing from ${where}`
}

export interface Chain {
  /** the full archive first, the asked-for archive last */
  archives: ArchiveFront[]
}

/**
 * The chain of an archive, oldest (the full one) first. A missing, changed or unreadable parent
 * is an InputError of one line naming it.
 */
export async function resolveChain(path: string, first?: ArchiveFront): Promise<Chain> {
  const archives: ArchiveFront[] = []
  let front = first ?? (await frontOrInput(path))
  archives.unshift(front)
  const seen = new Set([basename(path)])
  while (front.manifest.kind === 'incremental') {
    const recorded = front.manifest.parent
    if (!recorded) throw new InputError(`${basename(front.path)}: an incremental archive that names no parent`)
    if (seen.has(recorded.file) || archives.length > 10_000) throw new InputError(`${basename(front.path)}: its chain of parents loops at ${recorded.file}`)
    seen.add(recorded.file)
    const parentPath = join(dirname(front.path), recorded.file)
    let size: number
    try {
      size = statSync(parentPath).size
    } catch {
      throw new InputError(missingParent(basename(front.path), recorded.file, dirname(front.path)))
    }
    let parent: ArchiveFront
    try {
      parent = await readFront(parentPath)
    } catch (error) {
      throw new InputError(`broken chain: ${basename(front.path)} needs its parent ${recorded.file}, which cannot be read (${(error as Error).message})`)
    }
    const problem = parentProblem(front.manifest, parent, size)
    if (problem) throw new InputError(`broken chain: ${basename(front.path)}: ${problem}`)
    archives.unshift(parent)
    front = parent
  }
  return { archives }
}

async function frontOrInput(path: string): Promise<ArchiveFront> {
  try {
    return await readFront(path)
  } catch (error) {
    if (error instanceof ArchiveReadError || error instanceof InputError) throw new InputError(`${path}: ${error.message}`)
    throw error
  }
}

/** File names an archive needs (its parents, up to the full one), from the listings' parent names. */
export function ancestors(file: string, parentOf: ReadonlyMap<string, string | null>): string[] {
  const out: string[] = []
  const seen = new Set([file])
  for (let parent = parentOf.get(file) ?? null; parent && !seen.has(parent); parent = parentOf.get(parent) ?? null) {
    seen.add(parent)
    out.push(parent)
  }
  return out
}
