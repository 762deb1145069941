/**
 * The benchmark fleet: 20 molts, ~1 GB, ~40,000 files, mostly Maildir — about half the bytes
 * compressible text, half random attachments — plus config, skills, agent sessions and health
 * history. Seeded: the same fleet on every machine.
 *
 * The same generator as scripts/bench/backup.ts (which keeps its own copy for now: it is not
 * exported there); restore's benchmark imports this one. `scale` multiplies the message count.
 */
import { randomBytes } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
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

/** ~8 MB of word salad (compresses like mail text, ~35%) to cut message bodies from. */
function textPool(random: () => number): string {
  const parts: string[] = []
  let size = 0
  while (size < 8 << 20) {
    const sentence: string[] = []
    const n = 6 + Math.floor(random() * 14)
    for (let i = 0; i < n; i++) sentence.push(WORDS[Math.floor(random() * WORDS.length)]!)
    const line = `${sentence.join(' ')}${random() < 0.2 ? '.\n\n' : '. '}`
    parts.push(line)
    size += line.length
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

/**
 * `small`: the many-files fleet (400,000 files at scale ≈ 10.5): short messages (0.3-2 KB text,
 * attachments of 1-3 KB) instead of the ~1 GB mix.
 */
export function generateFleet(baseDir: string, options: { scale?: number; molts?: number; small?: boolean } = {}): FleetStats {
  const scale = options.scale ?? 1
  const small = options.small ?? false
  const random = seeded(2026)
  const pool = textPool(random)
  const stats: FleetStats = { files: 0, bytes: 0, textBytes: 0, randomBytes: 0, molts: [] }
  const put = (path: string, data: string | Uint8Array, kind: 'text' | 'random' = 'text') => {
    writeFileSync(path, data)
    const size = typeof data === 'string' ? Buffer.byteLength(data) : data.length
    stats.files++
    stats.bytes += size
    if (kind === 'text') stats.textBytes += size
    else stats.randomBytes += size
  }
  const slice = (min: number, max: number) => {
    const length = Math.floor(min + random() * (max - min))
    const at = Math.floor(random() * (pool.length - length))
    return pool.slice(at, at + length)
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
    put(join(home, '.openclaw', 'gateway.log'), slice(50_000, 200_000))
    put(join(home, '.msmtprc'), `account default\nhost smtp.example.com\nuser ${name}\npassword secret\n`)
    put(join(home, '.mbsyncrc'), `IMAPAccount ${name}\nHost imap.example.com\n`)
    put(join(home, '.mail-state', 'last-sync'), new Date().toISOString())
    for (let s = 0; s < 10; s++) put(join(home, '.openclaw', 'skills', 'notes', `skill-${s}.md`), slice(1000, 4000))
    for (let s = 0; s < 30; s++) put(join(home, '.openclaw', 'agents', 'main', 'sessions', `session-${s}.jsonl`), slice(10_000, 40_000))
    for (let s = 0; s < 10; s++) put(join(home, '.openclaw', 'workspace', `memory-${s}.md`), slice(2000, 10_000))
    put(join(home, '.molt-state', 'health-history.jsonl'), slice(300_000, 600_000))
    put(join(home, '.molt-state', 'health-status.json'), '{"status":"healthy"}\n')
    for (let i = 0; i < MESSAGES; i++) {
      const headers = `From: someone${i}@example.com\nTo: ${name}@example.com\nSubject: message ${i}\nDate: Mon, 2 Feb 2026 10:30:00 +0000\n\n`
      const file = join(home, 'Maildir', i % 10 === 0 ? 'new' : 'cur', `17000${i}.M${m}P${i}.host:2,S`)
      // about 30% of messages carry an attachment (random bytes, base64 in a MIME part, as mail
      // carries them); they hold about half the bytes
      if (random() < 0.3) {
        const attachment = randomBytes(small ? Math.floor(1_000 + random() * 2_000) : Math.floor(22_000 + random() * 30_000))
        const b64 = attachment.toString('base64').replace(/.{76}/g, '$&\n')
        const mime = `MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="b${i}"\n\n--b${i}\nContent-Type: text/plain\n\n${slice(200, 1000)}\n--b${i}\nContent-Type: application/pdf\nContent-Transfer-Encoding: base64\n\n${b64}\n--b${i}--\n`
        put(file, headers + mime, 'random')
      } else put(file, headers + (small ? slice(300, 2_000) : slice(4_000, 22_000)))
    }
    registry[name] = { name, port, home, created: '2026-01-15' }
  }
  writeFileSync(join(baseDir, 'molts.json'), JSON.stringify({ version: '1', updated: new Date().toISOString(), molts: registry }, null, 2))
  return stats
}
