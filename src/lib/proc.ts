import { readdirSync, readFileSync, readlinkSync } from 'node:fs'

/** What /proc tells about one process; null fields could not be read (gone, or not ours to read). */
export interface ProcessInfo {
  pid: number
  uid: number
  /** argv joined with spaces */
  cmdline: string
  zombie: boolean
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
  return { pid, uid: uid ? Number(uid[1]) : -1, cmdline, zombie: state?.[1] === 'Z' || state?.[1] === 'X' }
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
