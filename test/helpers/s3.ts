import { existsSync, readdirSync, rmSync } from 'node:fs'
import { connect, createServer, type Socket } from 'node:net'
import { join } from 'node:path'
import { tempDir } from './fleet.ts'

/**
 * A real S3-compatible server for the tests: s3rver (file-backed, in this process) on 127.0.0.1,
 * port 0, in a temp folder. It speaks path-style URLs and accepts SigV4 requests (it does not
 * check their signatures: the signer has its own tests).
 */
interface S3rverInstance {
  run(): Promise<{ address: string; port: number }>
  close(): Promise<void>
}
type S3rverClass = new (options: Record<string, unknown>) => S3rverInstance

export const S3_KEY = 'S3RVER'
export const S3_SECRET = 'S3RVER'

export interface S3Sandbox {
  endpoint: string
  port: number
  /** s3rver's data folder */
  dir: string
  bucket: string
  /** the environment a CLI run needs to reach it */
  env(endpoint?: string): Record<string, string>
  client(): Bun.S3Client
  /** every key of the bucket under `prefix`, sorted */
  keys(prefix?: string): Promise<string[]>
  /** multipart uploads begun and neither completed nor aborted */
  openUploads(): string[]
  close(): Promise<void>
}

/**
 * s3rver makes its continuation tokens with the cipher "des", a name Bun's crypto does not know
 * (it has the same cipher as "des-cbc"); without this alias every truncated listing fails.
 */
function aliasDes(): void {
  const crypto = require('node:crypto') as Record<string, unknown>
  for (const name of ['createCipheriv', 'createDecipheriv']) {
    const original = crypto[name] as ((algorithm: string, ...rest: unknown[]) => unknown) & { desAlias?: true }
    if (original.desAlias) continue
    const aliased = Object.assign((algorithm: string, ...rest: unknown[]) => original(algorithm === 'des' ? 'des-cbc' : algorithm, ...rest), { desAlias: true as const })
    crypto[name] = aliased
  }
}

export async function startS3(options: { bucket?: string } = {}): Promise<S3Sandbox> {
  const bucket = options.bucket ?? 'backups'
  const dir = tempDir('clmnt-s3-')
  aliasDes()
  const S3rver = require('s3rver') as S3rverClass
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: dir, configureBuckets: [{ name: bucket }] })
  const { port } = await server.run()
  const endpoint = `http://127.0.0.1:${port}`
  const client = () => new Bun.S3Client({ endpoint, bucket, accessKeyId: S3_KEY, secretAccessKey: S3_SECRET, region: 'us-east-1' })
  return {
    endpoint,
    port,
    dir,
    bucket,
    env: (via = endpoint) => ({ AWS_ACCESS_KEY_ID: S3_KEY, AWS_SECRET_ACCESS_KEY: S3_SECRET, AWS_ENDPOINT_URL: via, AWS_REGION: 'us-east-1' }),
    client,
    async keys(prefix = '') {
      const keys: string[] = []
      let continuationToken: string | undefined
      do {
        const page = await client().list({ prefix, ...(continuationToken ? { continuationToken } : {}) })
        keys.push(...(page.contents ?? []).map((o) => o.key))
        continuationToken = page.isTruncated ? page.nextContinuationToken : undefined
      } while (continuationToken)
      return keys.sort()
    },
    openUploads() {
      const uploads = join(dir, bucket, '._S3rver_uploads')
      return existsSync(uploads) ? readdirSync(uploads) : []
    },
    async close() {
      await server.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

/**
 * A TCP proxy in front of the server that cuts every connection once the client has sent
 * `cutAfter` bytes on it: an upload that dies halfway, as on a flaky link. Small requests pass.
 * With `holdAfter`, it stops passing the server's answer on once that many bytes of it went
 * through on a connection (a download that stalls, and stays stalled until the proxy closes).
 */
export interface CuttingProxy {
  endpoint: string
  /** connections cut so far */
  cuts: number
  /** connections whose answer is held */
  held: number
  close(): Promise<void>
}

export async function startCuttingProxy(targetPort: number, cutAfter: number, options: { holdAfter?: number } = {}): Promise<CuttingProxy> {
  const sockets = new Set<Socket>()
  const proxy: CuttingProxy = { endpoint: '', cuts: 0, held: 0, close: () => new Promise((resolve) => {
    for (const s of sockets) s.destroy()
    server.close(() => resolve())
  }) }
  const server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1')
    sockets.add(client).add(upstream)
    let sent = 0
    const drop = () => {
      client.destroy()
      upstream.destroy()
    }
    client.on('data', (data: Buffer) => {
      sent += data.length
      if (sent > cutAfter) {
        proxy.cuts++
        // what got through before the cut still reaches the server: a truncated body
        upstream.end(data.subarray(0, Math.max(0, data.length - (sent - cutAfter))), drop)
        client.destroy()
        return
      }
      upstream.write(data)
    })
    let received = 0
    upstream.on('data', (data: Buffer) => {
      const holdAfter = options.holdAfter ?? Infinity
      if (received > holdAfter) return
      received += data.length
      if (received > holdAfter) {
        proxy.held++
        client.write(data.subarray(0, data.length - (received - holdAfter)))
        return
      }
      client.write(data)
    })
    for (const s of [client, upstream]) {
      s.on('error', drop)
      s.on('close', () => {
        sockets.delete(s)
        drop()
      })
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()))
  proxy.endpoint = `http://127.0.0.1:${(server.address() as { port: number }).port}`
  return proxy
}
