import { expect, test } from 'bun:test'
import { readFileSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathIn } from '../../src/archive/byte-names.ts'
import { renameNoReplace } from '../../src/archive/restore-fs.ts'
import { tempDir } from '../helpers/fleet.ts'

// the chain restore moves each file left to the chain with renameNoReplace: names are bytes (Latin-1
// names restored as they were), and a path already taken in staging is never replaced
test('renameNoReplace takes byte paths; anything at the target (file, dangling symlink) stays and the rename fails with EEXIST', () => {
  const dir = tempDir()
  const latin1 = 'caf\xe9-\xff.txt'
  writeFileSync(pathIn(dir, latin1), 'moved')
  renameNoReplace(pathIn(dir, latin1), pathIn(dir, 'moved \xe9'))
  expect(readFileSync(pathIn(dir, 'moved \xe9'), 'utf8')).toBe('moved')

  writeFileSync(join(dir, 'a'), 'a')
  writeFileSync(join(dir, 'taken'), 'taken')
  symlinkSync(join(dir, 'nowhere'), join(dir, 'dangling'))
  for (const target of ['taken', 'dangling']) {
    let code: string | undefined
    try {
      renameNoReplace(pathIn(dir, 'a'), pathIn(dir, target))
    } catch (error) {
      code = (error as NodeJS.ErrnoException).code
    }
    expect(code).toBe('EEXIST')
  }
  expect(readFileSync(join(dir, 'taken'), 'utf8')).toBe('taken')
  expect(readlinkSync(join(dir, 'dangling'))).toBe(join(dir, 'nowhere'))
  expect(readFileSync(join(dir, 'a'), 'utf8')).toBe('a')
})
