/**
 * The demo: the operator's first ten minutes on a throw-away fleet, with nothing outside a temp
 * folder touched. Five molts whose fake gateways are real HTTP servers on 127.0.0.1 (one per health
 * state); a real SMTP server on 127.0.0.1 that takes the alerts; the real CLI for every step:
 * list, check, a watch that mails DOWN and then RECOVERED, backup, list-backups, verify, restore
 * into a new base dir, and the dashboard.
 *   ./scripts/demo.sh            set up, run it, stop everything, exit (0 when every step did what it should)
 *   ./scripts/demo.sh --keep     leave the gateways, the SMTP sink and the dashboard running until Ctrl-C
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createDemoFleet, freePort, type DemoMoltSpec } from '../src/demo/fleet.ts'
import { startSmtpSink } from '../test/helpers/smtp.ts'

const CLI = join(import.meta.dir, '..', 'src', 'cli.ts')
const keep = process.argv.includes('--keep')
const tty = process.stdout.isTTY && !process.env.NO_COLOR
const bold = (text: string) => (tty ? `\x1b[1m${text}\x1b[22m` : text)

const SPECS: DemoMoltSpec[] = [
  { name: 'alpha', mode: 'healthy' },
  { name: 'bravo', mode: 'error' },
  { name: 'charlie', mode: 'hang' },
  { name: 'delta', mode: 'dead' },
  { name: 'echo', mode: 'stopped' },
]
const WHAT: Record<string, string> = {
  healthy: 'answers 200',
  error: 'answers HTTP 500',
  hang: 'accepts connections, never answers',
  dead: 'gateway.pid points at a process that exited',
  stopped: 'no gateway.pid, no process',
}

const work = mkdtempSync(join(tmpdir(), 'clmnt-demo-'))
const baseDir = join(work, 'fleet')
const restored = join(work, 'restored')
const problems: string[] = []
let dashboard: ChildProcess | null = null

console.log(`${bold('clmnt demo')}: a fleet of ${SPECS.length} molts in ${baseDir}`)
const fleet = await createDemoFleet(baseDir, SPECS)
const sink = await startSmtpSink()
for (const molt of fleet.molts) console.log(`  ${molt.name.padEnd(8)} port ${molt.port}  ${WHAT[molt.mode]}`)

/** Everything the demo started goes, whatever happens: a demo that leaves processes behind is a bug. */
async function shutdown(): Promise<void> {
  if (dashboard && dashboard.exitCode === null && dashboard.signalCode === null) {
    const gone = new Promise((resolve) => dashboard!.once('exit', resolve))
    dashboard.kill('SIGTERM')
    await gone
  }
  await fleet.stop()
  await sink.close()
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => void shutdown().then(() => process.exit(130)))

/**
 * Run the real CLI with its output on the terminal; a step whose exit code is not the expected one
 * is a demo failure. Asynchronous: the SMTP sink lives in this process and must answer meanwhile.
 */
async function clmnt(expect: number | number[], ...args: string[]): Promise<number> {
  console.log(`\n${bold(`$ clmnt ${args.join(' ')}`)}`)
  const child = Bun.spawn([process.execPath, CLI, ...args], { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, CLMNT_BASE_DIR: baseDir } })
  const code = await child.exited
  const ok = [expect].flat().includes(code)
  console.log(`(exit ${code}${ok ? '' : `: expected ${[expect].flat().join(' or ')}`})`)
  if (!ok) problems.push(`clmnt ${args.join(' ')} exited ${code}`)
  return code
}
const quietly = (...args: string[]) => Bun.spawn([process.execPath, CLI, ...args, '-q'], { stdio: ['ignore', 'ignore', 'ignore'], env: { ...process.env, CLMNT_BASE_DIR: baseDir } }).exited
const section = (title: string) => console.log(`\n${bold(`── ${title} ──`)}`)

