/**
 * `bun scripts/bench/backup.ts [--scale 1] [--files 400000] [--only verify,restore] [--keep DIR]`: `clmnt fleet backup` as a whole
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
 *
 * `--only`: the cases to run, of tar, backup, verify, restore, list (verify and restore need an
 * archive: without a kept one, the backup runs first, unmeasured). `--keep DIR`: work in DIR and
 * leave the fleet and the archive there; a later run with the same DIR and --files reuses both, so
 * `--only verify,restore --keep /var/tmp/b` measures a change to verify or restore in a minute.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statfsSync, statSync, writeFileSync } from 'node:fs'
import { availableParallelism, cpus, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { generateFleet, type FleetStats } from './fleet-gen.ts'

const { values } = parseArgs({ options: { scale: { type: 'string' }, files: { type: 'string' }, 'list-runs': { type: 'string' }, only: { type: 'string' }, keep: { type: 'string' } } })
const CASES = ['tar', 'backup', 'verify', 'restore', 'list'] as const
const only = new Set(values.only ? values.only.split(',') : CASES)
for (const c of only) if (!(CASES as readonly string[]).includes(c)) throw new Error(`--only: unknown case ${c} (expected ${CASES.join(', ')})`)
const runs = (c: (typeof CASES)[number]) => only.has(c)
/** --files N: the many-files fleet (short messages) of about N files, instead of the ~1 GB one */
const FILES = values.files ? Number(values.files) : 0
const SCALE = FILES ? FILES / 20 / 1950 : values.scale ? Number(values.scale) : 1
const LIST_RUNS = values['list-runs'] ? Number(values['list-runs']) : 15
const ROOT = join(import.meta.dir, '..', '..')
const KEEP = values.keep ?? null
const tmp = KEEP ?? mkdtempSync(join(tmpdir(), 'clmnt-bench-backup-'))
if (KEEP) mkdirSync(KEEP, { recursive: true })
const progress = (text: string) => process.stderr.write(`${text}\n`)
let cleaned = false
/** rm -rf: Bun's rmSync took 20 minutes for 400,000 restored files on a busy host */
const remove = (path: string) => Bun.spawnSync(['rm', '-rf', '--', path])
function cleanup(): void {
  if (cleaned) return
  cleaned = true
  if (!KEEP) remove(tmp)
  else for (const scratch of ['out', 'clmnt-tmpdir', 'restored', 'list']) remove(join(tmp, scratch))
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
  rmSync(rssFile)
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

  // a kept fleet is reused when it was made for the same --files / --scale
  const base = join(tmp, 'fleet')
  const stamp = join(tmp, 'fleet.json')
  const wanted = JSON.stringify({ files: FILES, scale: SCALE })
  let fleet: FleetStats
  if (KEEP && existsSync(stamp) && JSON.parse(readFileSync(stamp, 'utf8')).key === wanted) {
    fleet = JSON.parse(readFileSync(stamp, 'utf8')).fleet
    progress(`reusing the fleet in ${base} (${fleet.files} files)`)
  } else {
    remove(base)
    remove(join(tmp, 'backups'))
    progress(FILES ? `generating the fleet (20 molts, ~${FILES} short files) …` : 'generating the fleet (20 molts, ~1 GB, ~40,000 files) …')
    mkdirSync(base)
    const generated = performance.now()
    fleet = generateFleet(base, { scale: SCALE, small: FILES > 0 })
    progress(`  ${fleet.files} files, ${mb(fleet.bytes)} (${mb(fleet.textBytes)} text, ${mb(fleet.randomBytes)} random) in ${sec(performance.now() - generated)}`)
    if (KEEP) writeFileSync(stamp, JSON.stringify({ key: wanted, fleet }))
  }
  const molts = readdirSync(base).filter((n) => n.startsWith('molt')).sort()
  const out = join(tmp, 'out')
  mkdirSync(out, { recursive: true })
  // page everything in once, the way a second run would find it
  Bun.spawnSync(['bash', '-c', `tar -cf - -C ${base} . | cat > /dev/null`])

  let tarGz: Measured | null = null
  let tarGzSize = 0
  let pigz: Measured | null = null
  let pigzSize = 0
  if (runs('tar')) {
    progress('GNU tar -czf …')
    tarGz = await measure(['tar', '-czf', join(out, 'gnu.tar.gz'), '-C', base, ...molts, 'molts.json'])
    tarGzSize = statSync(join(out, 'gnu.tar.gz')).size
    if (havePigz) {
      progress('tar -cf - | pigz …')
      pigz = await measure(['bash', '-c', `tar -cf - -C ${base} ${molts.join(' ')} molts.json | pigz -6 > ${join(out, 'pigz.tar.gz')}`])
      pigzSize = statSync(join(out, 'pigz.tar.gz')).size
    }
    rmSync(join(out, 'gnu.tar.gz'))
    rmSync(join(out, 'pigz.tar.gz'), { force: true })
  }

  const tmpdirForClmnt = join(tmp, 'clmnt-tmpdir')
  mkdirSync(tmpdirForClmnt, { recursive: true })
  const backups = join(tmp, 'backups')
  const kept = existsSync(backups) ? readdirSync(backups).find((n) => n.endsWith('.tar.gz')) : undefined
  let clmnt: Measured | null = null
  let tmpdirBytes = 0
  let otherFiles: string[] = []
  if (runs('backup') || (!kept && (runs('verify') || runs('restore') || runs('list')))) {
    progress(runs('backup') ? 'clmnt fleet backup …' : 'clmnt fleet backup (for an archive; not measured) …')
    remove(backups)
    mkdirSync(backups)
    const baseline = fsUsed(tmp)
    const partialSize = () => {
      let size = 0
      for (const name of readdirSync(backups)) size += statSync(join(backups, name), { throwIfNoEntry: false })?.size ?? 0
      return size
    }
    const run = await measure([binary, 'fleet', 'backup', '-d', base, '--output', backups, '--quiet'], {
      env: { TMPDIR: tmpdirForClmnt },
      watch: () => Math.max(0, fsUsed(tmp) - baseline - partialSize()),
    })
    if (run.code !== 0) throw new Error(`clmnt fleet backup exited ${run.code}: ${run.stderr}`)
    if (runs('backup')) clmnt = run
    progress(`  ${sec(run.wallMs)}, ${(run.rssKb / 1024).toFixed(0)} MB`)
    tmpdirBytes = dirBytes(tmpdirForClmnt)
  }
  const archive = join(backups, readdirSync(backups).find((n) => n.endsWith('.tar.gz'))!)
  const archiveSize = statSync(archive).size
  otherFiles = readdirSync(backups).filter((n) => join(backups, n) !== archive)

  let verify: Measured | null = null
  if (runs('verify')) {
    progress('clmnt fleet verify …')
    verify = await measure([binary, 'fleet', 'verify', archive])
    progress(`  ${sec(verify.wallMs)}, ${(verify.rssKb / 1024).toFixed(0)} MB`)
  }
  let restore: Measured | null = null
  if (runs('restore')) {
    progress('clmnt fleet restore into an empty base dir …')
    const restoreDir = join(tmp, 'restored')
    remove(restoreDir)
    mkdirSync(restoreDir)
    // --skip-users / --skip-cron: the bench creates no Linux users and touches no crontab of this host
    restore = await measure([binary, 'fleet', 'restore', '--from', archive, '-d', restoreDir, '--yes', '--skip-users', '--skip-cron'])
    progress(`  ${sec(restore.wallMs)}, ${(restore.rssKb / 1024).toFixed(0)} MB; removing the restored fleet …`)
    remove(restoreDir)
  }

  let listMedian = 0
  let listRss = 0
  if (runs('list')) {
    progress('list-backups over 5 copies …')
    const listDir = join(tmp, 'list')
    mkdirSync(listDir, { recursive: true })
    for (let i = 0; i < 5; i++) copyFileSync(archive, join(listDir, `fleet-2026-02-0${i + 1}-103000.tar.gz`))
    await measure([binary, 'fleet', 'list-backups', '--backup-dir', listDir]) // warm-up
    const listRuns: Measured[] = []
    for (let i = 0; i < LIST_RUNS; i++) listRuns.push(await measure([binary, 'fleet', 'list-backups', '--backup-dir', listDir]))
    const listWall = listRuns.map((r) => r.wallMs).sort((a, b) => a - b)
    listMedian = listWall[Math.floor(listWall.length / 2)]!
    listRss = Math.max(...listRuns.map((r) => r.rssKb))
    rmSync(listDir, { recursive: true, force: true })
  }

  const rss = (m: Measured) => `${(m.rssKb / 1024).toFixed(0)} MB`
  const rows: string[][] = []
  if (tarGz) rows.push(['GNU tar -czf', sec(tarGz.wallMs), rss(tarGz), mb(tarGzSize), '-', ''])
  if (tarGz && pigz) rows.push(['tar -cf - | pigz -6', sec(pigz.wallMs), rss(pigz), mb(pigzSize), `${(pigz.wallMs / tarGz.wallMs).toFixed(2)}× tar -czf`, ''])
  if (clmnt) {
    const ratio = tarGz ? clmnt.wallMs / tarGz.wallMs : null
    const ok = (ratio === null || ratio <= 0.5) && clmnt.rssKb <= 150 * 1024
    rows.push(['clmnt fleet backup', sec(clmnt.wallMs), rss(clmnt), mb(archiveSize), ratio === null ? '(tar not run)' : `${ratio.toFixed(2)}× tar -czf`, ok ? 'ok' : 'MISS'])
  }
  if (verify) rows.push(['clmnt fleet verify', sec(verify.wallMs), rss(verify), '-', verify.code === 0 ? 'archive OK' : `exit ${verify.code}`, verify.code === 0 && verify.rssKb <= 150 * 1024 ? 'ok' : 'MISS'])
  if (restore) rows.push(['clmnt fleet restore --skip-users', sec(restore.wallMs), rss(restore), '-', restore.code === 0 ? 'restored' : `exit ${restore.code}`, restore.code === 0 && restore.rssKb <= 150 * 1024 ? 'ok' : 'MISS'])
  if (runs('list')) rows.push([`list-backups 5 × ${mb(archiveSize)} (median of ${LIST_RUNS})`, `${listMedian.toFixed(0)} ms`, `${(listRss / 1024).toFixed(0)} MB`, '-', '≤ 200 ms', listMedian <= 200 ? 'ok' : 'MISS'])
  const head = ['case', 'wall', 'peak RSS', 'output', 'ratio / goal', 'ok/miss']
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()
  console.log(`\nmachine: ${availableParallelism()} CPUs (${cpus()[0]?.model ?? '?'}), ${Math.round(totalmem() / 2 ** 30)} GiB, bun ${Bun.version}`)
  console.log(`fleet: 20 molts, ${fleet.files} files, ${mb(fleet.bytes)} (${mb(fleet.textBytes)} text, ${mb(fleet.randomBytes)} in messages with base64 attachments), page cache warm`)
  console.log(`goals: backup ≤ 0.5× tar -czf wall, peak RSS ≤ 150 MB, zero staging bytes; verify and restore peak RSS ≤ 150 MB; list-backups ≤ 200 ms\n`)
  console.log(line(head))
  console.log(line(widths.map((w) => '-'.repeat(w))))
  for (const row of rows) console.log(line(row))
  if (clmnt) {
    console.log(`\nstaging: TMPDIR holds ${tmpdirBytes} bytes after the run; other files left in the output folder: ${otherFiles.length ? otherFiles.join(', ') : 'none'};`)
    console.log(`         file-system growth beyond the archive itself, polled every 50 ms: peak ${mb(clmnt.stagingBytes ?? 0)} (other processes on the host count too)`)
  }
  if (tarGz && !havePigz) console.log('note: pigz not installed (apt-get install -y pigz); its row is missing')
} finally {
  cleanup()
}
