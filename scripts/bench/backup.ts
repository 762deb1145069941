/**
 * `bun scripts/bench/backup.ts [--scale 1] [--files 400000]`: `clmnt fleet backup` as a whole
 * process (the compiled binary) against GNU `tar -czf` and `tar -cf - | pigz` on the same molt
 * folders, then `fleet verify` and `fleet restore` (into an empty base dir) of its archive, then
 * `list-backups` over 5 copies of the archive. Prints wall time, peak RSS and staging bytes next
 * to the goals; never fails on a miss.
 *
 * The fleet: 20 molts, ~1 GB, ~40,000 files, mostly Maildir — about half the bytes compressible
 * text, half base64 attachments of random bytes in MIME parts — plus config, skills (markdown),
 * agent sessions (JSONL) and health history. `--files N`: the same shape at ~N short files
 * (400,000: the memory goal's case).
 * Everything runs from the page cache (the fleet was just written; 24 GB RAM), as tar does too.
 */
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statfsSync, statSync, writeFileSync, copyFileSync } from 'node:fs'
import { availableParallelism, cpus, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { generateFleet } from './fleet-gen.ts'

const { values } = parseArgs({ options: { scale: { type: 'string' }, files: { type: 'string' }, 'list-runs': { type: 'string' } } })
/** --files N: the many-files fleet (short messages) of about N files, instead of the ~1 GB one */
const FILES = values.files ? Number(values.files) : 0
const SCALE = FILES ? FILES / 20 / 1950 : values.scale ? Number(values.scale) : 1
const LIST_RUNS = values['list-runs'] ? Number(values['list-runs']) : 15
const ROOT = join(import.meta.dir, '..', '..')
const tmp = mkdtempSync(join(tmpdir(), 'clmnt-bench-backup-'))
const progress = (text: string) => process.stderr.write(`${text}\n`)
let cleaned = false
function cleanup(): void {
  if (cleaned) return
  cleaned = true
  rmSync(tmp, { recursive: true, force: true })
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => (cleanup(), process.exit(130)))


interface Measured {
  wallMs: number
  rssKb: number
  code: number
  stderr: string
  stagingBytes?: number
}

/** Wall time from spawn to exit; peak RSS from GNU time (%M: the largest process of the run). */
async function measure(argv: string[], options: { env?: Record<string, string>; watch?: () => number } = {}): Promise<Measured> {
  const rssFile = join(tmp, `rss-${Date.now()}`)
  const started = performance.now()
  const child = Bun.spawn(['/usr/bin/time', '-f', '%M', '-o', rssFile, ...argv], { env: { ...process.env, NO_COLOR: '1', ...options.env }, stdout: 'ignore', stderr: 'pipe' })
  let peak = 0
  const timer = options.watch ? setInterval(() => (peak = Math.max(peak, options.watch!())), 50) : null
  const stderr = await new Response(child.stderr).text()
  const code = await child.exited
  const wallMs = performance.now() - started
  if (timer) clearInterval(timer)
  const rssKb = Number(await Bun.file(rssFile).text().then((t) => t.trim().split('\n').pop()))
  return { wallMs, rssKb, code, stderr, stagingBytes: options.watch ? peak : undefined }
}

function fsUsed(path: string): number {
  const s = statfsSync(path)
  return (s.blocks - s.bfree) * s.bsize
}

function dirBytes(dir: string): number {
  let total = 0
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += statSync(join(entry.parentPath, entry.name)).size
  }
  return total
}

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(0)} MB`
const sec = (ms: number) => `${(ms / 1000).toFixed(2)} s`

try {
  progress(`building the compiled binary into ${tmp} …`)
  const binary = join(tmp, 'clmnt')
  const build = Bun.spawnSync([process.execPath, join(ROOT, 'scripts', 'build.ts'), binary], { stdout: 'pipe', stderr: 'pipe' })
  if (build.exitCode !== 0) throw new Error(`bun scripts/build.ts failed:\n${build.stderr.toString()}${build.stdout.toString()}`)
  if (!existsSync('/usr/bin/time')) throw new Error('/usr/bin/time (GNU time) is needed for peak RSS')
  const havePigz = Bun.which('pigz') !== null

  progress(FILES ? `generating the fleet (20 molts, ~${FILES} short files) …` : 'generating the fleet (20 molts, ~1 GB, ~40,000 files) …')
  const base = join(tmp, 'fleet')
  mkdirSync(base)
  const generated = performance.now()
  const fleet = generateFleet(base, { scale: SCALE, small: FILES > 0 })
  progress(`  ${fleet.files} files, ${mb(fleet.bytes)} (${mb(fleet.textBytes)} text, ${mb(fleet.randomBytes)} random) in ${sec(performance.now() - generated)}`)
  const molts = readdirSync(base).filter((n) => n.startsWith('molt')).sort()
  const out = join(tmp, 'out')
  mkdirSync(out)
  // page everything in once, the way a second run would find it
  Bun.spawnSync(['bash', '-c', `tar -cf - -C ${base} . | cat > /dev/null`])

  progress('GNU tar -czf …')
  const tarGz = await measure(['tar', '-czf', join(out, 'gnu.tar.gz'), '-C', base, ...molts, 'molts.json'])
  const tarGzSize = statSync(join(out, 'gnu.tar.gz')).size
  let pigz: Measured | null = null
  let pigzSize = 0
  if (havePigz) {
    progress('tar -cf - | pigz …')
    pigz = await measure(['bash', '-c', `tar -cf - -C ${base} ${molts.join(' ')} molts.json | pigz -6 > ${join(out, 'pigz.tar.gz')}`])
    pigzSize = statSync(join(out, 'pigz.tar.gz')).size
  }
  rmSync(join(out, 'gnu.tar.gz'))
  rmSync(join(out, 'pigz.tar.gz'), { force: true })

  progress('clmnt fleet backup …')
  const tmpdirForClmnt = join(tmp, 'clmnt-tmpdir')
  mkdirSync(tmpdirForClmnt)
  const backups = join(tmp, 'backups')
  mkdirSync(backups)
  const baseline = fsUsed(tmp)
  const partialSize = () => {
    let size = 0
    for (const name of readdirSync(backups)) size += statSync(join(backups, name), { throwIfNoEntry: false })?.size ?? 0
    return size
  }
  const clmnt = await measure([binary, 'fleet', 'backup', '-d', base, '--output', backups, '--quiet'], {
    env: { TMPDIR: tmpdirForClmnt },
    watch: () => Math.max(0, fsUsed(tmp) - baseline - partialSize()),
  })
  if (clmnt.code !== 0) throw new Error(`clmnt fleet backup exited ${clmnt.code}: ${clmnt.stderr}`)
  const archive = join(backups, readdirSync(backups).find((n) => n.endsWith('.tar.gz'))!)
  const archiveSize = statSync(archive).size
  const tmpdirBytes = dirBytes(tmpdirForClmnt)
  const otherFiles = readdirSync(backups).filter((n) => join(backups, n) !== archive)

  progress('clmnt fleet verify …')
  const verify = await measure([binary, 'fleet', 'verify', archive])
  progress('clmnt fleet restore into an empty base dir …')
  const restoreDir = join(tmp, 'restored')
  mkdirSync(restoreDir)
  // --skip-users / --skip-cron: the bench creates no Linux users and touches no crontab of this host
  const restore = await measure([binary, 'fleet', 'restore', '--from', archive, '-d', restoreDir, '--yes', '--skip-users', '--skip-cron'])
  rmSync(restoreDir, { recursive: true, force: true })

  progress('list-backups over 5 copies …')
  const listDir = join(tmp, 'list')
  mkdirSync(listDir)
  for (let i = 0; i < 5; i++) copyFileSync(archive, join(listDir, `fleet-2026-02-0${i + 1}-103000.tar.gz`))
  await measure([binary, 'fleet', 'list-backups', '--backup-dir', listDir]) // warm-up
  const listRuns: Measured[] = []
  for (let i = 0; i < LIST_RUNS; i++) listRuns.push(await measure([binary, 'fleet', 'list-backups', '--backup-dir', listDir]))
  const listWall = listRuns.map((r) => r.wallMs).sort((a, b) => a - b)
  const listMedian = listWall[Math.floor(listWall.length / 2)]!
  const listRss = Math.max(...listRuns.map((r) => r.rssKb))

  const ratio = clmnt.wallMs / tarGz.wallMs
  const rows: string[][] = [
    ['GNU tar -czf', sec(tarGz.wallMs), `${(tarGz.rssKb / 1024).toFixed(0)} MB`, mb(tarGzSize), '-', ''],
    ...(pigz ? [['tar -cf - | pigz -6', sec(pigz.wallMs), `${(pigz.rssKb / 1024).toFixed(0)} MB`, mb(pigzSize), `${(pigz.wallMs / tarGz.wallMs).toFixed(2)}× tar -czf`, '']] : []),
    ['clmnt fleet backup', sec(clmnt.wallMs), `${(clmnt.rssKb / 1024).toFixed(0)} MB`, mb(archiveSize), `${ratio.toFixed(2)}× tar -czf`, ratio <= 0.5 && clmnt.rssKb <= 150 * 1024 ? 'ok' : 'MISS'],
    ['clmnt fleet verify', sec(verify.wallMs), `${(verify.rssKb / 1024).toFixed(0)} MB`, '-', verify.code === 0 ? 'archive OK' : `exit ${verify.code}`, verify.code === 0 && verify.rssKb <= 150 * 1024 ? 'ok' : 'MISS'],
    ['clmnt fleet restore --skip-users', sec(restore.wallMs), `${(restore.rssKb / 1024).toFixed(0)} MB`, '-', restore.code === 0 ? 'restored' : `exit ${restore.code}`, restore.code === 0 && restore.rssKb <= 150 * 1024 ? 'ok' : 'MISS'],
    [`list-backups 5 × ${mb(archiveSize)} (median of ${LIST_RUNS})`, `${listMedian.toFixed(0)} ms`, `${(listRss / 1024).toFixed(0)} MB`, '-', '≤ 200 ms', listMedian <= 200 ? 'ok' : 'MISS'],
  ]
  const head = ['case', 'wall', 'peak RSS', 'output', 'ratio / goal', 'ok/miss']
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()
  console.log(`\nmachine: ${availableParallelism()} CPUs (${cpus()[0]?.model ?? '?'}), ${Math.round(totalmem() / 2 ** 30)} GiB, bun ${Bun.version}`)
  console.log(`fleet: 20 molts, ${fleet.files} files, ${mb(fleet.bytes)} (${mb(fleet.textBytes)} text, ${mb(fleet.randomBytes)} in messages with base64 attachments), page cache warm`)
  console.log(`goals: backup ≤ 0.5× tar -czf wall, peak RSS ≤ 150 MB, zero staging bytes; verify and restore peak RSS ≤ 150 MB; list-backups ≤ 200 ms\n`)
  console.log(line(head))
  console.log(line(widths.map((w) => '-'.repeat(w))))
  for (const row of rows) console.log(line(row))
  console.log(`\nstaging: TMPDIR holds ${tmpdirBytes} bytes after the run; other files left in the output folder: ${otherFiles.length ? otherFiles.join(', ') : 'none'};`)
  console.log(`         file-system growth beyond the archive itself, polled every 50 ms: peak ${mb(clmnt.stagingBytes ?? 0)} (other processes on the host count too)`)
  if (!havePigz) console.log('note: pigz not installed (apt-get install -y pigz); its row is missing')
} finally {
  cleanup()
}
