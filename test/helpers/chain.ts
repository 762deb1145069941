import { appendFileSync, mkdirSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { backupFleet, type BackupHooks, type BackupResult } from '../../src/archive/backup.ts'
import { addText, writeRichFleet } from './archive.ts'
import { tempDir } from './fleet.ts'

/**
 * The fleet the archive tests share: two rich molts, alpha (19001) and bravo (19021), in
 * `<dir>/fleet`, and an empty folder for archives. With `mail`, 150 and 50 text mails to churn.
 */
export interface TwoMoltFleet {
  dir: string
  base: string
  out: string
}

export function twoMoltFleet(options: { out?: string; mail?: boolean } = {}): TwoMoltFleet {
  const dir = tempDir()
  const base = join(dir, 'fleet')
  const out = join(dir, options.out ?? 'backups')
  mkdirSync(out)
  writeRichFleet(base, [
    { name: 'alpha', port: 19001 },
    { name: 'bravo', port: 19021 },
  ])
  if (options.mail) {
    addText(join(base, 'alpha'), 150, 3000)
    addText(join(base, 'bravo'), 50, 3000)
  }
  return { dir, base, out }
}

export type ChainBackup = (options?: Partial<Parameters<typeof backupFleet>[0]>, hooks?: BackupHooks) => Promise<BackupResult>

/** In-process incremental backups of the fleet into `out`, as the CLI makes them, each a second after the last so their names and times differ. */
export function chainBackups(fleet: TwoMoltFleet): ChainBackup {
  let tick = 0
  return (options = {}, hooks = {}) => {
    tick++
    return backupFleet({ baseDir: fleet.base, output: `${fleet.out}/`, clmntVersion: '9.9.9', crontab: false, incremental: true, now: new Date(Date.UTC(2026, 1, 2, 10, 0, tick)), ...options }, hooks)
  }
}

/** Mail delivered, read, deleted (about 1% of the files of a `mail` fleet): text-<round> changes, text-<10+round> goes, bravo gets delivered-<round>. */
export function churn(base: string, round: number): void {
  const cur = join(base, 'alpha', 'Maildir', 'cur')
  appendFileSync(join(cur, `text-${round}:2,S`), `\nchanged in round ${round}\n`)
  unlinkSync(join(cur, `text-${10 + round}:2,S`))
  writeFileSync(join(base, 'bravo', 'Maildir', 'new', `delivered-${round}`), `Subject: new in round ${round}\n\nhello\n`)
}
