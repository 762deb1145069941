import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { SMTPServer, type SMTPServerSession } from 'smtp-server'

/** One message as a real SMTP server received it. */
export interface ReceivedMail {
  envelope: { from: string; to: string[] }
  raw: string
  /** header names lower-cased; folded lines unfolded */
  headers: Record<string, string>
  /** decoded text (quoted-printable undone) */
  body: string
}

export interface SmtpSink {
  port: number
  messages: ReceivedMail[]
  /** answer RCPT TO with this code (e.g. 451 temporary, 550 permanent) until set back to null */
  rejectWith: number | null
  close(): Promise<void>
  /** an msmtprc pointing at this server (auth off, tls off), written into `dir` */
  msmtprc(dir: string, from?: string): string
  url(): string
}

/** A real smtp-server on 127.0.0.1 that keeps what it is sent; no TLS, no auth. */
export async function startSmtpSink(port = 0): Promise<SmtpSink> {
  const sink: SmtpSink = {
    port: 0,
    messages: [],
    rejectWith: null,
    close: () => new Promise((resolve) => server.close(() => resolve())),
    msmtprc(dir, from = 'clmnt@example.org') {
      const path = join(dir, 'msmtprc')
      writeFileSync(path, `defaults\nauth off\ntls off\naccount default\nhost 127.0.0.1\nport ${sink.port}\nfrom ${from}\n`, { mode: 0o600 })
      return path
    },
    url: () => `smtp://127.0.0.1:${sink.port}`,
  }
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onRcptTo(address, _session, callback) {
      if (sink.rejectWith) {
        const error = new Error(sink.rejectWith >= 500 ? 'mailbox unavailable' : 'try again later') as Error & { responseCode: number }
        error.responseCode = sink.rejectWith
        return callback(error)
      }
      callback()
    },
    onData(stream, session: SMTPServerSession, callback) {
      const chunks: Buffer[] = []
      stream.on('data', (chunk: Buffer) => chunks.push(chunk))
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8')
        sink.messages.push(parseMail(raw, session))
        callback()
      })
    },
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => resolve())
  })
  sink.port = (server.server.address() as { port: number }).port
  return sink
}

function parseMail(raw: string, session: SMTPServerSession): ReceivedMail {
  const text = raw.replace(/\r\n/g, '\n')
  const split = text.indexOf('\n\n')
  const head = split < 0 ? text : text.slice(0, split)
  let body = split < 0 ? '' : text.slice(split + 2)
  const headers: Record<string, string> = {}
  for (const line of head.replace(/\n[ \t]+/g, ' ').split('\n')) {
    const colon = line.indexOf(':')
    if (colon > 0) headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim()
  }
  if (/quoted-printable/i.test(headers['content-transfer-encoding'] ?? '')) {
    const bytes = body.replace(/=\n/g, '').replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)))
    body = Buffer.from(bytes, 'latin1').toString('utf8')
  }
  const mailFrom = session.envelope.mailFrom
  return {
    envelope: { from: mailFrom ? mailFrom.address : '', to: session.envelope.rcptTo.map((r) => r.address) },
    raw,
    headers,
    body,
  }
}

/** Decode an RFC 2047 header (what a mail client shows). */
export function decodeHeader(value: string): string {
  return value.replace(/=\?UTF-8\?B\?([^?]*)\?=\s*/gi, (_, b64: string) => Buffer.from(b64, 'base64').toString('utf8')).trim()
}
