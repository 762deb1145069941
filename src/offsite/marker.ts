import type { Manifest } from '../archive/manifest.ts'
import { lazySchema } from '../lib/schema.ts'

/**
 * The completion marker: a small JSON object `<archive>.complete.json` next to the archive,
 * written only after the archive's remote size was checked. An archive without one is an
 * upload that did not finish. It also carries what a listing shows (from the manifest) and the
 * archive's SHA-256, which a download checks before restore reads a byte.
 */
export const MARKER_SUFFIX = '.complete.json'
export const MARKER_FORMAT = 'clmnt-offsite-marker'

export interface MarkerManifest {
  version: string
  clmnt_version: string | null
  timestamp: string
  hostname: string | null
  /** the base dir of the fleet (--keep judges by host and base dir); absent in older markers */
  base_dir?: string | null
  compression: string
  molts: string[]
  total_files: number | null
  total_size_bytes: number | null
  /** format 4: full or incremental, and an incremental archive's parent (--keep keeps chains); absent in older markers */
  kind?: 'full' | 'incremental' | null
  parent?: string | null
}

export interface Marker {
  format: typeof MARKER_FORMAT
  version: 1
  archive: string
  size_bytes: number
  sha256: string
  uploaded_at: string
  uploaded_by: string
  manifest: MarkerManifest
}

export const markerSchema = lazySchema((z) =>
  z.object({
    format: z.literal(MARKER_FORMAT),
    version: z.literal(1),
    archive: z.string().min(1),
    size_bytes: z.number().int().min(0),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    uploaded_at: z.string().refine((t) => !Number.isNaN(Date.parse(t)), 'not a time'),
    uploaded_by: z.string(),
    manifest: z.object({
      version: z.string(),
      clmnt_version: z.string().nullable(),
      timestamp: z.string(),
      hostname: z.string().nullable(),
      base_dir: z.string().nullable().optional(),
      compression: z.string(),
      molts: z.array(z.string()),
      total_files: z.number().int().min(0).nullable(),
      total_size_bytes: z.number().int().min(0).nullable(),
      kind: z.enum(['full', 'incremental']).nullable().optional(),
      parent: z.string().nullable().optional(),
    }),
  }),
)

export function markerName(archive: string): string {
  return archive + MARKER_SUFFIX
}

export function buildMarker(input: { archive: string; sizeBytes: number; sha256: string; uploadedAt: Date; clmntVersion: string; manifest: Manifest }): Marker {
  const m = input.manifest
  return {
    format: MARKER_FORMAT,
    version: 1,
    archive: input.archive,
    size_bytes: input.sizeBytes,
    sha256: input.sha256,
    uploaded_at: input.uploadedAt.toISOString(),
    uploaded_by: `clmnt ${input.clmntVersion}`,
    manifest: {
      version: m.version,
      clmnt_version: m.clmnt_version,
      timestamp: m.timestamp,
      hostname: m.hostname,
      base_dir: m.base_dir,
      compression: m.options.compression,
      molts: m.molts.map((molt) => molt.name),
      total_files: m.total_files,
      total_size_bytes: m.total_size_bytes,
      kind: m.kind,
      parent: m.parent?.file ?? null,
    },
  }
}

/** The marker of `archive`, or why it cannot vouch for it. */
export function parseMarker(text: string, archive: string): { marker: Marker } | { problem: string } {
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch {
    return { problem: 'its completion marker is not valid JSON' }
  }
  const parsed = markerSchema().safeParse(raw)
  if (!parsed.success) return { problem: `its completion marker is malformed (${parsed.error.issues[0]?.path.join('.') || 'the object'}: ${parsed.error.issues[0]?.message ?? 'invalid'})` }
  const marker = parsed.data as Marker
  if (marker.archive !== archive) return { problem: `its completion marker names another archive (${JSON.stringify(marker.archive)})` }
  return { marker }
}
