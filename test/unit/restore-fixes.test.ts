import { expect, test } from 'bun:test'
import { judgeMember, legacyRel } from '../../src/archive/member-policy.ts'
import type { TarEntry } from '../../src/archive/tar-parse.ts'
import { rewriteCrontab, rewriteOpenclawConfig, rewritePaths, setMoltInfoValues, shellValue } from '../../src/archive/restore-fixes.ts'
import { parseMoltInfo } from '../../src/fleet/molt-info.ts'

test.each([
  ['a RESTORED line is replaced, not added twice', 'MOLT_NAME=a\nRESTORED=2020-01-01T00:00:00Z\nMOLT_HOME="/old/a"\nRESTORED=again\n', 'MOLT_NAME=a\nRESTORED=2026-02-02T10:30:00.000Z\nMOLT_HOME="/new/a"\n'],
  ['missing keys are appended', 'MOLT_NAME=a\nMOLT_PORT=19001\n', 'MOLT_NAME=a\nMOLT_PORT=19001\nMOLT_HOME="/new/a"\nRESTORED=2026-02-02T10:30:00.000Z\n'],
  ['no final newline', 'MOLT_NAME=a', 'MOLT_NAME=a\nMOLT_HOME="/new/a"\nRESTORED=2026-02-02T10:30:00.000Z\n'],
  ['export prefix, CRLF and comments keep their place', '# made by molt create\r\nexport MOLT_HOME=/old/a\r\nCREATED=2026-01-15\r\n', '# made by molt create\r\nMOLT_HOME="/new/a"\r\nCREATED=2026-01-15\r\nRESTORED=2026-02-02T10:30:00.000Z\n'],
  ['empty file', '', 'MOLT_HOME="/new/a"\nRESTORED=2026-02-02T10:30:00.000Z\n'],
])('.molt-info: %s', (_, before, after) => {
  expect(setMoltInfoValues(before, { MOLT_HOME: '/new/a', RESTORED: '2026-02-02T10:30:00.000Z' })).toBe(after)
})

test('.molt-info values the shell would misread are quoted, and read back as written', () => {
  for (const value of ['/srv/fleet/a', '/srv/my fleet/a', '/srv/$HOME/`x`/"q"\\', '2026-02-02T10:30:00.000Z', '']) {
    const text = setMoltInfoValues('', { MOLT_HOME: value })
    expect(parseMoltInfo(text).values.MOLT_HOME).toBe(value)
  }
  expect(shellValue('2026-02-02T10:30:00.000Z')).toBe('2026-02-02T10:30:00.000Z')
  expect(shellValue('/srv/a')).toBe('"/srv/a"')
})

test.each([
  ['/srv/fleet/alpha/x', '/home/alpha/x'],
  ['/srv/fleet/bravo/x', '/new/base/bravo/x'],
  ['/srv/fleet', '/new/base'],
  ['/srv/fleet/', '/new/base/'],
  ['--dir=/srv/fleet/shared', '--dir=/new/base/shared'],
  ['/srv/fleet2/x', '/srv/fleet2/x'],
  ['/srv/fleet.old/x', '/srv/fleet.old/x'],
  ['x/srv/fleet/a', 'x/srv/fleet/a'],
  ['/srv/fleet/alphabet', '/new/base/alphabet'],
  ['/srv/fleet/alpha', '/home/alpha'],
  ['a:/srv/fleet/alpha/b:/srv/fleet/c', 'a:/home/alpha/b:/new/base/c'],
])('rewritePaths(%p) = %p (longest prefix first, whole path segments only)', (value, expected) => {
  expect(rewritePaths(value, [['/srv/fleet', '/new/base'], ['/srv/fleet/alpha', '/home/alpha']])).toBe(expected)
})

test('rewritePaths: a new base inside the old one is not rewritten twice', () => {
  expect(rewritePaths('/srv/fleet/alpha', [['/srv/fleet', '/srv/fleet/restored'], ['/srv/fleet/alpha', '/srv/fleet/restored/alpha']])).toBe('/srv/fleet/restored/alpha')
})

test('openclaw.json: only string values change; untouched text keeps its bytes; not JSON → null', () => {
  const text = '{"gateway":{"port":19001},"workspace":"/srv/fleet/alpha/ws","list":["/srv/fleet/x",1,null],"/srv/fleet/key":true}'
  const out = rewriteOpenclawConfig(text, [['/srv/fleet', '/new']])!
  expect(out.changed).toBe(2)
  expect(JSON.parse(out.text)).toEqual({ gateway: { port: 19001 }, workspace: '/new/alpha/ws', list: ['/new/x', 1, null], '/srv/fleet/key': true })
  const same = '{ "gateway": { "port": 1 } }'
  expect(rewriteOpenclawConfig(same, [['/srv/fleet', '/new']])).toEqual({ text: same, changed: 0 })
  expect(rewriteOpenclawConfig('{oops', [['/a', '/b']])).toBeNull()
})

