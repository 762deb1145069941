import { afterAll, beforeAll, expect, test } from 'bun:test'
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { executeRestore, planRestore, type RestoreOptions } from '../../src/archive/restore.ts'
import { writeRichFleet } from '../helpers/archive.ts'
import { runCli } from '../helpers/cli.ts'
import { removeDir, tempDir } from '../helpers/fleet.ts'

// `restore --only config --force` on a live molt: the rest of the home stays live. Mail delivered
// (and mail moved) after the old home was cloned and before the exchange is in the new home after it.
let root: string
let fleet: string
let archive: string

beforeAll(async () => {
  root = tempDir('clmnt-live-')
  fleet = join(root, 'fleet')
  writeRichFleet(fleet, [{ name: 'alpha', port: 19001 }])
  const out = join(root, 'backups')
  mkdirSync(out)
  const backup = await runCli(['fleet', 'backup', '-d', fleet, '--output', out, '-q'])
  if (backup.code !== 0) throw new Error(backup.stderr)
  archive = join(out, readdirSync(out)[0]!)
}, 60_000)
afterAll(() => removeDir(root))

test('--only config --force: mail delivered and moved during the restore is there afterwards; the config is the archived one', async () => {
  const home = join(fleet, 'alpha')
  const config = join(home, '.openclaw', 'openclaw.json')
  const archived = readFileSync(config, 'utf8')
  writeFileSync(config, '{"changed":true}\n')
  writeFileSync(join(home, 'Maildir', 'new', 'before'), 'Subject: before\n')
  const options: RestoreOptions = { baseDir: fleet, archive, only: ['config'], force: true, skipUsers: true, skipCron: true }
  const plan = await planRestore(options)
  const result = await executeRestore(plan, options, {
    info() {},
    warn() {},
    beforeExchange() {
      // the old home was cloned already: a delivery and a mail client's move land in it now
      writeFileSync(join(home, 'Maildir', 'new', 'during'), 'Subject: during\n')
      renameSync(join(home, 'Maildir', 'new', 'before'), join(home, 'Maildir', 'cur', 'before:2,S'))
    },
  })
  expect(result.ok).toBe(true)
  expect(readFileSync(join(home, 'Maildir', 'new', 'during'), 'utf8')).toBe('Subject: during\n')
  expect(readFileSync(join(home, 'Maildir', 'cur', 'before:2,S'), 'utf8')).toBe('Subject: before\n')
  expect(existsSync(join(home, 'Maildir', 'new', 'before'))).toBe(false)
  expect(readFileSync(config, 'utf8')).toBe(archived)
  expect(readdirSync(fleet).filter((n) => n.startsWith('.clmnt-restore'))).toEqual([])
}, 60_000)
