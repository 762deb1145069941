/**
 * `bun scripts/bench/incremental.ts [--scale 1] [--dir /tmp] [--no-restic]`: the backup before an
 * upgrade. On the generated fleet (fleet-gen.ts: 20 molts, ~1 GB, ~40,000 files), a full
 * `clmnt fleet backup`, then 1 % of the files churned (mail read: appended to; mail deleted; mail
 * delivered), then `clmnt fleet backup --incremental`; restic (Debian package) makes its first and
 * second backup of the same states, in the same run. Prints wall time, peak RSS and bytes written
 * next to the goals (incremental ≤ restic's second backup time, ≤ 2 × the changed bytes), then the
 * restore of the incremental archive (its chain) next to the restore of a full archive of the same
 * state. Never fails on a miss. The compiled binary runs, as a whole process, as cron runs it.
 */
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs'
import { availableParallelism, cpus, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { generateFleet, seeded } from './fleet-gen.ts'

const { values } = parseArgs({ options: { scale: { type: 'string' }, dir: { type: 'string' }, 'no-restic': { type: 'boolean' } } })
const SCALE = values.scale ? Number(values.scale) : 1
const ROOT = join(import.meta.dir, '..', '..')
const tmp = mkdtempSync(join(values.dir ?? tmpdir(), 'clmnt-bench-incremental-'))
const progress = (text: string) => process.stderr.write(`${text}\n`)
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => (rmSync(tmp, { recursive: true, force: true }), process.exit(130)))

interface Measured {
  wallMs: number
  rssKb: number
  code: number
  stderr: string
}

async function measure(argv: string[], env: Record<string, string> = {}): Promise<Measured> {
  const rssFile = join(tmp, `rss-${performance.now()}`)
  const started = performance.now()
  const child = Bun.spawn(['/usr/bin/time', '-f', '%M', '-o', rssFile, ...argv], { env: { ...process.env, NO_COLOR: '1', ...env }, stdout: 'ignore', stderr: 'pipe' })
  const stderr = await new Response(child.stderr).text()
  const code = await child.exited
  const wallMs = performance.now() - started
  const rssKb = Number((await Bun.file(rssFile).text()).trim().split('\n').pop())
  if (code !== 0) throw new Error(`${argv.join(' ')} exited ${code}: ${stderr}`)
  return { wallMs, rssKb, code, stderr }
}

