import { readFleetConfig } from '../fleet/config.ts'
import { ClmntError } from '../lib/errors.ts'
import { resolveS3Settings, type S3Settings } from './settings.ts'
import { signHeaders } from './sigv4.ts'
import { formatS3Url, parseS3Url, type S3Location } from './url.ts'

/**
 * One prefix of one bucket, through Bun's built-in S3 client (no AWS SDK): list, stat, read,
 * write, delete, and a server-side copy (signed here: Bun's client has none).
 */
export interface RemoteObject {
  /** the key without the prefix */
  name: string
  size: number
  lastModifiedMs: number
}

/** An S3 operation that failed, in one line: what, where, and the store's error code. */
export class RemoteError extends ClmntError {
  constructor(
    message: string,
    readonly code: string | null,
    options?: { cause?: unknown },
  ) {
    super(message, 1, options)
    this.name = 'RemoteError'
  }
}

const NOT_FOUND = new Set(['NoSuchKey', 'NotFound'])
const HINTS: Record<string, string> = {
  ConnectionRefused: 'connection refused: is the endpoint right (AWS_ENDPOINT_URL, S3_ENDPOINT or "endpoint" in clmnt.json)?',
  ConnectionClosed: 'the connection was closed',
  NoSuchBucket: 'no such bucket',
  InvalidAccessKeyId: 'the access key is not known to the store (AWS_ACCESS_KEY_ID)',
  SignatureDoesNotMatch: 'the signature does not match: check AWS_SECRET_ACCESS_KEY and AWS_REGION',
  AccessDenied: 'access denied: the key may not do this on that bucket',
}

export function describeS3Error(error: unknown): { code: string | null; text: string } {
  const e = error as { code?: string; message?: string; name?: string }
  const code = typeof e?.code === 'string' ? e.code : null
  const hint = code ? HINTS[code] : undefined
  const message = e?.message && e.message !== 'an unexpected error has occurred' ? e.message : null
  return { code, text: hint ? `${hint}${message && !hint.includes(message) ? ` (${message})` : ''}` : `${message ?? String(error)}${code ? ` (${code})` : ''}` }
}

/** The store for `location`, with settings from the environment and `<base-dir>/clmnt.json`. */
export function openRemote(location: S3Location, options: { baseDir: string; env?: Record<string, string | undefined>; warn?(message: string): void }): Remote {
  const read = readFleetConfig(options.baseDir)
  for (const warning of read.warnings) options.warn?.(warning)
  const settings = resolveS3Settings(read.config.s3, options.env ?? process.env)
  for (const warning of settings.warnings) options.warn?.(warning)
  return new Remote(settings, location)
}

/** `--to`/`--from s3://bucket/prefix` as a command gives it: a usage error when malformed. */
export function openRemoteUrl(url: string, option: string, options: { baseDir: string; env?: Record<string, string | undefined>; warn?(message: string): void }): Remote {
  return openRemote(parseS3Url(url, option), options)
}

export class Remote {
  readonly client: Bun.S3Client
  readonly #pageSize: number

  constructor(
    readonly settings: S3Settings,
    readonly location: S3Location,
    options: { pageSize?: number } = {},
  ) {
    this.#pageSize = options.pageSize ?? 1000
    // every value explicit: Bun would otherwise also read S3_* and AWS_* variables on its own
    this.client = new Bun.S3Client({
      bucket: location.bucket,
      region: settings.region,
      accessKeyId: settings.accessKeyId,
      secretAccessKey: settings.secretAccessKey,
      ...(settings.sessionToken ? { sessionToken: settings.sessionToken } : {}),
      ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
      virtualHostedStyle: settings.virtualHostedStyle,
    })
  }

  key(name: string): string {
    return this.location.prefix + name
  }

  url(name = ''): string {
    return formatS3Url(this.location, name)
  }

  fail(action: string, name: string | null, error: unknown): RemoteError {
    if (error instanceof RemoteError) return error
    const { code, text } = describeS3Error(error)
    return new RemoteError(`${action} ${name === null ? this.url() : this.url(name)} failed: ${text}`, code, { cause: error })
  }

