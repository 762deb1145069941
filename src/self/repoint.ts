import { join } from 'node:path'
import { inHomeDir } from '../lib/safe-fs.ts'
import { readHomeFile } from '../lib/safe-read.ts'
import { backupEntries } from '../schedule/backup-schedule.ts'
import { scanCrontab, splitLines, joinLines } from '../schedule/crontab-edit.ts'
import { cronCommand, parseCronCommand, systemdQuote } from '../schedule/job.ts'
import { readExecStart, unitNames, userUnitDir } from '../schedule/systemd.ts'

/**
 * `clmnt self upgrade` re-points the schedules clmnt wrote at the installed binary. Only the words
 * that start clmnt change (`/old/bun /old/src/cli.ts` or `/old/dist/clmnt` → `/usr/local/bin/clmnt`);
 * the arguments, the schedule, the marker and every other line keep their bytes.
 */

/** Where clmnt's own words start in a scheduled command: the first word of a command path we know. */
const COMMAND_STARTS = ['molt', 'fleet']

export function splitCommand(argv: string[]): { program: string[]; args: string[] } | null {
  const at = argv.findIndex((w, i) => i > 0 && COMMAND_STARTS.includes(w))
  return at < 1 ? null : { program: argv.slice(0, at), args: argv.slice(at) }
}

export interface Repointed {
  molt: string
  from: string[]
  to: string[]
}

/** The crontab with every clmnt job line of every clmnt entry starting `program`; pure. */
export function repointCrontab(text: string, program: string[]): { text: string; changed: Repointed[] } {
  const lines = splitLines(text)
  const changed: Repointed[] = []
  // the molts' watch entries, and fleet backup schedules (named by their base dir)
  const blocks = [
    ...scanCrontab(text).entries.filter((e) => e.kind === 'clmnt').map((e) => ({ molt: e.molt, start: e.start, end: e.end })),
    ...backupEntries(text).map((e) => ({ molt: `fleet backup of ${e.baseDir}`, start: e.start, end: e.end })),
  ]
  for (const entry of blocks) {
    for (let i = entry.start + 1; i < entry.end; i++) {
      const job = /^(\s*(?:\S+\s+){4}\S+)\s+(.*)$/.exec(lines[i]!.text)
      const parsed = job ? parseCronCommand(job[2]!) : null
      const split = parsed?.errFile ? splitCommand(parsed.argv) : null
      if (!job || !parsed?.errFile || !split || split.program.join('\0') === program.join('\0')) continue
      lines[i] = { text: `${job[1]} ${cronCommand([...program, ...split.args], parsed.errFile)}`, eol: lines[i]!.eol }
      if (!changed.some((c) => c.molt === entry.molt)) changed.push({ molt: entry.molt, from: split.program, to: program })
    }
  }
  return { text: joinLines(lines), changed }
}

/** The systemd service of a molt's watch, re-pointed; null when there is none or it already points there. */
export function repointService(home: string, molt: string, program: string[]): { path: string; content: string; change: Repointed } | null {
  const path = join(userUnitDir(home), unitNames(molt).service)
  let service: string | null
  try {
    // in the molt's home: never through a link, never a FIFO (safe-fs.ts)
    service = readHomeFile(home, serviceRel(molt), { maxBytes: 64 * 1024 })
  } catch {
    return null
  }
  if (service === null) return null
  const split = splitCommand(readExecStart(service) ?? [])
  if (!split || split.program.join('\0') === program.join('\0')) return null
  const exec = [...program, ...split.args].map(systemdQuote).join(' ')
  return { path, content: service.replace(/^ExecStart=.*$/m, () => `ExecStart=${exec}`), change: { molt, from: split.program, to: program } }
}

/** Replace the unit as its user, never through a link it planted (safe-fs.ts). */
export function writeService(home: string, molt: string, content: string, owner: { uid: number; gid: number }): void {
  inHomeDir(home, serviceRel(molt), { owner }, (dir, name) => dir.writeAtomic(name, content, 0o644))
}

const serviceRel = (molt: string) => `.config/systemd/user/${unitNames(molt).service}`
