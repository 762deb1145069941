import { statSync } from 'node:fs'
import { hostname } from 'node:os'
import { basename } from 'node:path'
import type { BackupOptions, Target } from './backup.ts'
import type { MoltPlan, Plan } from './collect.ts'
import type { Compression } from './compress.ts'
import type { Incremental, ParentChoice } from './incremental.ts'
import { CHECKSUMS_MEMBER, COMPONENTS, CRONTAB_FILE, FORMAT_VERSION, GLOBAL_DIR, GLOBAL_DIR_FALLBACK, INDEX_MEMBER, STATE_MEMBER } from './layout.ts'
import { isoWithOffset, manifestSchema, type Manifest } from './manifest.ts'

/**
 * What a backup's archive says about itself, its first member: options, molts and their totals
 * from the plan (cut down to what changed, for an incremental one), and format 4's chain fields.
 * Built once the plan is final, before a byte of content is read.
 */

/** format 4's manifest fields: kind, parent, chain, layout.state, molts[].deleted */
export interface ChainFields {
  kind: 'full' | 'incremental'
  parent: { file: string; size: number; manifest_sha256: string; timestamp: string } | null
  chain: { full: string; full_timestamp: string; depth: number }
  deleted: Map<string, string[]>
}

export function chainFields(target: Target, applied: Incremental, choice: ParentChoice | null, now: Date): ChainFields {
  if (!choice?.parent) return { kind: 'full', parent: null, chain: { full: basename(target.finalPath), full_timestamp: isoWithOffset(now), depth: 0 }, deleted: new Map() }
  const parent = choice.parent
  return {
    kind: 'incremental',
    parent: { file: basename(parent.path), size: statSync(parent.path).size, manifest_sha256: parent.manifestSha256, timestamp: parent.manifest.timestamp },
    chain: { full: choice.fullFile, full_timestamp: choice.fullTimestamp, depth: choice.depth },
    deleted: applied.deleted,
  }
}

export function buildManifest(plan: Plan, options: BackupOptions, now: Date, compression: Compression, level: number, chain: ChainFields | null): Manifest {
  const globalDir = plan.molts.some((m) => m.molt.name === GLOBAL_DIR) ? GLOBAL_DIR_FALLBACK : GLOBAL_DIR
  const raw = {
    version: FORMAT_VERSION,
    clmnt_version: options.clmntVersion,
    timestamp: isoWithOffset(now),
    hostname: hostname(),
    base_dir: options.baseDir,
    options: {
      select: options.select ? [...new Set(options.select)].sort() : null,
      exclude_maildir: !!options.excludeMaildir,
      exclude_logs: !!options.excludeLogs,
      allow_partial: !!options.allowPartial,
      compression,
      compress_level: level,
    },
    layout: { global: globalDir, checksums: CHECKSUMS_MEMBER, crontab: CRONTAB_FILE, index: INDEX_MEMBER, state: chain ? STATE_MEMBER : null },
    global_files: plan.global.map((g) => g.name),
    molts: plan.molts.map((m) => ({ ...moltManifest(m), deleted: chain?.deleted.get(m.molt.name) ?? [] })),
    total_size_bytes: plan.bytes,
    total_files: plan.files,
    kind: chain?.kind ?? 'full',
    parent: chain?.parent ?? null,
    chain: chain?.chain ?? null,
  }
  // the writer goes through the reader's schema too: what we write is what restore will accept
  return manifestSchema().parse(raw)
}

function moltManifest(m: MoltPlan) {
  const present = m.components
  return {
    name: m.molt.name,
    port: m.molt.port,
    created: m.molt.created,
    home: m.molt.home,
    user: m.user,
    group: m.group,
    components: COMPONENTS.filter((c) => present.has(c)),
    component_stats: m.componentStats,
    files: m.files,
    dirs: m.dirs,
    symlinks: m.symlinks,
    backup_size_bytes: m.bytes,
    crontab: m.crontab ? CRONTAB_FILE : null,
  }
}
