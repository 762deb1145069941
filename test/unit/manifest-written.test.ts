import { afterAll, expect, test } from 'bun:test'
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { manifestSchema } from '../../src/archive/manifest.ts'
import { writtenManifest } from '../../src/archive/manifest-written.ts'
import { run, writeRichFleet } from '../helpers/archive.ts'
import { runCli } from '../helpers/cli.ts'
import { removeDir, tempDir } from '../helpers/fleet.ts'

// manifest-written.ts reads manifest.json without zod when it has the shape clmnt writes. Whatever
// it accepts, the schema must accept with the same result; what clmnt writes it must accept.
const root = tempDir('clmnt-manifest-')
afterAll(() => removeDir(root))

/** the manifests of a real full and incremental backup of a small fleet */
async function writtenManifests(): Promise<Record<string, unknown>[]> {
  const fleet = join(root, 'fleet')
  writeRichFleet(fleet, [
    { name: 'alpha', port: 19001 },
    { name: 'bravo', port: 19021 },
  ])
  const out = join(root, 'out')
  mkdirSync(out)
  for (const extra of [[], ['--incremental']]) {
    writeFileSync(join(fleet, 'alpha', `note-${extra.length}.txt`), 'changed\n')
    const backup = await runCli(['fleet', 'backup', '-d', fleet, '--output', out, '-q', ...extra])
    if (backup.code !== 0) throw new Error(backup.stderr)
  }
  return readdirSync(out)
    .filter((f) => f.endsWith('.tar.gz'))
    .map((f) => JSON.parse(run('tar', ['-xzOf', join(out, f), 'manifest.json'])) as Record<string, unknown>)
}

/** every place in a JSON value: the paths of its objects' keys and arrays' items */
function places(value: unknown, path: (string | number)[] = []): (string | number)[][] {
  if (typeof value !== 'object' || value === null) return [path]
  const keys = Array.isArray(value) ? value.map((_, i) => i) : Object.keys(value)
  return [path, ...keys.flatMap((k) => places((value as Record<string | number, unknown>)[k], [...path, k]))]
}

function withValue(manifest: unknown, path: (string | number)[], value: unknown): unknown {
  const copy = structuredClone(manifest) as Record<string | number, unknown>
  if (!path.length) return value
  let at = copy
  for (const key of path.slice(0, -1)) at = at[key] as Record<string | number, unknown>
  if (value === undefined && !Array.isArray(at)) delete at[path.at(-1)!]
  else at[path.at(-1)!] = value
  return copy
}

const REPLACEMENTS: unknown[] = [undefined, null, 'alpha', 0, -1, 1.5, 2 ** 60, 70_000, '', ' x', 'null', 'None', 'x/y', 'a'.repeat(40), '2', '4', 'full', 'incremental', 'config', '.clmnt-crontab', '2026-12-05T10:00:00Z', 'e'.repeat(64), true, false, [], ['config'], {}, { files: 1, bytes: 2 }, { files: 1, bytes: 2, extra: 3 }]

test('a manifest clmnt writes reads without the schema, exactly as the schema reads it; nothing else the schema would change or refuse', async () => {
  const manifests = await writtenManifests()
  expect(manifests.map((m) => m.kind).sort()).toEqual(['full', 'incremental'])
  let accepted = 0
  let tried = 0
  for (const manifest of manifests) {
    expect(writtenManifest(structuredClone(manifest))).toEqual(manifestSchema().parse(structuredClone(manifest)))
    for (const path of places(manifest)) {
      for (const value of [...REPLACEMENTS, withValue(manifest, path, undefined)]) {
        const raw = withValue(manifest, path, value)
        const fast = writtenManifest(structuredClone(raw))
        tried++
        if (fast === null) continue
        accepted++
        const schema = manifestSchema().safeParse(structuredClone(raw))
        if (!schema.success) throw new Error(`accepted what the schema refuses: ${JSON.stringify(path)} = ${JSON.stringify(value)}: ${schema.error.issues[0]?.message}`)
        expect(fast).toEqual(schema.data)
      }
    }
    // keys the schema does not know pass through, as the schema passes them
    const extra = { ...manifest, note: 'kept', options: { ...(manifest.options as object), future: 1 } }
    expect(writtenManifest(structuredClone(extra))).toEqual(manifestSchema().parse(structuredClone(extra)))
  }
  // the changes that keep the shape were accepted (and held to the schema), the others read by the schema
  expect(accepted).toBeGreaterThan(100)
  expect(accepted).toBeLessThan(tried / 2)
}, 60_000)
