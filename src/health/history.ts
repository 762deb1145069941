import { closeSync, fstatSync, openSync, writeSync } from 'node:fs'
import { chownIfRoot, ensureDir, type Owner } from '../lib/atomic.ts'
import { historyFile, stateDir } from './paths.ts'
import { historyLine, type HealthRecord } from './record.ts'

/**
 * Append one check as one write on an O_APPEND descriptor: concurrent writers never interleave
 * inside a line. The file is created owned by the molt's user when running as root.
 */
export function appendHistory(home: string, record: HealthRecord, owner?: Owner): { size: number } {
  ensureDir(stateDir(home), { owner })
  const path = historyFile(home)
  const fd = openSync(path, 'a', 0o644)
  try {
    const created = fstatSync(fd).size === 0
    writeSync(fd, historyLine(record))
    if (created) chownIfRoot(path, owner)
    return { size: fstatSync(fd).size }
  } finally {
    closeSync(fd)
  }
}