test('crontab: clmnt watch lines get this host\'s clmnt, base dir and cron.err; everything else keeps its bytes', () => {
  const old = "*/5 * * * * '/opt/bun' '/opt/clmnt/src/cli.ts' 'molt' 'health' 'watch' 'alpha' '--base-dir' '/srv/fleet' '--interval' '5' '--alert-email' 'o@x.org' 2>&1 >/dev/null | '/usr/bin/tee' '/srv/fleet/alpha/.molt-state/cron.err'"
  const text = `MAILTO=ops@x.org\r\n# MOLT-HEALTH-WATCH alpha every 5 min (clmnt)\n${old}\n0 3 * * * /srv/fleet/bin/nightly\n# a comment about /srv/fleet\n`
  const out = rewriteCrontab(text, { clmnt: ['/usr/local/bin/clmnt'], baseDir: '/new', map: [['/srv/fleet/alpha', '/new/alpha'], ['/srv/fleet', '/new']], tee: '/bin/tee' })
  expect(out.rewritten).toBe(1)
  expect(out.text).toBe(
    'MAILTO=ops@x.org\r\n# MOLT-HEALTH-WATCH alpha every 5 min (clmnt)\n' +
      "*/5 * * * * '/usr/local/bin/clmnt' 'molt' 'health' 'watch' 'alpha' '--base-dir' '/new' '--interval' '5' '--alert-email' 'o@x.org' 2>&1 >/dev/null | '/bin/tee' '/new/alpha/.molt-state/cron.err'\n" +
      '0 3 * * * /srv/fleet/bin/nightly\n# a comment about /srv/fleet\n',
  )
  expect(out.warnings).toEqual(['1 other crontab line(s) mention the old base dir: they are not clmnt\'s; check them with crontab -u <molt> -l'])
  expect(rewriteCrontab('', { clmnt: ['x'], baseDir: '/n', map: [], tee: '/bin/tee' })).toEqual({ text: '', rewritten: 0, warnings: [] })
})

test('legacy layout: openclaw.json, .env and skills/ move under .openclaw/; the rest stays', () => {
  expect(['openclaw.json', '.env', 'skills', 'skills/hello/SKILL.md', '.molt-info', 'Maildir/cur/x', '.openclaw/x', 'skillset'].map(legacyRel)).toEqual([
    '.openclaw/openclaw.json', '.openclaw/.env', '.openclaw/skills', '.openclaw/skills/hello/SKILL.md', '.molt-info', 'Maildir/cur/x', '.openclaw/x', 'skillset',
  ])
})

test('the member policy: set-ID bits dropped and said, links kept as links, devices refused for their molt only, unsafe names for the archive', () => {
  const input = { legacy: false, layout: { global: 'global', molts: new Set(['alpha']) } }
  const entry = (name: string, type: TarEntry['type'], extra: Partial<TarEntry> = {}): TarEntry => ({ name, type, typeflag: '0', size: 0, stored: 0, sparse: null, mode: 0o644, mtime: 0, mtimeText: '0', uid: 0, gid: 0, uname: '', gname: '', linkname: '', offset: 0, ...extra })
  expect(judgeMember(entry('alpha/bin/x', 'file', { mode: 0o4755 }), input)).toMatchObject({ kind: 'member', mode: 0o755, dropped: 0o4000 })
  expect(judgeMember(entry('alpha/.openclaw/skills/x', 'symlink', { linkname: '/opt/x' }), input)).toMatchObject({ kind: 'member', type: 'symlink', outside: true, component: 'skills' })
  expect(judgeMember(entry('alpha/Maildir/f', 'fifo'), input)).toMatchObject({ kind: 'refuse', molt: 'alpha' })
  expect(judgeMember(entry('alpha/../etc/passwd', 'file'), input)).toMatchObject({ kind: 'refuse', molt: null })
  expect(judgeMember(entry('stray/x', 'file'), input)).toMatchObject({ kind: 'refuse', molt: null })
  expect(judgeMember(entry('alpha/.clmnt-crontab', 'file'), input)).toMatchObject({ kind: 'member', type: 'crontab' })
})
