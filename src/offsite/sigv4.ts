/**
 * AWS Signature Version 4 for the one request Bun's S3 client lacks: CopyObject (a server-side
 * copy, which is how a staged upload reaches its final key without a second transfer). Header
 * signing per docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html; tested
 * against AWS's own example and against the presigned URLs Bun's client makes.
 */
export interface Credentials {
  accessKeyId: string
  secretAccessKey: string
  sessionToken?: string | null
}

export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'

export function sha256Hex(data: string | Uint8Array): string {
  return new Bun.CryptoHasher('sha256').update(data).digest('hex')
}

function hmac(key: string | Uint8Array, data: string): Uint8Array {
  return new Uint8Array(new Bun.CryptoHasher('sha256', key).update(data).digest().buffer)
}

/** RFC 3986 encoding as SigV4 wants it: everything but A-Z a-z 0-9 - _ . ~ (and '/' in paths). */
export function uriEncode(text: string, keepSlash: boolean): string {
  let out = ''
  for (const byte of new TextEncoder().encode(text)) {
    const c = String.fromCharCode(byte)
    if (/[A-Za-z0-9\-_.~]/.test(c) || (keepSlash && c === '/')) out += c
    else out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`
  }
  return out
}

/** 20130524T000000Z */
export function amzDate(date: Date): string {
  return date.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '')
}

export function signingKey(secret: string, day: string, region: string, service: string): Uint8Array {
  return hmac(hmac(hmac(hmac(`AWS4${secret}`, day), region), service), 'aws4_request')
}

export interface CanonicalInput {
  method: string
  /** already encoded, as sent */
  path: string
  query: [string, string][]
  /** lower-case names */
  headers: Record<string, string>
  payloadHash: string
}

export function canonicalRequest(input: CanonicalInput): { text: string; signedHeaders: string } {
  const names = Object.keys(input.headers).map((n) => n.toLowerCase()).sort()
  const headers = Object.fromEntries(Object.entries(input.headers).map(([k, v]) => [k.toLowerCase(), v.trim().replace(/\s+/g, ' ')]))
  const query = input.query
    .map(([k, v]) => [uriEncode(k, false), uriEncode(v, false)] as const)
    .sort(([a, av], [b, bv]) => (a < b ? -1 : a > b ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&')
  const signedHeaders = names.join(';')
  const text = [input.method, input.path, query, names.map((n) => `${n}:${headers[n]}\n`).join(''), signedHeaders, input.payloadHash].join('\n')
  return { text, signedHeaders }
}

export function stringToSign(amz: string, scope: string, canonical: string): string {
  return ['AWS4-HMAC-SHA256', amz, scope, sha256Hex(canonical)].join('\n')
}

export interface SignInput {
  method: string
  url: URL
  /** headers to sign besides host, x-amz-date and x-amz-content-sha256 */
  headers?: Record<string, string>
  payloadHash?: string
  credentials: Credentials
  region: string
  service?: string
  now?: Date
}

/** The headers to send (Host is set by fetch from the URL, and signed here the same way). */
export function signHeaders(input: SignInput): Record<string, string> {
  const now = input.now ?? new Date()
  const amz = amzDate(now)
  const day = amz.slice(0, 8)
  const service = input.service ?? 's3'
  const payloadHash = input.payloadHash ?? EMPTY_SHA256
  const headers: Record<string, string> = { ...lower(input.headers ?? {}), host: input.url.host, 'x-amz-date': amz, 'x-amz-content-sha256': payloadHash }
  if (input.credentials.sessionToken) headers['x-amz-security-token'] = input.credentials.sessionToken
  const query = [...input.url.searchParams.entries()]
  const { text, signedHeaders } = canonicalRequest({ method: input.method, path: input.url.pathname || '/', query, headers, payloadHash })
  const scope = `${day}/${input.region}/${service}/aws4_request`
  const signature = new Bun.CryptoHasher('sha256', signingKey(input.credentials.secretAccessKey, day, input.region, service)).update(stringToSign(amz, scope, text)).digest('hex')
  const { host: _host, ...rest } = headers
  return { ...rest, authorization: `AWS4-HMAC-SHA256 Credential=${input.credentials.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}` }
}

function lower(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]))
}
