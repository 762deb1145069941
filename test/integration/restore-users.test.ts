import { afterAll, beforeAll, expect, test } from 'bun:test'
import { chownSync, lstatSync, mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { runCli } from '../helpers/cli.ts'
import { removeDir, tempDir, writeMoltHome } from '../helpers/fleet.ts'
import { readTree } from '../helpers/tree.ts'
import { createUser, crontabOf, isRoot, removeUser, setCrontab, throwawayName, userExists } from '../helpers/users.ts'

// Real Linux users (root only): a molt backed up with its own user and crontab, the user deleted
// as on a dead host, then restored — useradd, ownership by name, the crontab back with this host's
// paths. Every user made here is removed, whatever happens.
let dir: string
let name: string
const made: string[] = []

beforeAll(() => {
  dir = tempDir('clmnt-restore-users-')
  name = throwawayName()
  made.push(name)
})
afterAll(() => {
  for (const user of made) removeUser(user)
  removeDir(dir)
})

if (!isRoot) console.warn('restore-users: skipped, not root (useradd, chown and crontab -u need root)')

test.skipIf(!isRoot)('as root: the user is created (useradd, /bin/bash, home in the base dir), files are given to it by name, the crontab comes back rewritten', async () => {
  const oldBase = join(dir, 'old-host')
  const home = join(oldBase, name)
  mkdirSync(home, { recursive: true, mode: 0o700 })
  writeMoltHome(home, { name, port: 19001 })
  createUser(home, name)
  const oldUid = Number(readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith(`${name}:`))!.split(':')[2])
  for (const [rel] of readTree(home)) chownSync(join(home, rel), oldUid, oldUid)
  const job = `*/5 * * * * '/opt/old/bin/bun' '/opt/old/clmnt/src/cli.ts' 'molt' 'health' 'watch' '${name}' '--base-dir' '${oldBase}' '--interval' '5' 2>&1 >/dev/null | '/usr/bin/tee' '${home}/.molt-state/cron.err'`
  setCrontab(name, `MAILTO=ops@example.com\n# MOLT-HEALTH-WATCH ${name} every 5 min (clmnt)\n${job}\n0 3 * * * ${oldBase}/bin/nightly.sh\n`)
  const archive = join(dir, 'fleet.tar.gz')
  const backup = await runCli(['fleet', 'backup', '-d', oldBase, '--output', archive, '--json'])
  expect(backup.code).toBe(0)

  // the host dies: user, crontab and home are gone
  removeUser(name)
  expect(userExists(name)).toBe(false)

  const base = join(dir, 'new-host')
  mkdirSync(base)
  const dry = await runCli(['fleet', 'restore', '-d', base, '--from', archive, '--dry-run'])
  expect(dry.stdout).toMatch(new RegExp(`${name}\\s+new\\s+create ${name}`))
  expect(userExists(name)).toBe(false)

  const result = await runCli(['fleet', 'restore', '-d', base, '--from', archive, '--yes'])
  expect(result.stderr).not.toContain('error')
  expect(result.code).toBe(0)
  expect(result.stderr).toContain(`✓ ${name}: restored (user ${name} created, owned by ${name}, crontab installed)`)
  const entry = readFileSync('/etc/passwd', 'utf8').split('\n').find((l) => l.startsWith(`${name}:`))!
  const [, , uid, gid, , userHome, shell] = entry.split(':')
  expect([userHome, shell]).toEqual([join(base, name), '/bin/bash'])
  const shadow = readFileSync('/etc/shadow', 'utf8').split('\n').find((l) => l.startsWith(`${name}:`))!
  expect(shadow.split(':')[1]).toMatch(/^!/) // no password: locked

  const tree = readTree(join(base, name))
  for (const [rel, e] of tree) expect([rel, e.uid, e.gid]).toEqual([rel, Number(uid), Number(gid)])
  expect(lstatSync(join(base, name)).mode & 0o777).toBe(0o700)

  const crontab = crontabOf(name)
  expect(crontab.code).toBe(0)
  const lines = crontab.text.split('\n')
  expect(lines[0]).toBe('MAILTO=ops@example.com')
  expect(lines[1]).toBe(`# MOLT-HEALTH-WATCH ${name} every 5 min (clmnt)`)
  expect(lines[2]).toStartWith('*/5 * * * * ')
  expect(lines[2]).not.toContain('/opt/old')
  expect(lines[2]).toContain(`'molt' 'health' 'watch' '${name}' '--base-dir' '${base}' '--interval' '5' 2>&1 >/dev/null | `)
  expect(lines[2]).toEndWith(`'${join(base, name)}/.molt-state/cron.err'`)
  expect(lines[3]).toBe(`0 3 * * * ${oldBase}/bin/nightly.sh`)
  expect(result.stderr).toContain('other crontab line(s) mention the old base dir')
}, 30_000)