/** 1 % of the files: half of it mail read (a line appended), a quarter deleted, a quarter delivered. Returns the bytes that changed. */
function churn(fleetDir: string, files: number): number {
  const random = seeded(7)
  const all: string[] = []
  for (const molt of readdirSync(fleetDir)) {
    const cur = join(fleetDir, molt, 'Maildir', 'cur')
    if (existsSync(cur)) for (const name of readdirSync(cur)) all.push(join(cur, name))
  }
  const count = Math.round(files / 100)
  let changed = 0
  for (let i = 0; i < count; i++) {
    const path = all.splice(Math.floor(random() * all.length), 1)[0]!
    if (i % 4 < 2) {
      const line = `X-Seen: ${i}\n`
      appendFileSync(path, line)
      changed += statSync(path).size
    } else if (i % 4 === 2) unlinkSync(path)
    else {
      const text = `Subject: delivered ${i}\n\n${'new mail text '.repeat(600)}\n`
      writeFileSync(join(path, '..', '..', 'new', `delivered-${i}`), text)
      changed += text.length
    }
  }
  return changed
}

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`
const sec = (ms: number) => `${(ms / 1000).toFixed(2)} s`
const dirBytes = (dir: string) => readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).reduce((n, e) => n + statSync(join(e.parentPath, e.name)).size, 0)

try {
  if (!existsSync('/usr/bin/time')) throw new Error('/usr/bin/time (GNU time) is needed for peak RSS')
  const restic = !values['no-restic'] && Bun.spawnSync(['restic', 'version']).exitCode === 0
  progress(`building the compiled binary into ${tmp} …`)
  const binary = join(tmp, 'clmnt')
  const build = Bun.spawnSync([process.execPath, join(ROOT, 'scripts', 'build.ts'), binary], { stdout: 'pipe', stderr: 'pipe' })
  if (build.exitCode !== 0) throw new Error(`bun scripts/build.ts failed:\n${build.stderr.toString()}`)
  progress('generating the fleet (20 molts, ~1 GB, ~40,000 files) …')
  const fleetDir = join(tmp, 'fleet')
  mkdirSync(fleetDir)
  const fleet = generateFleet(fleetDir, { scale: SCALE })
  const backups = join(tmp, 'backups')
  const fulls = join(tmp, 'fulls')
  mkdirSync(backups)
  mkdirSync(fulls)
  const repo = join(tmp, 'restic')
  const resticEnv = { RESTIC_PASSWORD: 'bench', RESTIC_REPOSITORY: repo }
  if (restic) await measure(['restic', 'init', '--quiet'], resticEnv)

  progress('first backups …')
  const full = await measure([binary, 'fleet', 'backup', '-d', fleetDir, '--output', `${backups}/`, '--incremental', '--quiet'])
  const fullBytes = dirBytes(backups)
  const restic1 = restic ? await measure(['restic', 'backup', '--quiet', fleetDir], resticEnv) : null
  const repo1 = restic ? dirBytes(repo) : 0

  progress('1 % churn, then the second backups …')
  const changed = churn(fleetDir, fleet.files)
  Bun.spawnSync(['sync'])
  const inc = await measure([binary, 'fleet', 'backup', '-d', fleetDir, '--output', `${backups}/`, '--incremental', '--quiet'])
  const incBytes = dirBytes(backups) - fullBytes
  const restic2 = restic ? await measure(['restic', 'backup', '--quiet', fleetDir], resticEnv) : null
  const repo2 = restic ? dirBytes(repo) - repo1 : 0
  // the same state as one full archive, for the restore comparison
  await measure([binary, 'fleet', 'backup', '-d', fleetDir, '--output', `${fulls}/`, '--quiet'])

  progress('restores: the incremental archive (its chain), and a full archive of the same state …')
  const newest = (dir: string) => join(dir, readdirSync(dir).filter((n) => n.endsWith('.tar.gz')).sort().at(-1)!)
  const restoreOf = async (archive: string, name: string) => {
    const target = join(tmp, name)
    mkdirSync(target)
    const m = await measure([binary, 'fleet', 'restore', '-d', target, '--from', archive, '--skip-users', '--skip-cron', '--yes', '--quiet'])
    rmSync(target, { recursive: true, force: true })
    return m
  }
  const chainRestore = await restoreOf(newest(backups), 'restored-chain')
  const fullRestore = await restoreOf(newest(fulls), 'restored-full')

  const rows: string[][] = [
    ['clmnt fleet backup (full)', sec(full.wallMs), mb(fullBytes), `${(full.rssKb / 1024).toFixed(0)} MB`, ''],
    ...(restic1 ? [['restic backup (first)', sec(restic1.wallMs), mb(repo1), `${(restic1.rssKb / 1024).toFixed(0)} MB`, '']] : []),
    ['clmnt fleet backup --incremental', sec(inc.wallMs), mb(incBytes), `${(inc.rssKb / 1024).toFixed(0)} MB`, `${(inc.wallMs / full.wallMs).toFixed(3)}× the full's time, ${(incBytes / fullBytes).toFixed(4)}× its bytes, ${(incBytes / changed).toFixed(2)}× the changed bytes`],
    ...(restic2 ? [['restic backup (second)', sec(restic2.wallMs), mb(repo2), `${(restic2.rssKb / 1024).toFixed(0)} MB`, `clmnt incremental: ${(inc.wallMs / restic2.wallMs).toFixed(2)}× restic's time`]] : []),
    ['clmnt fleet restore --from <incremental>', sec(chainRestore.wallMs), '-', `${(chainRestore.rssKb / 1024).toFixed(0)} MB`, `${(chainRestore.wallMs / fullRestore.wallMs).toFixed(2)}× the restore of a full archive of the same state`],
    ['clmnt fleet restore --from <full>', sec(fullRestore.wallMs), '-', `${(fullRestore.rssKb / 1024).toFixed(0)} MB`, ''],
  ]
  const head = ['case', 'wall', 'written', 'peak RSS', 'ratio']
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()
  console.log(`\nmachine: ${availableParallelism()} CPUs (${cpus()[0]?.model ?? '?'}), ${Math.round(totalmem() / 2 ** 30)} GiB, bun ${Bun.version}`)
  console.log(`fleet: ${fleet.files} files, ${mb(fleet.bytes)}; churn: ${Math.round(fleet.files / 100)} files (${mb(changed)} changed or new, a quarter of them deleted)`)
  console.log("goals: incremental ≤ restic's second backup time, ≤ 2 × the changed bytes; peak RSS ≤ 150 MB\n")
  console.log(line(head))
  console.log(line(widths.map((w) => '-'.repeat(w))))
  for (const row of rows) console.log(line(row))
} finally {
  rmSync(tmp, { recursive: true, force: true })
}
