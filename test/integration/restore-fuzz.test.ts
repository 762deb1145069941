import { afterAll, beforeAll, expect, test } from 'bun:test'
import { spawnSync } from 'node:child_process'
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { gunzipSync } from 'node:zlib'
import { executeRestore, planRestore, type RestoreOptions } from '../../src/archive/restore.ts'
import { verifyArchive } from '../../src/archive/verify.ts'
import { writeRichFleet } from '../helpers/archive.ts'
import { runCli } from '../helpers/cli.ts'
import { readByteTree, writeCorpusSource } from '../helpers/corpus.ts'
import { removeDir, tempDir } from '../helpers/fleet.ts'
import { mutate, prng } from '../helpers/fuzz.ts'

// Seeded mutants of two archives — clmnt's own (checksums, manifest v2) and a GNU tar pax archive in
// the bash toolkit's layout (no checksums: only the reader stands between a mutant and the disk) —
// through verify and a real restore, in-process. Verify and restore must agree, and a restore that
// succeeds must have written exactly what GNU tar extracts from the same file.
// CLMNT_FUZZ_SEED and CLMNT_FUZZ_COUNT explore further; the suite runs the fixed seed
const SEED = Number(process.env.CLMNT_FUZZ_SEED ?? 14)
const PER_BASE = Number(process.env.CLMNT_FUZZ_COUNT ?? 150)
let root: string
const bases = new Map<string, Uint8Array>()

beforeAll(async () => {
  root = tempDir('clmnt-fuzz-')
  const fleet = join(root, 'fleet')
  writeRichFleet(fleet, [{ name: 'alpha', port: 19001 }])
  const out = join(root, 'own')
  mkdirSync(out)
  const backup = await runCli(['fleet', 'backup', '-d', fleet, '--output', out, '-q'])
  if (backup.code !== 0) throw new Error(backup.stderr)
  bases.set('clmnt', new Uint8Array(gunzipSync(readFileSync(join(out, readdirSync(out)[0]!)))))
  const src = join(root, 'legacy-src')
  writeCorpusSource(src, { oldDates: true })
  const tar = join(root, 'legacy.tar')
  spawnSync('tar', ['--format=posix', '--sparse', '-cf', tar, '-C', src, './manifest.json', './alpha'])
  bases.set('legacy', readFileSync(tar))
}, 60_000)
afterAll(() => removeDir(root))

async function restore(archive: string, base: string): Promise<{ ok: boolean; why: string }> {
  const options: RestoreOptions = { baseDir: base, archive, force: true, skipUsers: true, skipCron: true }
  try {
    const plan = await planRestore(options)
    const result = await executeRestore(plan, options, { info() {}, warn() {} })
    return { ok: result.ok, why: result.molts.map((m) => m.reason).join('; ') }
  } catch (error) {
    return { ok: false, why: (error as Error).message }
  }
}

/** What GNU tar extracted against what restore wrote: names, types, sizes, contents, targets, modes, file mtimes. */
function differences(gnuHome: string, home: string): string[] {
  const skip = (rel: string) => rel === '' || rel === '.molt-info' || rel === '.clmnt-crontab' || rel === '.openclaw/openclaw.json'
  const want = readByteTree(gnuHome)
  const got = readByteTree(home)
  const out: string[] = []
  for (const rel of new Set([...want.keys(), ...got.keys()])) {
    if (skip(rel)) continue
    const w = want.get(rel)
    const g = got.get(rel)
    if (!w || !g) {
      out.push(`${JSON.stringify(rel)}: ${w ? 'not restored' : 'restored, not extracted by GNU tar'}`)
      continue
    }
    for (const key of ['kind', 'size', 'content', 'target'] as const) if (w[key] !== g[key]) out.push(`${JSON.stringify(rel)}: ${key} ${w[key]} → ${g[key]}`)
    if (w.kind !== 'symlink' && (w.mode & 0o777) !== g.mode) out.push(`${JSON.stringify(rel)}: mode ${w.mode.toString(8)} → ${g.mode.toString(8)}`)
    if (w.kind === 'file' && Math.abs(w.mtimeMs - g.mtimeMs) >= 1) out.push(`${JSON.stringify(rel)}: mtime ${w.mtimeMs} → ${g.mtimeMs}`)
  }
  return out
}

for (const name of ['clmnt', 'legacy']) {
  test(`${PER_BASE} seeded mutants of the ${name} archive: verify and restore agree; exit 0 means GNU tar's content`, async () => {
    const random = prng(SEED + name.length)
    const failures: string[] = []
    let accepted = 0
    for (let i = 0; i < PER_BASE; i++) {
      const mutant = mutate(bases.get(name)!, random)
      const dir = join(root, `${name}-${i}`)
      mkdirSync(dir)
      const archive = join(dir, 'm.tar.gz')
      writeFileSync(archive, mutant.bytes)
      const verified = await verifyArchive(archive)
      const base = join(dir, 'fleet')
      mkdirSync(base)
      const restored = await restore(archive, base)
      const label = `#${i} ${mutant.what}`
      if (verified.ok !== restored.ok) failures.push(`${label}: verify ${verified.ok ? 'OK' : `refused (${verified.problems[0]})`}, restore ${restored.ok ? 'OK' : `refused (${restored.why})`}`)
      if (restored.ok) {
        accepted++
        const gnu = join(dir, 'gnu')
        mkdirSync(gnu)
        spawnSync('tar', ['-xzf', archive, '-C', gnu])
        const diff = differences(join(gnu, 'alpha'), join(base, 'alpha'))
        if (diff.length) failures.push(`${label}: restored with exit 0, but differs from GNU tar's extraction: ${diff.slice(0, 3).join('; ')}`)
      }
      removeDir(dir)
    }
    expect(failures).toEqual([])
    // the mutants are not all refused: some change nothing that matters, or something restore accepts
    expect(accepted).toBeGreaterThan(5)
  }, 240_000)
}
