/**
 * `bun scripts/bench/restore.ts [--scale 1] [--runs 3] [--dir /dev/shm]`: `clmnt fleet restore --skip-users --yes`
 * (the compiled binary, as a whole process) of the backup benchmark's archive — 20 molts, ~1 GB,
 * ~40,000 files — into an empty base dir, next to GNU `tar -xzf` of the same archive into an empty
 * folder. Restore includes everything it does: reading and checking every member, hashing every
 * file against checksums.sha256, the manifest check, the swap, molts.json. Prints wall time and
 * peak RSS of each run (alternating, page cache warm; medians compared, best ratio shown) next
 * to the goals; never fails on a miss.
 * `--dir` picks the file system to work in (default: the temp dir): on a tmpfs, file creation
 * costs little and the comparison is of CPU work (inflate, parse, hash, write) rather than of disk.
 */
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs'
import { availableParallelism, cpus, totalmem } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { generateFleet } from './fleet-gen.ts'
import { benchWorkdir } from './workdir.ts'

const { values } = parseArgs({ options: { scale: { type: 'string' }, runs: { type: 'string' }, dir: { type: 'string' } } })
const SCALE = values.scale ? Number(values.scale) : 1
const RUNS = values.runs ? Number(values.runs) : 3
const ROOT = join(import.meta.dir, '..', '..')
const { tmp, cleanup } = benchWorkdir('clmnt-bench-restore-', values.dir)
const progress = (text: string) => process.stderr.write(`${text}\n`)

interface Measured {
  wallMs: number
  rssKb: number
  code: number
  stderr: string
}

/** Wall time from spawn to exit; peak RSS from GNU time (%M). */
async function measure(argv: string[]): Promise<Measured> {
  const rssFile = join(tmp, `rss-${Date.now()}`)
  const started = performance.now()
  const child = Bun.spawn(['/usr/bin/time', '-f', '%M', '-o', rssFile, ...argv], { env: { ...process.env, NO_COLOR: '1' }, stdout: 'ignore', stderr: 'pipe' })
  const stderr = await new Response(child.stderr).text()
  const code = await child.exited
  const wallMs = performance.now() - started
  const rssKb = Number((await Bun.file(rssFile).text()).trim().split('\n').pop())
  return { wallMs, rssKb, code, stderr }
}

function treeStats(dir: string): { files: number; bytes: number } {
  let files = 0
  let bytes = 0
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue
    files++
    bytes += statSync(join(entry.parentPath, entry.name)).size
  }
  return { files, bytes }
}

const mb = (bytes: number) => `${(bytes / 1e6).toFixed(0)} MB`
const sec = (ms: number) => `${(ms / 1000).toFixed(2)} s`

