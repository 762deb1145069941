import { afterEach, describe, expect, test } from 'bun:test'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { resolveBaseDir } from '../../src/fleet/base-dir.ts'
import { discoverFleet, findMolt } from '../../src/fleet/discover.ts'
import { isCleanRegistry, readRegistry } from '../../src/fleet/registry.ts'
import { InputError } from '../../src/lib/errors.ts'
import { removeDir, tempDir, writeMoltHome } from '../helpers/fleet.ts'

let dir: string
afterEach(() => removeDir(dir))

function molt(name: string, moltInfo: string, openclaw?: object) {
  const home = join(dir, name)
  mkdirSync(join(home, '.openclaw'), { recursive: true })
  writeFileSync(join(home, '.molt-info'), moltInfo)
  if (openclaw) writeFileSync(join(home, '.openclaw', 'openclaw.json'), JSON.stringify(openclaw))
  return home
}

describe('base dir resolution', () => {
  test('--base-dir > $CLMNT_BASE_DIR > nearest molts.json > cwd', () => {
    dir = tempDir()
    const deep = join(dir, 'fleet', 'a', 'b')
    mkdirSync(deep, { recursive: true })
    writeFileSync(join(dir, 'fleet', 'molts.json'), '{}')
    expect(resolveBaseDir({ flag: dir, env: deep, cwd: deep })).toEqual({ dir, rule: 'flag' })
    expect(resolveBaseDir({ env: deep, cwd: '/' })).toEqual({ dir: deep, rule: 'env' })
    expect(resolveBaseDir({ cwd: deep })).toEqual({ dir: join(dir, 'fleet'), rule: 'registry' })
    expect(resolveBaseDir({ cwd: dir })).toEqual({ dir, rule: 'cwd' })
    expect(resolveBaseDir({ flag: 'fleet', cwd: dir })).toEqual({ dir: join(dir, 'fleet'), rule: 'flag' })
  })

  test('a base dir that is not a directory is bad input', () => {
    dir = tempDir()
    expect(() => resolveBaseDir({ flag: join(dir, 'nope'), cwd: dir })).toThrow(InputError)
  })
})

describe('fleet discovery', () => {
  test('registry entries and .molt-info folders, sorted; bad names and stray folders skipped with warnings', () => {
    dir = tempDir()
    molt('bravo', 'MOLT_PORT=19021\n')
    molt('Bad-Name', 'MOLT_PORT=1\n')
    mkdirSync(join(dir, 'backups'))
    mkdirSync(join(dir, 'elsewhere', 'charlie'), { recursive: true })
    writeFileSync(
      join(dir, 'molts.json'),
      JSON.stringify({ version: '1', molts: { alpha: { name: 'alpha', port: '19001' }, charlie: { name: 'charlie', port: 19041, home: 'elsewhere/charlie' }, '../x': { port: 1 } } }),
    )
    const fleet = discoverFleet(dir)
    expect(fleet.molts.map((m) => [m.name, m.port, m.portSource, m.home])).toEqual([
      ['alpha', 19001, 'registry', join(dir, 'alpha')],
      ['bravo', 19021, 'molt-info', join(dir, 'bravo')],
      ['charlie', 19041, 'registry', join(dir, 'elsewhere', 'charlie')],
    ])
    expect(fleet.warnings.join('\n')).toContain('"../x"')
    expect(fleet.warnings.join('\n')).toContain('"Bad-Name"')
  })

  test('port: .molt-info, then openclaw.json, then the registry; bad values warn and fall through', () => {
    dir = tempDir()
    molt('a', 'MOLT_PORT=19001\n', { gateway: { port: 19999 } })
    molt('b', 'MOLT_PORT=abc\n', { gateway: { port: '19021' } })
    molt('c', 'MOLT_PORT=99999\n', { gateway: { port: 'x' } })
    molt('d', '', undefined)
    writeFileSync(join(dir, 'd', '.openclaw', 'openclaw.json'), '{ not json')
    writeFileSync(join(dir, 'molts.json'), JSON.stringify({ molts: { c: { port: 19041 } } }))
    const byName = Object.fromEntries(discoverFleet(dir).molts.map((m) => [m.name, m]))
    expect([byName.a!.port, byName.a!.portSource]).toEqual([19001, 'molt-info'])
    expect([byName.b!.port, byName.b!.portSource]).toEqual([19021, 'openclaw.json'])
    expect(byName.b!.warnings[0]).toContain('MOLT_PORT "abc"')
    expect([byName.c!.port, byName.c!.portSource]).toEqual([19041, 'registry'])
    expect(byName.c!.warnings).toHaveLength(2)
    expect([byName.d!.port, byName.d!.portSource]).toEqual([null, null])
    expect(byName.d!.warnings[0]).toContain('openclaw.json')
  })

  test(".molt-info's MOLT_HOME never redirects where clmnt looks", () => {
    dir = tempDir()
    molt('mybot', 'MOLT_NAME=mybot\nMOLT_HOME=/etc\nMOLT_PORT=19001\n')
    expect(findMolt(dir, 'mybot').molt.home).toBe(join(dir, 'mybot'))
  })

  test('a corrupt registry is a warning; folders still count', () => {
    dir = tempDir()
    writeMoltHome(join(dir, 'alpha'), { name: 'alpha', port: 19001 })
    writeFileSync(join(dir, 'molts.json'), '{"molts": {"alpha": ')
    const fleet = discoverFleet(dir)
    expect(fleet.molts.map((m) => m.name)).toEqual(['alpha'])
    expect(fleet.warnings[0]).toContain('not valid JSON')
  })

  test('findMolt refuses invalid names before touching the disk, and unknown ones', () => {
    dir = tempDir()
    expect(() => findMolt(dir, '../x')).toThrow('invalid molt name')
    expect(() => findMolt(dir, 'ghost')).toThrow('unknown molt "ghost"')
  })
})

describe('molts.json: the clean shape skips the schema, anything else goes through it', () => {
  const clean = { version: '1', updated: '2026-11-21T00:00:00Z', molts: { a: { name: 'a', port: 19001, home: '/srv/a', created: '2026-01-15' }, b: { name: 'b' } } }
  test.each([
    ['clean', clean, true],
    ['string port (bash toolkit)', { ...clean, molts: { a: { port: '19001' } } }, false],
    ['port out of range', { ...clean, molts: { a: { port: 70000 } } }, false],
    ['numeric version', { ...clean, version: 1 }, false],
    ['molts is an array', { ...clean, molts: [] }, false],
    ['entry is not an object', { ...clean, molts: { a: 5 } }, false],
  ])('%s', (_label, raw, expected) => expect(isCleanRegistry(raw)).toBe(expected))

  test('both paths read the same registry', () => {
    dir = tempDir()
    writeFileSync(join(dir, 'molts.json'), JSON.stringify({ version: 1, molts: { a: { name: 'a', port: '19001', home: 'null' } } }))
    const legacy = readRegistry(dir).registry
    expect(legacy?.version).toBe('1')
    expect(legacy?.molts.a).toMatchObject({ name: 'a', port: 19001, home: null })
    writeFileSync(join(dir, 'molts.json'), JSON.stringify({ version: '1', molts: { a: { name: 'a', port: 19001 } } }))
    expect(readRegistry(dir).registry?.molts.a).toEqual({ name: 'a', port: 19001 })
  })
})
