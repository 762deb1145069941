import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { chmodSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { readFleetConfig } from '../../src/fleet/config.ts'
import { InputError, UsageError } from '../../src/lib/errors.ts'
import { buildMarker, markerName, parseMarker } from '../../src/offsite/marker.ts'
import { describeS3Error, Remote } from '../../src/offsite/remote.ts'
import { resolveS3Settings, s3ConfigProblem } from '../../src/offsite/settings.ts'
import { canonicalRequest, signHeaders, signingKey, stringToSign, uriEncode } from '../../src/offsite/sigv4.ts'
import { partSizeFor } from '../../src/offsite/upload.ts'
import { formatS3Url, parseRemoteArchive, parseS3Url } from '../../src/offsite/url.ts'
import { manifestSchema } from '../../src/archive/manifest.ts'
import { removeDir, tempDir } from '../helpers/fleet.ts'

describe('s3:// URLs', () => {
  test.each([
    ['s3://bucket', { bucket: 'bucket', prefix: '' }],
    ['s3://bucket/', { bucket: 'bucket', prefix: '' }],
    ['s3://bucket/host1', { bucket: 'bucket', prefix: 'host1/' }],
    ['s3://my.bucket-2/a/b c/ünï/', { bucket: 'my.bucket-2', prefix: 'a/b c/ünï/' }],
  ])('%s', (url, location) => {
    expect(parseS3Url(url)).toEqual(location)
    expect(formatS3Url(parseS3Url(url))).toBe(`s3://${location.bucket}/${location.prefix}`)
  })

  test.each([
    ['https://bucket/x', 'expected s3://bucket/prefix'],
    ['s3://', 'the bucket name is missing'],
    ['s3://AKIA:secret@bucket/x', 'credentials do not belong in the URL'],
    ['s3://b/x', 'is not a bucket name'],
    ['s3://bucket//x', 'empty, "." or ".."'],
    ['s3://bucket/a/../b', 'empty, "." or ".."'],
    ['s3://bucket/a?versionId=1', 'may not hold ?'],
    ['s3://bucket/a\nb', 'control characters'],
  ])('%p is a usage error: %s', (url, message) => {
    expect(() => parseS3Url(url)).toThrow(UsageError)
    expect(() => parseS3Url(url)).toThrow(message)
  })

  test('restore takes an archive or latest', () => {
    expect(parseRemoteArchive('s3://b1/host1/fleet-2026-02-02-103000.tar.gz')).toEqual({ location: { bucket: 'b1', prefix: 'host1/' }, archive: 'fleet-2026-02-02-103000.tar.gz' })
    expect(parseRemoteArchive('s3://b1/host1/latest')).toEqual({ location: { bucket: 'b1', prefix: 'host1/' }, archive: null })
    expect(parseRemoteArchive('s3://b1/latest')).toEqual({ location: { bucket: 'b1', prefix: '' }, archive: null })
    for (const bad of ['s3://b1/host1', 's3://b1/host1/fleet-x.tar.gz.partial', 's3://b1/x.tar.gz.complete.json']) expect(() => parseRemoteArchive(bad)).toThrow('name an archive')
  })
})

describe('S3 settings: environment first, then clmnt.json, never argv', () => {
  const file = { endpoint: 'https://s3.example.org', region: 'eu-1', access_key_id: 'FILEKEY', secret_access_key: 'FILESECRET' }

  test('from clmnt.json', () => {
    const s = resolveS3Settings(file, {})
    expect(s).toMatchObject({ endpoint: 'https://s3.example.org', region: 'eu-1', accessKeyId: 'FILEKEY', secretAccessKey: 'FILESECRET', sessionToken: null, virtualHostedStyle: false, source: { endpoint: 'clmnt.json', credentials: 'clmnt.json' } })
  })

  test('the environment wins; the key pair never comes half from each', () => {
    const env = { AWS_ACCESS_KEY_ID: 'ENVKEY', AWS_SECRET_ACCESS_KEY: 'ENVSECRET', AWS_SESSION_TOKEN: 'TOK', AWS_REGION: 'us-west-2', S3_ENDPOINT: 'http://127.0.0.1:9000/' }
    expect(resolveS3Settings(file, env)).toMatchObject({ endpoint: 'http://127.0.0.1:9000', region: 'us-west-2', accessKeyId: 'ENVKEY', secretAccessKey: 'ENVSECRET', sessionToken: 'TOK', source: { endpoint: '$S3_ENDPOINT', credentials: 'environment' }, warnings: [] })
    expect(resolveS3Settings(file, { ...env, AWS_ENDPOINT_URL: 'https://a.example', AWS_ENDPOINT_URL_S3: 'https://b.example' }).endpoint).toBe('https://b.example')
    expect(() => resolveS3Settings(file, { AWS_ACCESS_KEY_ID: 'ENVKEY' })).toThrow('AWS_SECRET_ACCESS_KEY is not set')
  })

  test('no credentials anywhere: an exit-2 error that says where they go', () => {
    expect(() => resolveS3Settings(undefined, {})).toThrow(InputError)
    expect(() => resolveS3Settings(undefined, {})).toThrow('set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY')
    expect(() => resolveS3Settings({ access_key_id: 'k' }, {})).toThrow('needs both access_key_id and secret_access_key')
  })

  test('AWS itself when no endpoint is set; plain http off this machine is a warning', () => {
    expect(resolveS3Settings({ access_key_id: 'k', secret_access_key: 's' }, {})).toMatchObject({ endpoint: null, region: 'us-east-1', source: { endpoint: 'AWS default' } })
    expect(resolveS3Settings({ ...file, endpoint: 'http://minio.lan:9000' }, {}).warnings).toEqual([expect.stringContaining('plain http')])
    expect(() => resolveS3Settings({ ...file, endpoint: 'ftp://x' }, {})).toThrow('expected an http:// or https:// URL')
  })

  test.each([
    [{ endpoint: 'https://s3.example.org', virtual_hosted_style: true }, null],
    ['text', 'expected an object'],
    [{ secret_key: 'x' }, 'unknown key "secret_key"'],
    [{ region: 3 }, 'region: expected a non-empty string'],
    [{ virtual_hosted_style: 'yes' }, 'expected true or false'],
    [{ endpoint: 'https://k:s@host' }, 'credentials do not belong in the URL'],
  ])('clmnt.json "s3" section %p', (section, problem) => {
    expect(s3ConfigProblem(section)).toEqual(problem === null ? null : expect.stringContaining(problem))
  })

  describe('in clmnt.json', () => {
    let dir: string
    beforeEach(() => {
      dir = tempDir()
    })
    afterEach(() => removeDir(dir))

    test('read, checked, and a secret others can read is a warning', () => {
      writeFileSync(join(dir, 'clmnt.json'), JSON.stringify({ s3: file }))
      chmodSync(join(dir, 'clmnt.json'), 0o644)
      const read = readFleetConfig(dir)
      expect(read.config.s3).toEqual(file)
      expect(read.warnings).toEqual([expect.stringContaining('holds an S3 secret key and is readable by other users')])
      writeFileSync(join(dir, 'clmnt.json'), JSON.stringify({ s3: { ...file, secret: 'x' } }))
      expect(() => readFleetConfig(dir)).toThrow('s3: unknown key "secret"')
    })
  })
})

describe('SigV4 (for CopyObject, which Bun lacks)', () => {
  test("AWS's documented example: GET Object with a Range header", () => {
    // docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html, "Example: GET Object"
    const headers = signHeaders({
      method: 'GET',
      url: new URL('https://examplebucket.s3.amazonaws.com/test.txt'),
      headers: { Range: 'bytes=0-9' },
      credentials: { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' },
      region: 'us-east-1',
      now: new Date('2013-05-24T00:00:00Z'),
    })
    expect(headers.authorization).toBe('AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41')
    expect(headers['x-amz-date']).toBe('20130524T000000Z')
  })

  test.each(['a/b c/ünï$+=&~.tar.gz', 'host1/fleet-2026-02-02-103000.tar.gz'])("agrees with the presigned URLs Bun's own client signs (%s)", (key) => {
    const client = new Bun.S3Client({ endpoint: 'http://127.0.0.1:9000', bucket: 'bk', accessKeyId: 'AK', secretAccessKey: 'SK/secret+key', region: 'eu-west-1' })
    const url = new URL(client.presign(key, { method: 'PUT', expiresIn: 600 }))
    expect(url.pathname).toBe(`/bk/${uriEncode(key, true)}`)
    const amz = url.searchParams.get('X-Amz-Date')!
    const query = [...url.searchParams.entries()].filter(([k]) => k !== 'X-Amz-Signature')
    const { text } = canonicalRequest({ method: 'PUT', path: url.pathname, query, headers: { host: url.host }, payloadHash: 'UNSIGNED-PAYLOAD' })
    const day = amz.slice(0, 8)
    const signature = new Bun.CryptoHasher('sha256', signingKey('SK/secret+key', day, 'eu-west-1', 's3')).update(stringToSign(amz, `${day}/eu-west-1/s3/aws4_request`, text)).digest('hex')
    expect(signature).toBe(url.searchParams.get('X-Amz-Signature')!)
  })

  test('a session token is sent and signed', () => {
    const headers = signHeaders({ method: 'PUT', url: new URL('http://127.0.0.1:9000/bk/x'), headers: { 'x-amz-copy-source': '/bk/y' }, credentials: { accessKeyId: 'a', secretAccessKey: 'b', sessionToken: 'tok' }, region: 'us-east-1' })
    expect(headers['x-amz-security-token']).toBe('tok')
    expect(headers.authorization).toContain('SignedHeaders=host;x-amz-content-sha256;x-amz-copy-source;x-amz-date;x-amz-security-token,')
  })
})

describe('completion marker', () => {
  const manifest = manifestSchema().parse({
    version: '2', clmnt_version: '0.1.0', timestamp: '2026-02-02T10:30:00+00:00', hostname: 'claw', base_dir: '/srv', options: { compression: 'gzip' },
    layout: { global: 'global', checksums: 'checksums.sha256', crontab: null }, global_files: [], molts: [{ name: 'mybot', files: 3, backup_size_bytes: 10 }], total_files: 3, total_size_bytes: 10,
  })
  const marker = buildMarker({ archive: 'fleet-a.tar.gz', sizeBytes: 99, sha256: 'a'.repeat(64), uploadedAt: new Date('2026-02-02T10:31:00Z'), clmntVersion: '0.1.0', manifest })

  test('round trip', () => {
    expect(markerName('fleet-a.tar.gz')).toBe('fleet-a.tar.gz.complete.json')
    expect(parseMarker(JSON.stringify(marker), 'fleet-a.tar.gz')).toEqual({ marker })
    expect(marker.manifest).toEqual({ version: '2', clmnt_version: '0.1.0', timestamp: '2026-02-02T10:30:00+00:00', hostname: 'claw', base_dir: '/srv', compression: 'gzip', molts: ['mybot'], total_files: 3, total_size_bytes: 10, kind: 'full', parent: null })
  })

  test.each([
    ['{"format":', 'not valid JSON'],
    [JSON.stringify({ ...marker, sha256: 'xyz' }), 'malformed (sha256'],
    [JSON.stringify({ ...marker, size_bytes: -1 }), 'malformed (size_bytes'],
    [JSON.stringify(marker).slice(0, 120), 'not valid JSON'],
  ])('a marker that cannot vouch: %#', (text, problem) => {
    expect(parseMarker(text, 'fleet-a.tar.gz')).toEqual({ problem: expect.stringContaining(problem) })
  })

  test("another archive's marker does not vouch", () => {
    expect(parseMarker(JSON.stringify(marker), 'fleet-b.tar.gz')).toEqual({ problem: expect.stringContaining('names another archive') })
  })
})

test('part size: 5 MiB (S3 minimum) up to 45 GB, then bigger so an upload stays under 10,000 parts', () => {
  const MiB = 1 << 20
  expect(partSizeFor(0)).toBe(5 * MiB)
  expect(partSizeFor(300_000_000)).toBe(5 * MiB)
  expect(partSizeFor(100 * 1024 * MiB)).toBe(12 * MiB)
  for (const size of [45e9, 100e9, 4e12]) expect(Math.ceil(size / partSizeFor(size))).toBeLessThanOrEqual(9000)
})

test('S3 errors in words', () => {
  expect(describeS3Error({ code: 'ConnectionRefused', message: 'an unexpected error has occurred' }).text).toContain('connection refused: is the endpoint right')
  expect(describeS3Error({ code: 'NoSuchBucket', message: 'The specified bucket does not exist' }).text).toBe('no such bucket (The specified bucket does not exist)')
  expect(describeS3Error({ code: 'SlowDown', message: 'Please reduce your request rate.' }).text).toBe('Please reduce your request rate. (SlowDown)')
})

test('a listing follows every page, and keeps only what is right under the prefix', async () => {
  // s3rver returns keys unsorted, so its pages overlap: the paging is tested against S3's contract here
  const keys = ['p/deeper/x.tar.gz', ...[1, 2, 3, 4, 5].map((i) => `p/fleet-2026-01-0${i}-000000.tar.gz`), 'p/z.complete.json'].sort()
  const calls: Record<string, unknown>[] = []
  const remote = new Remote(resolveS3Settings({ access_key_id: 'k', secret_access_key: 's' }, {}), { bucket: 'b', prefix: 'p/' }, { pageSize: 2 })
  const fake = {
    async list(options: { prefix: string; delimiter: string; maxKeys: number; continuationToken?: string }) {
      calls.push(options)
      const below = keys.filter((k) => k.startsWith(options.prefix) && !k.slice(options.prefix.length).includes('/'))
      const start = options.continuationToken ? below.indexOf(options.continuationToken) + 1 : 0
      const page = below.slice(start, start + options.maxKeys)
      const more = start + options.maxKeys < below.length
      return { contents: page.map((key) => ({ key, size: 1, lastModified: '2026-01-01T00:00:00Z' })), commonPrefixes: [{ prefix: 'p/deeper/' }], isTruncated: more, nextContinuationToken: more ? page.at(-1) : undefined }
    },
  }
  Object.defineProperty(remote, 'client', { value: fake })
  const names = (await remote.list()).map((o) => o.name)
  expect(names).toEqual([...[1, 2, 3, 4, 5].map((i) => `fleet-2026-01-0${i}-000000.tar.gz`), 'z.complete.json'])
  expect(calls.length).toBe(3)
  expect(calls.every((c) => c.delimiter === '/' && c.prefix === 'p/' && c.maxKeys === 2)).toBe(true)
})
