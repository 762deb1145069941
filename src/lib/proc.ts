import { readdirSync, readFileSync, readlinkSync } from 'node:fs'

/** What /proc tells about one process; null fields could not be read (gone, or not ours to read). */
export interface ProcessInfo {
  pid: number
  uid: number
  /** argv joined with spaces */
  cmdline: string
  zombie: boolean
  /** stopped by a signal (SIGSTOP, SIGTSTP) or a debugger: alive, but it cannot answer anything */
  frozen: boolean
}

export const PID_MAX = 4_194_304 // the kernel's upper bound for pid_max on 64-bit

export function readProcess(pid: number): ProcessInfo | null {
  let status: string
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8')
  } catch {
    return null
  }
  const uid = /^Uid:\s+(\d+)/m.exec(status)
  const state = /^State:\s+(\S)/m.exec(status)
  let cmdline = ''
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim()
  } catch {}
  return { pid, uid: uid ? Number(uid[1]) : -1, cmdline, zombie: state?.[1] === 'Z' || state?.[1] === 'X', frozen: state?.[1] === 'T' || state?.[1] === 't' }
}

/**
 * When the process started, in clock ticks after boot (field 22 of /proc/<pid>/stat): with the PID
 * it names one process for good, which is how OpenClaw's lock file tells its owner from a reused PID.
 */
export function processStartTicks(pid: number): number | null {
  let stat: string
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  } catch {
    return null
  }
  // the command name (field 2) may hold spaces and parentheses: count fields after the last ')'
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const ticks = Number(fields[19])
  return Number.isFinite(ticks) ? ticks : null
}

/** Linux reports start times in USER_HZ, which is 100 on every architecture it runs on. */
const TICKS_PER_SECOND = 100

/** How long the process has been running, from /proc; null when it is gone. */
export function processAgeMs(pid: number): number | null {
  const ticks = processStartTicks(pid)
  if (ticks === null) return null
  try {
    const uptime = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0])
    return Math.max(0, Math.round(uptime * 1000 - (ticks * 1000) / TICKS_PER_SECOND))
  } catch {
    return null
  }
}

export function processCwd(pid: number): string | null {
  try {
    return readlinkSync(`/proc/${pid}/cwd`)
  } catch {
    return null
  }
}

/** Every live process, read once per run: orphan searches for many molts share one snapshot. */
export class ProcessTable {
  #all: ProcessInfo[] | undefined

  all(): ProcessInfo[] {
    if (!this.#all) {
      this.#all = []
      for (const entry of readdirSync('/proc')) {
        if (!/^\d+$/.test(entry)) continue
        const info = readProcess(Number(entry))
        if (info && !info.zombie) this.#all.push(info)
      }
    }
    return this.#all
  }
}
