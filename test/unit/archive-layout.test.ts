import { expect, test } from 'bun:test'
import { checksumLine, endLine, noteLine, parseChecksumList } from '../../src/archive/checksums.ts'
import { componentOf, memberNameProblem, normalizeMemberName, placeOf, symlinkStaysInside } from '../../src/archive/layout.ts'
import { isoWithOffset, parseManifest } from '../../src/archive/manifest.ts'

test.each([
  ['', true, null],
  ['.openclaw', true, null],
  ['.molt-info', false, 'config'],
  ['.openclaw/openclaw.json', false, 'config'],
  ['.openclaw/.env', false, 'config'],
  ['.openclaw/extra.json', false, 'config'],
  ['.openclaw/gateway.pid', false, undefined],
  ['.openclaw/gateway.log', false, 'logs'],
  ['.openclaw/gateway.log.3', false, 'logs'],
  ['.openclaw/sandboxes', true, 'openclaw-state'],
  ['.openclaw/sandboxes/x/y', false, 'openclaw-state'],
  ['.openclaw/cache', true, undefined],
  ['.openclaw/notes.txt', false, 'openclaw-state'],
  ['.openclaw/state/openclaw.sqlite', false, 'openclaw-state'],
  ['.openclaw/credentials/whatsapp/default/creds.json', false, 'openclaw-state'],
  ['.openclaw/identity', true, 'openclaw-state'],
  ['.openclaw/logs/stability/x.json', false, 'logs'],
  ['.openclaw/tmp', true, undefined],
  ['.openclaw/plugin-skills', true, undefined],
  ['.openclaw/npm-runtime/x', false, undefined],
  ['.openclaw/extensions/p/node_modules', true, undefined],
  ['.openclaw/agents/main/agent/tmp', true, undefined],
  ['.openclaw/agents/main/agent/openclaw-agent.sqlite', false, 'agents'],
  ['.openclaw/skills', true, 'skills'],
  ['.openclaw/skills/a/SKILL.md', false, 'skills'],
  ['.openclaw/skills/a/run.log', false, 'logs'],
  ['.openclaw/skills/a/gateway.pid', false, undefined],
  ['.openclaw/workspace/MEMORY.md', false, 'agents'],
  ['.openclaw/agents/main/sessions/s.jsonl', false, 'agents'],
  ['.msmtprc', false, 'mail-config'],
  ['.mbsyncrc', false, 'mail-config'],
  ['.mail-state/x', false, 'mail-config'],
  ['Maildir', true, 'maildir'],
  ['Maildir/cur/1:2,S', false, 'maildir'],
  ['.molt-state/health-history.jsonl', false, 'state'],
  ['.molt-state/health.log', false, 'logs'],
  ['.clmnt-crontab', false, 'crontab'],
  ['.bashrc', false, undefined],
  ['node_modules', true, undefined],
  ['a.log', false, undefined],
] as const)('componentOf(%p, dir=%p) = %p', (rel, isDir, expected) => {
  expect(componentOf(rel, isDir)).toBe(expected)
})

test.each([
  ['alpha/x', false, null],
  ['alpha/', false, null],
  ['/etc/passwd', false, 'absolute path'],
  ['alpha/../../x', false, 'path with ".."'],
  ['..', false, 'path with ".."'],
  ['./alpha/x', false, 'path not normalized (empty or "." segment)'],
  ['./alpha/x', true, null],
  ['./', true, null],
  ['alpha//x', false, 'path not normalized (empty or "." segment)'],
  ['', false, 'empty member name'],
  ['a\0b', false, 'member name holds a NUL byte'],
] as const)('memberNameProblem(%p, legacy=%p) = %p', (name, legacy, expected) => {
  expect(memberNameProblem(name, { legacy })).toBe(expected)
})

test.each([
  ['x/link', 'y', true],
  ['x/link', '../y', true],
  ['x/link', '../../y', false],
  ['link', '../y', false],
  ['link', '/etc/passwd', false],
  ['a/b/link', '../../c/./d', true],
  ['a/link', '', false],
] as const)('symlink %p → %p stays inside: %p', (rel, target, expected) => {
  expect(symlinkStaysInside(rel, target)).toBe(expected)
})

test('members are placed in a molt, the global folder, or clmnt files', () => {
  const layout = { global: 'global', molts: new Set(['alpha']) }
  expect(placeOf('alpha/Maildir/x', layout)).toEqual({ kind: 'molt', molt: 'alpha', rel: 'Maildir/x' })
  expect(placeOf('./alpha/', layout)).toEqual({ kind: 'molt', molt: 'alpha', rel: '' })
  expect(placeOf('global/molts.json', layout)).toEqual({ kind: 'global', rel: 'molts.json' })
  expect(placeOf('manifest.json', layout)).toEqual({ kind: 'manifest' })
  expect(placeOf('checksums.sha256', layout)).toEqual({ kind: 'checksums' })
  expect(placeOf('bravo/x', layout)).toEqual({ kind: 'outside' })
  expect(normalizeMemberName('./a/b/')).toBe('a/b')
})