try {
  section('1. What is there, and is it alive?')
  await clmnt(0, 'molt', 'list')
  // a few rounds, so status and history have something to say; the hung gateway costs one timeout per round
  for (let round = 1; round <= 2; round++) await quietly('molt', 'health', 'check', '--all', '--timeout', '1s')
  await clmnt(1, 'molt', 'health', 'check', '--all', '--timeout', '1s')
  await clmnt(1, 'molt', 'health', 'status', '--all')
  await clmnt(0, 'molt', 'health', 'history', 'alpha', '--limit', '3')

  section('2. Who gets told: a watch mails DOWN, then RECOVERED (to a real SMTP server on 127.0.0.1)')
  const config = { alert_emails: ['ops@example.org'], mailer: 'smtp', smtp_url: sink.url(), from: 'clmnt demo <clmnt@example.org>', consecutive_failures: 2, digest_wait: '0s' }
  writeFileSync(join(baseDir, 'clmnt.json'), `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 })
  console.log(`clmnt.json: ${JSON.stringify(config)}`)
  await clmnt(0, 'molt', 'health', 'watch', 'alpha', '--timeout', '1s')
  console.log('\nalpha\'s gateway crashes …')
  await fleet.crash('alpha')
  await clmnt(0, 'molt', 'health', 'watch', 'alpha', '--timeout', '1s')
  await clmnt(0, 'molt', 'health', 'watch', 'alpha', '--timeout', '1s')
  console.log('\n… and is started again')
  await fleet.restart('alpha')
  await clmnt(0, 'molt', 'health', 'watch', 'alpha', '--timeout', '1s')
  console.log(`\nThe SMTP server received ${sink.messages.length} message(s):`)
  for (const mail of sink.messages) console.log(`  to ${mail.envelope.to.join(', ')}: ${decode(mail.headers.subject ?? '')}`)
  const subjects = sink.messages.map((m) => decode(m.headers.subject ?? ''))
  if (!subjects.some((s) => /DOWN/.test(s)) || !subjects.some((s) => /UP again|RECOVERED/.test(s))) problems.push(`expected a DOWN and a RECOVERED mail, got: ${subjects.join(' | ') || 'none'}`)
  await clmnt(0, 'molt', 'health', 'logs', 'alpha', '-n', '5')

  section('3. Backups: write, list, verify, restore into a new base dir')
  await clmnt(0, 'fleet', 'backup')
  await clmnt(0, 'fleet', 'list-backups')
  await clmnt(0, 'fleet', 'verify', 'latest')
  mkdirSync(restored)
  const archive = join(baseDir, 'backups', readdirSync(join(baseDir, 'backups')).find((f) => f.endsWith('.tar.gz'))!)
  // --skip-users: the demo creates no Linux users, even as root; --yes: nobody to ask
  await clmnt(0, 'fleet', 'restore', '--from', archive, '--base-dir', restored, '--yes', '--skip-users', '--skip-cron')
  await clmnt(0, 'molt', 'list', '--base-dir', restored)

  section('4. The dashboard')
  const port = await freePort()
  dashboard = spawn(process.execPath, [CLI, 'dashboard', '--port', String(port), '-d', baseDir], { stdio: ['ignore', 'ignore', 'inherit'] })
  const url = `http://127.0.0.1:${port}/`
  // the dashboard makes its token on first start (it prints the login link on stderr, above)
  const api = await waitFor(`${url}api/molts`, join(baseDir, '.clmnt-dashboard-token'))
  if (api === null) problems.push(`the dashboard did not answer at ${url}`)
  else console.log(`${bold(url)}  (GET /api/molts answers: ${api.molts.map((m) => m.name).join(', ')})`)
} catch (error) {
  problems.push(`the demo itself failed: ${(error as Error).message}`)
}

if (keep && !problems.length) {
  console.log(`\n${bold('Everything keeps running')}; try commands by hand, e.g.\n  export CLMNT_BASE_DIR=${baseDir}\n  bun ${CLI} molt health check --all\nCtrl-C stops it all.`)
  await new Promise(() => {})
}
await shutdown()
console.log(`\nEverything the demo started is stopped; the files stay in ${work} (rm -rf it when done).`)
console.log('Against real OpenClaw gateways: scripts/install-openclaw.sh, then the README\'s "Real OpenClaw gateways" section.')
if (problems.length) {
  for (const p of problems) console.error(`demo problem: ${p}`)
  process.exit(1)
}
process.exit(0)

/** GET the dashboard's molt list with its token, retrying while the server starts; null after ~10 s. */
async function waitFor(url: string, tokenFile: string): Promise<{ molts: { name: string }[] } | null> {
  for (let attempt = 0; attempt < 100; attempt++) {
    try {
      const token = readFileSync(tokenFile, 'utf8').trim()
      const response = await fetch(url, { headers: { Authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(2000) })
      if (response.ok) return (await response.json()) as { molts: { name: string }[] }
    } catch {}
    await Bun.sleep(100)
  }
  return null
}

function decode(subject: string): string {
  return subject.replace(/=\?UTF-8\?B\?([^?]*)\?=\s*/gi, (_, b64: string) => Buffer.from(b64, 'base64').toString('utf8'))
}
