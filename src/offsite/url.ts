import { isArchiveName, PARTIAL_SUFFIX } from '../archive/list.ts'
import { UsageError, quote } from '../lib/errors.ts'

/**
 * `s3://bucket/prefix`: where off-site archives live. The prefix is a folder-like key prefix
 * ("" or ending in "/"); the endpoint and credentials never appear here (environment or clmnt.json).
 */
export interface S3Location {
  bucket: string
  /** "" or "a/b/" */
  prefix: string
}

/** A remote archive, or the newest good one under a prefix (`…/latest`). */
export interface RemoteArchiveRef {
  location: S3Location
  /** null: the newest good archive */
  archive: string | null
}

const BUCKET = /^[A-Za-z0-9][A-Za-z0-9._-]{1,254}$/

export function isS3Url(value: string): boolean {
  return value.startsWith('s3://')
}

export function parseS3Url(value: string, option = '--to'): S3Location {
  const bad = (why: string) => new UsageError(`invalid value ${quote(value)} for ${option}: ${why}`)
  if (!isS3Url(value)) throw bad('expected s3://bucket/prefix')
  const rest = value.slice('s3://'.length)
  const slash = rest.indexOf('/')
  const bucket = slash < 0 ? rest : rest.slice(0, slash)
  const path = slash < 0 ? '' : rest.slice(slash + 1)
  if (/[@:]/.test(bucket)) throw bad('credentials do not belong in the URL: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or the "s3" section of clmnt.json')
  if (!BUCKET.test(bucket)) throw bad(bucket ? `${quote(bucket)} is not a bucket name` : 'the bucket name is missing')
  if (/[?#\\\x00-\x1f\x7f]/.test(path)) throw bad('the prefix may not hold ?, #, backslashes or control characters')
  const segments = path.split('/')
  if (segments.at(-1) === '') segments.pop()
  if (segments.some((s) => s === '' || s === '.' || s === '..')) throw bad('the prefix may not hold empty, "." or ".." parts')
  return { bucket, prefix: segments.length ? `${segments.join('/')}/` : '' }
}

/** `s3://bucket/prefix/<archive>` or `s3://bucket/prefix/latest` (what `fleet restore --from` takes). */
export function parseRemoteArchive(value: string, option = '--from'): RemoteArchiveRef {
  const location = parseS3Url(value, option)
  const parts = location.prefix.split('/').filter(Boolean)
  const last = parts.pop()
  const parent = { bucket: location.bucket, prefix: parts.length ? `${parts.join('/')}/` : '' }
  if (last === 'latest') return { location: parent, archive: null }
  if (last && isArchiveName(last) && !last.endsWith(PARTIAL_SUFFIX)) return { location: parent, archive: last }
  throw new UsageError(`invalid value ${quote(value)} for ${option}: name an archive (s3://bucket/prefix/fleet-….tar.gz) or the newest one (s3://bucket/prefix/latest)`)
}

export function formatS3Url(location: S3Location, name = ''): string {
  return `s3://${location.bucket}/${location.prefix}${name}`
}