try {
  if (!existsSync('/usr/bin/time')) throw new Error('/usr/bin/time (GNU time) is needed for peak RSS')
  progress(`building the compiled binary into ${tmp} …`)
  const binary = join(tmp, 'clmnt')
  const build = Bun.spawnSync([process.execPath, join(ROOT, 'scripts', 'build.ts'), binary], { stdout: 'pipe', stderr: 'pipe' })
  if (build.exitCode !== 0) throw new Error(`bun scripts/build.ts failed:\n${build.stderr.toString()}${build.stdout.toString()}`)

  progress('generating the fleet (20 molts, ~1 GB, ~40,000 files) …')
  const fleetDir = join(tmp, 'fleet')
  mkdirSync(fleetDir)
  const generated = performance.now()
  const fleet = generateFleet(fleetDir, { scale: SCALE })
  progress(`  ${fleet.files} files, ${mb(fleet.bytes)} in ${sec(performance.now() - generated)}`)

  progress('clmnt fleet backup (the archive to restore) …')
  const backups = join(tmp, 'backups')
  mkdirSync(backups)
  const backup = await measure([binary, 'fleet', 'backup', '-d', fleetDir, '--output', backups, '--quiet'])
  if (backup.code !== 0) throw new Error(`clmnt fleet backup exited ${backup.code}: ${backup.stderr}`)
  const archive = join(backups, readdirSync(backups).find((n) => n.endsWith('.tar.gz'))!)
  const archiveSize = statSync(archive).size
  rmSync(fleetDir, { recursive: true, force: true })
  // page the archive in, as both contenders will find it
  Bun.spawnSync(['cat', archive], { stdout: 'ignore' })

  const tarRuns: Measured[] = []
  const clmntRuns: Measured[] = []
  const runTar = async (run: number) => {
    progress(`run ${run + 1}/${RUNS}: GNU tar -xzf …`)
    const tarDir = join(tmp, 'tar-out')
    mkdirSync(tarDir)
    const tar = await measure(['tar', '-xzf', archive, '-C', tarDir])
    if (tar.code !== 0) throw new Error(`tar -xzf exited ${tar.code}: ${tar.stderr}`)
    tarRuns.push(tar)
    if (run === 0) tarStats = treeStats(tarDir)
    rmSync(tarDir, { recursive: true, force: true })
    Bun.spawnSync(['sync'])
  }
  const runClmnt = async (run: number) => {
    progress(`run ${run + 1}/${RUNS}: clmnt fleet restore --skip-users --yes …`)
    const base = join(tmp, 'restored')
    mkdirSync(base)
    const restore = await measure([binary, 'fleet', 'restore', '-d', base, '--from', archive, '--skip-users', '--yes', '--quiet'])
    if (restore.code !== 0) throw new Error(`clmnt fleet restore exited ${restore.code}: ${restore.stderr}`)
    clmntRuns.push(restore)
    if (run === 0) clmntStats = treeStats(base)
    rmSync(base, { recursive: true, force: true })
    Bun.spawnSync(['sync'])
  }
  let tarStats: { files: number; bytes: number } | null = null
  let clmntStats: { files: number; bytes: number } | null = null
  // alternating, and in turn which goes first: a busy host slows both alike
  for (let run = 0; run < RUNS; run++) {
    if (run % 2 === 0) {
      await runTar(run)
      await runClmnt(run)
    } else {
      await runClmnt(run)
      await runTar(run)
    }
  }
  // the restore adds molts.json and RESTORED= in each .molt-info; tar -xzf adds manifest.json, checksums.sha256 and global/
  const check = `restored ${clmntStats!.files} files / ${mb(clmntStats!.bytes)}; tar -xzf gave ${tarStats!.files} files / ${mb(tarStats!.bytes)} (manifest, checksums and global/ included)`

  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
  const tarWall = median(tarRuns.map((r) => r.wallMs))
  const clmntWall = median(clmntRuns.map((r) => r.wallMs))
  const ratio = clmntWall / tarWall
  const bestRatio = Math.min(...clmntRuns.map((r) => r.wallMs)) / Math.min(...tarRuns.map((r) => r.wallMs))
  const clmntRss = Math.max(...clmntRuns.map((r) => r.rssKb))
  const rows: string[][] = [
    ['GNU tar -xzf', tarRuns.map((r) => sec(r.wallMs)).join(' / '), sec(tarWall), `${(Math.max(...tarRuns.map((r) => r.rssKb)) / 1024).toFixed(0)} MB`, '-', ''],
    ['clmnt fleet restore --skip-users --yes', clmntRuns.map((r) => sec(r.wallMs)).join(' / '), sec(clmntWall), `${(clmntRss / 1024).toFixed(0)} MB`, `${ratio.toFixed(2)}× tar -xzf (best: ${bestRatio.toFixed(2)}×)`, ratio <= 1.3 && clmntRss <= 150 * 1024 ? 'ok' : 'MISS'],
  ]
  const head = ['case', 'runs', 'median', 'peak RSS', 'ratio (median)', 'goal']
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()
  console.log(`\nmachine: ${availableParallelism()} CPUs (${cpus()[0]?.model ?? '?'}), ${Math.round(totalmem() / 2 ** 30)} GiB, bun ${Bun.version}`)
  console.log(`working in ${tmp} (${Bun.spawnSync(['stat', '-f', '-c', '%T', tmp]).stdout.toString().trim()})`)
  console.log(`archive: ${mb(archiveSize)} from a fleet of 20 molts, ${fleet.files} files, ${mb(fleet.bytes)} (backup took ${sec(backup.wallMs)}); page cache warm`)
  console.log('goals: restore (verification included) ≤ 1.3× tar -xzf wall time, peak RSS ≤ 150 MB\n')
  console.log(line(head))
  console.log(line(widths.map((w) => '-'.repeat(w))))
  for (const row of rows) console.log(line(row))
  console.log(`\n${check}`)
} finally {
  cleanup()
}
