/**
 * The benchmark fleet: 20 molts, ~1 GB, ~40,000 files, mostly Maildir, shaped like a real host's
 * data rather than random bytes:
 *
 * - mail as Maildir files in RFC 5322 form: Received/Message-ID/Date/From/To/Subject headers, a
 *   text body, often a reply quoting the message before it (`On …, … wrote:` and `> ` lines) and a
 *   signature; about 30% carry a base64 attachment in a MIME part (PDF/JPEG-like high-entropy bytes,
 *   which is what attachments are, in 76-column base64 lines);
 * - agent sessions as OpenClaw-style JSONL (one JSON event per line), health history as the JSONL
 *   clmnt writes, the gateway log as timestamped lines;
 * - skills as markdown with front matter, headings, lists and code blocks.
 *
 * Seeded: the same fleet on every machine. `scale` multiplies the message count. `churn` changes
 * about a given fraction of the files the way a day does (new mail, appended logs and sessions, a
 * few deleted messages), for the incremental benchmark.
 */
import { randomBytes } from 'node:crypto'
import { appendFileSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

/** mulberry32 */
export function seeded(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const WORDS = (
  'the of and to in is you that it he was for on are as with his they at be this have from or one had by word but not what all were we when ' +
  'your can said there use an each which she do how their if will up other about out many then them these so some her would make like him into ' +
  'time has look two more write go see number no way could people my than first water been call who oil its now find long down day did get come ' +
  'made may part gateway molt server deploy config token session memory agent skill mail inbox backup restore health port schedule alert meeting ' +
  'invoice project report quarterly budget thanks regards please attached review update tomorrow monday friday team customer order shipping'
).split(' ')

/** ~8 MB of word salad (compresses like mail text, ~35%) in lines of at most 72 columns and paragraphs, to cut texts from. */
function textPool(random: () => number): string {
  const parts: string[] = []
  let size = 0
  let column = 0
  while (size < 8 << 20) {
    const n = 6 + Math.floor(random() * 14)
    for (let i = 0; i < n; i++) {
      const word = WORDS[Math.floor(random() * WORDS.length)]! + (i === n - 1 ? '.' : '')
      const sep = column === 0 ? '' : column + word.length >= 72 ? '\n' : ' '
      if (sep === '\n') column = 0
      parts.push(sep + word)
      column += sep === ' ' ? word.length + 1 : word.length
      size += word.length + sep.length
    }
    if (random() < 0.2) {
      parts.push('\n\n')
      size += 2
      column = 0
    }
  }
  return parts.join('')
}

export interface FleetStats {
  files: number
  bytes: number
  textBytes: number
  randomBytes: number
  molts: string[]
}

const NAMES = ['Alice Martin', 'Bob Nguyen', 'Carla Rossi', 'Dev Patel', 'Eva Schmidt', 'Farid Haddad', 'Grace Okafor', 'Hiro Tanaka', 'Ines Duarte', 'Jon Berg']
const SUBJECTS = ['Quarterly report draft', 'Gateway upgrade on Friday', 'Invoice 2026-0142', 'Meeting notes', 'Customer escalation', 'Deploy checklist', 'Budget review', 'Shipping delay for order', 'Team offsite', 'Access request']

/** Content generators over one seeded random source. */
function writers(random: () => number) {
  const pool = textPool(random)
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!
  const slice = (min: number, max: number) => {
    const length = Math.floor(min + random() * (max - min))
    const at = Math.floor(random() * (pool.length - length))
    return pool.slice(at, at + length)
  }
  const hex = (n: number) => {
    let out = ''
    while (out.length < n) out += Math.floor(random() * 2 ** 32).toString(16).padStart(8, '0')
    return out.slice(0, n)
  }
  // the pool's lines are already 72 columns at most
  const wrap = (text: string) => `${text}\n`
  const iso = (day: number, second: number) => new Date(Date.UTC(2026, 0, 1) + day * 86_400_000 + second * 1000).toISOString()
  const rfcDate = (day: number, second: number) => new Date(Date.UTC(2026, 0, 1) + day * 86_400_000 + second * 1000).toUTCString().replace('GMT', '+0000')
  const address = (name: string) => `${name.toLowerCase().replace(' ', '.')}@example.com`

  /** One mail; `previous` is the body it answers (quoted), if any. */
  const mail = (molt: string, i: number, size: number, previous: string | null, attachment: Uint8Array | null): { text: string; body: string } => {
    const from = pick(NAMES)
    const day = Math.floor(i / 40)
    const second = (i * 617) % 86_400
    const id = `<${hex(16)}.${i}@mail.example.com>`
    const subject = `${previous ? 'Re: ' : ''}${pick(SUBJECTS)}`
    const body = wrap(slice(size * 0.6, size))
    const quoted = previous ? `\nOn ${rfcDate(day, second - 3600)}, ${pick(NAMES)} wrote:\n${previous.split('\n').slice(0, 40).map((l) => `> ${l}`).join('\n')}\n` : ''
    const signature = `\n-- \n${from}\n${pick(['Operations', 'Finance', 'Support', 'Engineering'])} | Claw Mountain\n`
    const headers = [
      `Return-Path: <${address(from)}>`,
      `Received: from mail.example.com (mail.example.com [192.0.2.${i % 250}])\n\tby mx.claw-mountain.example (Postfix) with ESMTPS id ${hex(10).toUpperCase()}\n\tfor <${molt}@claw-mountain.example>; ${rfcDate(day, second)}`,
      `Message-ID: ${id}`,
      `Date: ${rfcDate(day, second)}`,
      `From: ${from} <${address(from)}>`,
      `To: ${molt} <${molt}@claw-mountain.example>`,
      `Subject: ${subject}`,
      ...(previous ? [`In-Reply-To: <${hex(16)}.${i - 1}@mail.example.com>`] : []),
      'MIME-Version: 1.0',
    ]
    const text = `${body}${quoted}${signature}`
    if (!attachment) return { text: `${headers.join('\n')}\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n${text}`, body }
    const boundary = `=_${hex(24)}`
    const b64 = Buffer.from(attachment).toString('base64').replace(/.{76}/g, '$&\n')
    const name = pick(['report.pdf', 'scan.jpg', 'invoice.pdf', 'photo.jpg', 'slides.pdf'])
    return {
      text: `${headers.join('\n')}\nContent-Type: multipart/mixed; boundary="${boundary}"\n\n--${boundary}\nContent-Type: text/plain; charset=utf-8\n\n${text}\n--${boundary}\nContent-Type: application/octet-stream; name="${name}"\nContent-Disposition: attachment; filename="${name}"\nContent-Transfer-Encoding: base64\n\n${b64}\n--${boundary}--\n`,
      body,
    }
  }

  /** An OpenClaw-style session transcript: one JSON event per line. */
  const session = (size: number, day: number): string => {
    const lines: string[] = [JSON.stringify({ type: 'session', version: 3, id: hex(32), timestamp: iso(day, 0), cwd: '/home/molt/.openclaw/workspace' })]
    let bytes = 0
    for (let turn = 0; bytes < size; turn++) {
      const role = turn % 3 === 2 ? 'toolResult' : turn % 3 === 0 ? 'user' : 'assistant'
      const line = JSON.stringify({ type: 'message', id: hex(8), parentId: hex(8), timestamp: iso(day, turn * 7), message: { role, content: [{ type: 'text', text: slice(80, 1200) }], ...(role === 'assistant' ? { model: 'claude-sonnet-4', usage: { input: Math.floor(random() * 9000), output: Math.floor(random() * 900), cacheRead: Math.floor(random() * 50_000) } } : {}) } })
      lines.push(line)
      bytes += line.length + 1
    }
    return `${lines.join('\n')}\n`
  }

  /** clmnt's own health history (.molt-state/health-history.jsonl) */
  const history = (molt: string, port: number, lines: number): string => {
    const out: string[] = []
    for (let k = 0; k < lines; k++) {
      const healthy = random() > 0.01
      out.push(JSON.stringify({ timestamp: iso(Math.floor(k / 288), (k % 288) * 300), molt, status: healthy ? 'healthy' : 'unhealthy', pid: 4000 + (k >> 9), port, http_status: healthy ? 200 : 500, response_time_ms: Math.floor(3 + random() * 40), reason: healthy ? null : 'HTTP 500' }))
    }
    return `${out.join('\n')}\n`
  }

  const gatewayLog = (size: number): string => {
    const out: string[] = []
    let bytes = 0
    for (let k = 0; bytes < size; k++) {
      const line = `${iso(Math.floor(k / 500), k % 86_400)} ${pick(['info', 'info', 'info', 'warn', 'debug'])} [${pick(['gateway', 'agent', 'channels', 'cron', 'hooks'])}] ${slice(30, 140).replace(/\n/g, ' ')}`
      out.push(line)
      bytes += line.length + 1
    }
    return `${out.join('\n')}\n`
  }

  const skill = (n: number): string =>
    `---\nname: skill-${n}\ndescription: ${slice(40, 120).replace(/\n/g, ' ')}\n---\n\n# Skill ${n}\n\n${wrap(slice(300, 900))}\n## Steps\n\n${Array.from({ length: 5 }, (_, k) => `${k + 1}. ${slice(30, 90).replace(/\n/g, ' ')}`).join('\n')}\n\n## Example\n\n\`\`\`sh\nopenclaw message send --to ops "${slice(10, 40).replace(/\n/g, ' ')}"\n\`\`\`\n\n${wrap(slice(200, 1500))}`

  return { slice, mail, session, history, gatewayLog, skill, wrap }
}

/**
 * `small`: the many-files fleet (400,000 files at scale ≈ 10.5): short messages (0.3-2 KB text,
 * attachments of 1-3 KB) instead of the ~1 GB mix.
 */
export function generateFleet(baseDir: string, options: { scale?: number; molts?: number; small?: boolean } = {}): FleetStats {
  const scale = options.scale ?? 1
  const small = options.small ?? false
  const random = seeded(2026)
  const w = writers(random)
  const stats: FleetStats = { files: 0, bytes: 0, textBytes: 0, randomBytes: 0, molts: [] }
  const put = (path: string, data: string | Uint8Array, kind: 'text' | 'random' = 'text') => {
    writeFileSync(path, data)
    const size = typeof data === 'string' ? Buffer.byteLength(data) : data.length
    stats.files++
    stats.bytes += size
    if (kind === 'text') stats.textBytes += size
    else stats.randomBytes += size
  }
  const registry: Record<string, unknown> = {}
  const MESSAGES = Math.round(1900 * scale)
  for (let m = 0; m < (options.molts ?? 20); m++) {
    const name = `molt${String(m).padStart(2, '0')}`
    stats.molts.push(name)
    const home = join(baseDir, name)
    const port = 19001 + m * 20
    for (const dir of ['.openclaw/skills/notes', '.openclaw/workspace', '.openclaw/agents/main/sessions', '.mail-state', '.molt-state', 'Maildir/cur', 'Maildir/new', 'Maildir/tmp']) mkdirSync(join(home, dir), { recursive: true })
    put(join(home, '.molt-info'), `MOLT_NAME=${name}\nMOLT_PORT=${port}\nMOLT_HOME="${home}"\nCREATED=2026-01-15\n`)
    put(join(home, '.openclaw', 'openclaw.json'), JSON.stringify({ gateway: { port, bind: 'loopback', auth: { token: `token-${name}` } } }, null, 2))
    put(join(home, '.openclaw', '.env'), `OPENCLAW_GATEWAY_TOKEN=token-${name}\n`)
    put(join(home, '.openclaw', 'gateway.log'), w.gatewayLog(50_000 + random() * 150_000))
    put(join(home, '.msmtprc'), `account default\nhost smtp.example.com\nuser ${name}\npassword secret\n`)
    put(join(home, '.mbsyncrc'), `IMAPAccount ${name}\nHost imap.example.com\n`)
    put(join(home, '.mail-state', 'last-sync'), new Date(Date.UTC(2026, 1, 2)).toISOString())
    for (let s = 0; s < 10; s++) put(join(home, '.openclaw', 'skills', 'notes', `skill-${s}.md`), w.skill(s))
    for (let s = 0; s < 30; s++) put(join(home, '.openclaw', 'agents', 'main', 'sessions', `session-${s}.jsonl`), w.session(10_000 + random() * 30_000, s))
    for (let s = 0; s < 10; s++) put(join(home, '.openclaw', 'workspace', `memory-${s}.md`), `# Memory ${s}\n\n${w.wrap(w.slice(2000, 10_000))}`)
    put(join(home, '.molt-state', 'health-history.jsonl'), w.history(name, port, 2000 + Math.floor(random() * 2000)))
    put(join(home, '.molt-state', 'health-status.json'), '{"status":"healthy"}\n')
    let previous: string | null = null
    for (let i = 0; i < MESSAGES; i++) {
      const file = join(home, 'Maildir', i % 10 === 0 ? 'new' : 'cur', `17000${i}.M${m}P${i}.host:2,S`)
      // about 30% of messages carry an attachment; they hold about half the bytes
      const attached = random() < 0.3
      const attachment = attached ? randomBytes(small ? Math.floor(1_000 + random() * 2_000) : Math.floor(22_000 + random() * 30_000)) : null
      const size = small ? 300 + random() * 1_700 : attached ? 200 + random() * 800 : 4_000 + random() * 18_000
      // about half the messages answer the one before them, quoting it
      const made = w.mail(name, i, size, previous !== null && random() < 0.5 ? previous : null, attachment)
      previous = made.body
      put(file, made.text, attached ? 'random' : 'text')
    }
    registry[name] = { name, port, home, created: '2026-01-15' }
  }
  writeFileSync(join(baseDir, 'molts.json'), JSON.stringify({ version: '1', updated: new Date().toISOString(), molts: registry }, null, 2))
  return stats
}

/**
 * A day's changes to about `fraction` of the files: new mail (10% of them with an attachment),
 * appended health history and gateway log lines, a new session per molt, a few messages deleted.
 * Returns the files and bytes changed or added.
 */
export function churn(baseDir: string, molts: string[], fraction: number, seed = 7): { files: number; bytes: number; deleted: number } {
  const random = seeded(seed)
  const w = writers(random)
  const out = { files: 0, bytes: 0, deleted: 0 }
  for (const [m, name] of molts.entries()) {
    const home = join(baseDir, name)
    const cur = readdirSync(join(home, 'Maildir', 'cur'))
    const changes = Math.max(1, Math.round(cur.length * fraction))
    for (let k = 0; k < changes; k++) {
      const attachment = random() < 0.1 ? randomBytes(Math.floor(22_000 + random() * 30_000)) : null
      const text = w.mail(name, 90_000 + k, attachment ? 600 : 4_000 + random() * 10_000, null, attachment).text
      writeFileSync(join(home, 'Maildir', 'new', `18000${k}.M${m}P${k}.host`), text)
      out.files++
      out.bytes += text.length
    }
    for (let k = 0; k < Math.max(1, Math.round(changes / 10)); k++) {
      rmSync(join(home, 'Maildir', 'cur', cur[Math.floor(random() * cur.length)]!), { force: true })
      out.deleted++
    }
    const history = w.history(name, 19001 + m * 20, 288)
    appendFileSync(join(home, '.molt-state', 'health-history.jsonl'), history)
    const log = w.gatewayLog(20_000)
    appendFileSync(join(home, '.openclaw', 'gateway.log'), log)
    const session = w.session(20_000, 40)
    writeFileSync(join(home, '.openclaw', 'agents', 'main', 'sessions', 'session-new.jsonl'), session)
    out.files += 3
    out.bytes += history.length + log.length + session.length
  }
  return out
}
