import { InputError } from '../lib/errors.ts'

/**
 * Endpoint and credentials of the S3-compatible store: from the usual environment variables, or
 * the "s3" section of clmnt.json — never from the command line (argv and crontab lines are
 * readable by every user of the host). The environment wins, so a secret store can inject it.
 *
 *   "s3": { "endpoint": "https://s3.eu-central-1.amazonaws.com", "region": "eu-central-1",
 *           "access_key_id": "AKIA…", "secret_access_key": "…", "session_token": "…",
 *           "virtual_hosted_style": false }
 */
export interface S3ConfigSection {
  endpoint?: string
  region?: string
  access_key_id?: string
  secret_access_key?: string
  session_token?: string
  virtual_hosted_style?: boolean
}

export interface S3Settings {
  /** null: AWS itself, at the region's endpoint */
  endpoint: string | null
  region: string
  accessKeyId: string
  secretAccessKey: string
  sessionToken: string | null
  virtualHostedStyle: boolean
  /** where the endpoint and the credentials came from, for -v */
  source: { endpoint: string; credentials: string }
  warnings: string[]
}

export const DEFAULT_REGION = 'us-east-1'
const STRING_KEYS = ['endpoint', 'region', 'access_key_id', 'secret_access_key', 'session_token'] as const

/** What is wrong with a clmnt.json "s3" section, in words; null when it is fine. */
export function s3ConfigProblem(value: unknown): string | null {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return 'expected an object'
  for (const [key, v] of Object.entries(value)) {
    if ((STRING_KEYS as readonly string[]).includes(key)) {
      if (typeof v !== 'string' || v === '' || /[\r\n\0]/.test(v)) return `${key}: expected a non-empty string`
    } else if (key === 'virtual_hosted_style') {
      if (typeof v !== 'boolean') return `${key}: expected true or false`
    } else return `unknown key ${JSON.stringify(key)} (known: ${[...STRING_KEYS, 'virtual_hosted_style'].join(', ')})`
  }
  const endpoint = (value as S3ConfigSection).endpoint
  if (endpoint !== undefined) return endpointProblem(endpoint)
  return null
}

function endpointProblem(endpoint: string): string | null {
  let url: URL
  try {
    url = new URL(endpoint)
  } catch {
    return `endpoint: ${JSON.stringify(endpoint)} is not a URL`
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'endpoint: expected an http:// or https:// URL'
  if (url.username || url.password) return 'endpoint: credentials do not belong in the URL'
  if (url.search || url.hash) return 'endpoint: no query or fragment expected'
  return null
}

/** Settings for one run; throws (exit 2) when credentials are missing or a value is unusable. */
export function resolveS3Settings(config: S3ConfigSection | undefined, env: Record<string, string | undefined> = process.env): S3Settings {
  const file = config ?? {}
  const pick = (...names: string[]) => {
    for (const name of names) if (env[name]) return { value: env[name]!, from: `$${name}` }
    return null
  }
  const endpointEnv = pick('AWS_ENDPOINT_URL_S3', 'AWS_ENDPOINT_URL', 'S3_ENDPOINT')
  const endpoint = endpointEnv ?? (file.endpoint ? { value: file.endpoint, from: 'clmnt.json' } : null)
  if (endpoint) {
    const problem = endpointProblem(endpoint.value)
    if (problem) throw new InputError(`S3 ${problem} (from ${endpoint.from})`)
  }
  // the key pair comes from one place: half from the environment and half from the file is a mistake
  const fromEnv = Boolean(env.AWS_ACCESS_KEY_ID || env.AWS_SECRET_ACCESS_KEY)
  const accessKeyId = fromEnv ? env.AWS_ACCESS_KEY_ID : file.access_key_id
  const secretAccessKey = fromEnv ? env.AWS_SECRET_ACCESS_KEY : file.secret_access_key
  const sessionToken = (fromEnv ? env.AWS_SESSION_TOKEN : file.session_token) || null
  if (!accessKeyId || !secretAccessKey) {
    const missing = !accessKeyId ? 'AWS_ACCESS_KEY_ID' : 'AWS_SECRET_ACCESS_KEY'
    throw new InputError(
      fromEnv
        ? `${missing} is not set: the environment gives only half of the S3 key pair`
        : file.access_key_id || file.secret_access_key
          ? `the "s3" section of clmnt.json needs both access_key_id and secret_access_key`
          : 'no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_ENDPOINT_URL for a store other than AWS), or the "s3" section of clmnt.json',
    )
  }
  const warnings: string[] = []
  if (endpoint) {
    const url = new URL(endpoint.value)
    if (url.protocol === 'http:' && !/^(localhost|127\.\d+\.\d+\.\d+|\[::1\])$/.test(url.hostname)) {
      warnings.push(`the S3 endpoint ${url.origin} is plain http: archives (which hold the molts' secrets) travel unencrypted`)
    }
  }
  return {
    endpoint: endpoint ? endpoint.value.replace(/\/+$/, '') : null,
    region: pick('AWS_REGION', 'AWS_DEFAULT_REGION')?.value ?? file.region ?? DEFAULT_REGION,
    accessKeyId,
    secretAccessKey,
    sessionToken,
    virtualHostedStyle: file.virtual_hosted_style ?? false,
    source: { endpoint: endpoint?.from ?? 'AWS default', credentials: fromEnv ? 'environment' : 'clmnt.json' },
    warnings,
  }
}