  /** Can we list the prefix? Done before a long backup, so wrong settings fail in a second, not after an hour. */
  async check(timeoutMs = 30_000): Promise<void> {
    let timer: Timer | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new RemoteError(`no answer from the S3 endpoint within ${timeoutMs / 1000} s (${this.settings.endpoint ?? 'AWS'})`, 'Timeout')), timeoutMs)
    })
    try {
      await Promise.race([this.client.list({ prefix: this.location.prefix, maxKeys: 1 }), timeout])
    } catch (error) {
      throw this.fail('listing', null, error)
    } finally {
      clearTimeout(timer)
    }
  }

  /** The objects right under the prefix (not in deeper "folders"), every page. */
  async list(): Promise<RemoteObject[]> {
    const out: RemoteObject[] = []
    let continuationToken: string | undefined
    try {
      do {
        const page = await this.client.list({ prefix: this.location.prefix, delimiter: '/', maxKeys: this.#pageSize, ...(continuationToken ? { continuationToken } : {}) })
        for (const o of page.contents ?? []) {
          const name = o.key.slice(this.location.prefix.length)
          if (!o.key.startsWith(this.location.prefix) || name === '' || name.includes('/')) continue
          out.push({ name, size: o.size ?? 0, lastModifiedMs: o.lastModified ? Date.parse(o.lastModified) : 0 })
        }
        continuationToken = page.isTruncated ? page.nextContinuationToken : undefined
      } while (continuationToken)
    } catch (error) {
      throw this.fail('listing', null, error)
    }
    return out
  }

  async stat(name: string): Promise<RemoteObject | null> {
    try {
      const s = await this.client.stat(this.key(name))
      return { name, size: s.size, lastModifiedMs: s.lastModified.getTime() }
    } catch (error) {
      if (NOT_FOUND.has((error as { code?: string }).code ?? '')) return null
      throw this.fail('checking', name, error)
    }
  }

  async readText(name: string): Promise<string> {
    try {
      return await this.client.file(this.key(name)).text()
    } catch (error) {
      throw this.fail('reading', name, error)
    }
  }

  async writeText(name: string, text: string, type = 'application/json'): Promise<void> {
    try {
      await this.client.write(this.key(name), text, { type })
    } catch (error) {
      throw this.fail('writing', name, error)
    }
  }

  async delete(name: string): Promise<void> {
    try {
      await this.client.delete(this.key(name))
    } catch (error) {
      throw this.fail('deleting', name, error)
    }
  }

  /**
   * CopyObject within the bucket. The object's URL is the one Bun's client uses (from a presigned
   * URL, so path-style, virtual-hosted style and AWS's default endpoints all agree); the request
   * is signed here. S3 may answer 200 with an <Error> body, so the body is read either way.
   */
  async copy(from: string, to: string, timeoutMs = 300_000): Promise<void> {
    const target = new URL(this.client.presign(this.key(to), { method: 'PUT', expiresIn: 60 }))
    target.search = ''
    const source = `/${this.location.bucket}/${this.key(from).split('/').map(encodeURIComponent).join('/')}`
    const headers = signHeaders({
      method: 'PUT',
      url: target,
      headers: { 'x-amz-copy-source': source },
      credentials: this.settings,
      region: this.settings.region,
    })
    let status: number
    let body: string
    try {
      const response = await fetch(target, { method: 'PUT', headers, signal: AbortSignal.timeout(timeoutMs) })
      status = response.status
      body = await response.text()
    } catch (error) {
      throw this.fail(`copying ${this.url(from)} to`, to, error)
    }
    const code = /<Code>([^<]*)<\/Code>/.exec(body)?.[1] ?? null
    if (status !== 200 || code || !/<CopyObjectResult/.test(body)) {
      const message = /<Message>([^<]*)<\/Message>/.exec(body)?.[1]
      throw new RemoteError(`copying ${this.url(from)} to ${this.url(to)} failed: ${code ? (HINTS[code] ?? `${message ?? code} (${code})`) : `HTTP ${status}`}`, code)
    }
  }
}
