/**
 * Every environment variable clmnt reads, in one list: `clmnt help environment` prints it and the
 * man page's ENVIRONMENT section is made from it. A test greps src/ for variables read and fails
 * when one is missing here.
 */
export interface EnvVar {
  names: string[]
  description: string
}

export const ENVIRONMENT: EnvVar[] = [
  { names: ['CLMNT_BASE_DIR'], description: 'the fleet base directory when -d/--base-dir is not given (else the nearest folder above holding molts.json, else the current one)' },
  { names: ['CLMNT_SMTP_URL'], description: 'SMTP server for alerts, e.g. smtps://user:pw@mail.example.org:465 (overrides "smtp_url" in clmnt.json)' },
  { names: ['CLMNT_DIGEST_WAIT'], description: 'how long `health watch` gathers the fleet\'s notices into one digest: 0s-10m or off (overrides "digest_wait" in clmnt.json; --digest-wait wins)' },
  { names: ['CLMNT_DASHBOARD_TOKEN'], description: 'token the dashboard requires (at least 32 random characters; overrides "dashboard.token" in clmnt.json and the generated .clmnt-dashboard-token)' },
  { names: ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN'], description: 'S3 credentials for --to/--from s3://… (else the "s3" section of clmnt.json)' },
  { names: ['AWS_ENDPOINT_URL_S3', 'AWS_ENDPOINT_URL', 'S3_ENDPOINT'], description: 'S3-compatible endpoint, first one set wins (default: AWS)' },
  { names: ['AWS_REGION', 'AWS_DEFAULT_REGION'], description: 'S3 region (default: us-east-1)' },
  { names: ['NO_COLOR'], description: 'any non-empty value: no colours (same as --no-color)' },
  { names: ['FORCE_COLOR'], description: '1 or true: colours even when the output is not a terminal' },
  { names: ['TERM'], description: 'dumb: no colours and no Unicode marks' },
  { names: ['LC_ALL', 'LC_CTYPE', 'LANG'], description: 'a UTF-8 locale lets doctor print ✓ ! ✗ instead of [ OK ] [WARN] [FAIL]' },
  { names: ['PATH'], description: 'where msmtp, crontab, tee and openclaw are looked up (schedules write absolute paths)' },
  { names: ['SUDO_USER'], description: 'who is named as having silenced a molt (health silence) when run through sudo' },
  { names: ['HOME'], description: 'your home, when /etc/passwd has no entry for your uid' },
]

/** The names clmnt reads from a molt's own files, not from its environment (listed so the test can tell them apart). */
export const MOLT_FILE_VARIABLES = ['OPENCLAW_GATEWAY_TOKEN']

export function renderEnvironment(): string {
  const rows = ENVIRONMENT.map((v) => [v.names.join(', '), v.description] as const)
  const lines = ['Environment variables clmnt reads:', '']
  for (const [names, description] of rows) lines.push(`  ${names}`, `      ${description}`)
  lines.push('', 'Options given on the command line win over the environment; the environment wins over clmnt.json.', '')
  return lines.join('\n')
}