test('checksum lines use GNU escaping; notes and the end line round-trip', () => {
  const hex = 'a'.repeat(64)
  expect(checksumLine(hex, 'alpha/x y')).toBe(`${hex}  alpha/x y\n`)
  expect(checksumLine(hex, 'alpha/new\nline\\')).toBe(`\\${hex}  alpha/new\\nline\\\\\n`)
  const text = [
    '# comment\n',
    checksumLine(hex, 'alpha/new\nline\\'),
    checksumLine('b'.repeat(64), 'alpha/plain'),
    noteLine({ kind: 'vanished', path: 'alpha/gone', detail: 'gone', planned_size: 3 }),
    endLine({ files: 2, bytes: 10, notes: 1, partial: false }),
    'garbage line\n',
  ].join('')
  const list = parseChecksumList(text)
  expect([...list.sums]).toEqual([
    ['alpha/new\nline\\', hex],
    ['alpha/plain', 'b'.repeat(64)],
  ])
  expect(list.notes).toEqual([{ kind: 'vanished', path: 'alpha/gone', detail: 'gone', planned_size: 3 }])
  expect(list.end).toEqual({ files: 2, bytes: 10, notes: 1, partial: false })
  expect(list.bad).toEqual(['line 6: not a sha256sum line'])
})

test('a v1 manifest of the bash toolkit reads, string numbers and all', () => {
  const { manifest, legacy } = parseManifest(
    JSON.stringify({
      version: '1.0',
      timestamp: '2026-02-02T10:30:00Z',
      hostname: 'claw-mountain',
      molts: [{ name: 'assistant-1', port: '19001', created: '2026-01-15', backup_size_bytes: '1234567' }],
      total_size_bytes: '9876543',
    }),
  )
  expect(legacy).toBe(true)
  expect(manifest.molts[0]).toMatchObject({ name: 'assistant-1', port: 19001, backup_size_bytes: 1234567, files: null, home: null, components: [] })
  expect(manifest.total_size_bytes).toBe(9876543)
  expect(manifest.layout.global).toBe('global')
  expect(manifest.layout.checksums).toBeNull()
})

test.each([
  [{ version: '1.0', timestamp: 'x', molts: [] }, 'not an ISO 8601 time'],
  [{ version: '9', timestamp: '2026-02-02T10:30:00Z', molts: [] }, 'unsupported manifest version "9"'],
  [{ version: '1.0', timestamp: '2026-02-02T10:30:00Z', molts: [{ name: '../x' }] }, 'not a valid molt name'],
  [{ version: '1.0', timestamp: '2026-02-02T10:30:00Z', molts: [{ name: 'a' }, { name: 'a' }] }, 'listed twice'],
  [{ version: '2', timestamp: '2026-02-02T10:30:00Z', molts: [{ name: 'a' }], total_files: 0, total_size_bytes: 0 }, 'files and backup_size_bytes are required'],
  [{ version: '2', timestamp: '2026-02-02T10:30:00Z', molts: [] }, 'total_files and total_size_bytes are required'],
])('a manifest that cannot be trusted is refused: %p', (raw, message) => {
  expect(() => parseManifest(JSON.stringify(raw))).toThrow(message)
})

test('timestamps carry their offset', () => {
  expect(isoWithOffset(new Date('2026-02-02T10:30:00.123Z'))).toMatch(/^2026-02-0\dT\d\d:\d\d:00\.123[+-]\d\d:\d\d$/)
  expect(Date.parse(isoWithOffset(new Date('2026-02-02T10:30:00.123Z')))).toBe(Date.parse('2026-02-02T10:30:00.123Z'))
})

test('the fast paths for plain names decide as the plain definitions do, for every short name of / . a b NUL', () => {
  // the definitions before their fast paths: split into segments, look at each
  const problem = (name: string, legacy: boolean): string | null => {
    if (name === '') return 'empty member name'
    if (name.includes('\0')) return 'member name holds a NUL byte'
    if (name.startsWith('/')) return 'absolute path'
    const rest = legacy && name.startsWith('./') ? name.slice(2) : name
    const parts = rest.replace(/\/$/, '').split('/')
    if (parts.includes('..')) return 'path with ".."'
    if (rest === '' || rest === './' || rest === '.') return legacy ? null : 'member "./"'
    if (parts.some((p) => p === '' || p === '.')) return 'path not normalized (empty or "." segment)'
    return null
  }
  const normalized = (name: string): string => {
    let out = name
    while (out.startsWith('./')) out = out.slice(2)
    return out.replace(/\/+$/, '')
  }
  // every name of up to 6 of these 5 characters: 5^1 + … + 5^6 = 19,530 names
  const alphabet = ['/', '.', 'a', 'b', '\0']
  let names = ['']
  let checked = 0
  for (let length = 1; length <= 6; length++) {
    names = names.flatMap((n) => alphabet.map((c) => n + c))
    for (const name of names) {
      for (const legacy of [false, true]) {
        if (memberNameProblem(name, { legacy }) !== problem(name, legacy)) throw new Error(`memberNameProblem(${JSON.stringify(name)}, legacy ${legacy})`)
      }
      if (normalizeMemberName(name) !== normalized(name)) throw new Error(`normalizeMemberName(${JSON.stringify(name)})`)
      checked++
    }
  }
  expect(checked).toBe(5 + 25 + 125 + 625 + 3125 + 15625)
  // longer names as members have them
  for (const name of ['alpha/.openclaw/agents/main/sessions/a.jsonl', 'alpha/Maildir/cur/1.M2:2,S', 'alpha/x/../y', 'alpha/.../y', 'alpha/..y/z', 'alpha/./y', 'alpha/y/.', 'alpha/y/..', 'alpha//y', 'alpha/y/', 'alpha/y//']) {
    for (const legacy of [false, true]) expect(memberNameProblem(name, { legacy })).toBe(problem(name, legacy))
    expect(normalizeMemberName(name)).toBe(normalized(name))
  }
})
