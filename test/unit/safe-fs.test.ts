import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from 'bun:test'
import { spawnSync } from 'node:child_process'
import { chownSync, linkSync, lstatSync, mkdirSync, readFileSync, statSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { inHomeDir, SafeFsError } from '../../src/lib/safe-fs.ts'
import { readHomeFile, statHomeFile } from '../../src/lib/safe-read.ts'
import { removeDir, tempDir } from '../helpers/fleet.ts'
import { createUser, isRoot, removeUser, throwawayName } from '../helpers/users.ts'

let home: string
let outside: string
beforeEach(() => {
  home = tempDir()
  outside = tempDir()
  mkdirSync(join(home, '.molt-state'))
  writeFileSync(join(outside, 'victim'), 'root\n')
})
afterEach(() => {
  removeDir(home)
  removeDir(outside)
})

describe('reading a molt home', () => {
  test('a regular file is read; a missing one (or a missing folder on the way) is null', () => {
    writeFileSync(join(home, '.molt-state', 'a.json'), '{}')
    expect(readHomeFile(home, '.molt-state/a.json')).toBe('{}')
    expect(readHomeFile(home, '.molt-state/none.json')).toBeNull()
    expect(readHomeFile(home, 'nowhere/none.json')).toBeNull()
  })

  test.each([
    ['a symlink to a file outside', (p: string) => symlinkSync(join(outside, 'victim'), p), /a symbolic link/],
    ['a symlink to /dev/zero', (p: string) => symlinkSync('/dev/zero', p), /a symbolic link/],
    ['a FIFO', (p: string) => spawnSync('mkfifo', [p]), /a FIFO/],
    ['a folder', (p: string) => mkdirSync(p), /a folder, expected a regular file/],
  ])('%s is refused with one line, never opened', (_, make, message) => {
    make(join(home, '.molt-state', 'x.json'))
    expect(() => readHomeFile(home, '.molt-state/x.json')).toThrow(SafeFsError)
    expect(() => readHomeFile(home, '.molt-state/x.json')).toThrow(message)
  })

  test('a symlinked folder on the way is refused, never followed', () => {
    symlinkSync(outside, join(home, 'linked'))
    expect(() => readHomeFile(home, 'linked/victim')).toThrow(/linked: a symbolic link, expected a folder/)
    expect(statHomeFile(home, 'linked')?.isSymbolicLink()).toBe(true)
  })

  test('a file larger than the cap is refused without reading it', () => {
    writeFileSync(join(home, '.molt-state', 'big.json'), '')
    truncateSync(join(home, '.molt-state', 'big.json'), 10 * 2 ** 30)
    expect(() => readHomeFile(home, '.molt-state/big.json', { maxBytes: 1024 })).toThrow(/more than 1024/)
  })

  test('paths that leave the home are refused before anything is opened', () => {
    for (const rel of ['../x', '/etc/passwd', 'a/../../x', '.']) expect(() => readHomeFile(home, rel)).toThrow(/not a path inside a home/)
  })
})

const asRoot = isRoot ? describe : describe.skip

asRoot('writing as root in a molt home', () => {
  let user: string
  let uid: number
  beforeAll(() => {
    user = throwawayName()
    createUser('/nonexistent', user)
    uid = Number(spawnSync('id', ['-u', user], { encoding: 'utf8' }).stdout.trim())
  })
  afterAll(() => removeUser(user))
  const own = (path: string) => chownSync(path, uid, uid)

  test("with the molt user's rights: what is created is the user's; a root file it cannot write stays as it was", () => {
    own(home)
    own(join(home, '.molt-state'))
    inHomeDir(home, '.molt-state/new/status.json', { create: true }, (dir, name) => dir.writeAtomic(name, 'x'))
    expect(statSync(join(home, '.molt-state', 'new')).uid).toBe(uid)
    expect(statSync(join(home, '.molt-state', 'new', 'status.json')).uid).toBe(uid)
    writeFileSync(join(home, '.molt-state', 'roots.log'), 'root\n', { mode: 0o644 })
    expect(() => inHomeDir(home, '.molt-state/roots.log', {}, (dir, name) => dir.append(name, 'x'))).toThrow(/EACCES/)
    expect(readFileSync(join(home, '.molt-state', 'roots.log'), 'utf8')).toBe('root\n')
  })

  test("a root-owned file hard-linked into the molt's home is refused", () => {
    own(home)
    own(join(home, '.molt-state'))
    linkSync(join(outside, 'victim'), join(home, '.molt-state', 'linked.json'))
    expect(() => readHomeFile(home, '.molt-state/linked.json')).toThrow(/hard links/)
  })

  test('a .molt-state of root (the bash toolkit ran as root) is still written, as root: no one else can swap its entries', () => {
    own(home)
    inHomeDir(home, '.molt-state/status.json', { create: true }, (dir, name) => dir.writeAtomic(name, 'x'))
    expect(lstatSync(join(home, '.molt-state', 'status.json')).uid).toBe(0)
    expect(readHomeFile(home, '.molt-state/status.json')).toBe('x')
  })
})
