import { readFileSync, statfsSync } from 'node:fs'

/**
 * Host-level checks (seed 002): free disk on the fleet's filesystem above 10 %, memory in use
 * below 90 %. Plain functions; the readings are cheap enough for every watch run (one statfs,
 * one read of /proc/meminfo).
 */
export const DISK_FREE_MIN_PERCENT = 10
export const MEMORY_USED_MAX_PERCENT = 90
/** a log file above this is worth a look (doctor lists them) */
export const LOG_MAX_BYTES = 100 * 1024 * 1024

export interface HostLimits {
  diskFreeMin: number
  memoryUsedMax: number
}

/** `host_checks` of clmnt.json: false turns the host checks off (null); else limits over the defaults. */
export function hostLimits(value: unknown): HostLimits | null {
  if (value === false) return null
  const section = value as { disk_free_min_percent?: number; memory_used_max_percent?: number } | undefined
  return { diskFreeMin: section?.disk_free_min_percent ?? DISK_FREE_MIN_PERCENT, memoryUsedMax: section?.memory_used_max_percent ?? MEMORY_USED_MAX_PERCENT }
}

export interface HostProblem {
  /** stable while the problem lasts: "disk:/srv/fleet", "memory" */
  key: string
  summary: string
  detail: string
}

export interface HostReading {
  disk: { path: string; free_percent: number; free_bytes: number; total_bytes: number } | null
  memory: { used_percent: number; available_bytes: number; total_bytes: number } | null
}

export function readHost(path: string, meminfo = '/proc/meminfo'): HostReading {
  let disk: HostReading['disk'] = null
  try {
    const st = statfsSync(path)
    const total = st.blocks * st.bsize
    // what an unprivileged writer can still use, as df shows it
    const free = st.bavail * st.bsize
    if (total > 0) disk = { path, free_percent: (100 * free) / total, free_bytes: free, total_bytes: total }
  } catch {}
  let memory: HostReading['memory'] = null
  try {
    const text = readFileSync(meminfo, 'utf8')
    const kb = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? Number.NaN) * 1024
    const total = kb('MemTotal')
    const available = kb('MemAvailable')
    if (total > 0 && !Number.isNaN(available)) memory = { used_percent: (100 * (total - available)) / total, available_bytes: available, total_bytes: total }
  } catch {}
  return { disk, memory }
}

export function hostProblems(reading: HostReading, limits: HostLimits = { diskFreeMin: DISK_FREE_MIN_PERCENT, memoryUsedMax: MEMORY_USED_MAX_PERCENT }): HostProblem[] {
  const problems: HostProblem[] = []
  const { disk, memory } = reading
  if (disk && disk.free_percent < limits.diskFreeMin) {
    problems.push({
      key: `disk:${disk.path}`,
      summary: `disk of ${disk.path} ${Math.round(100 - disk.free_percent)}% full (${disk.free_percent.toFixed(1)}% free)`,
      detail: `${mib(disk.free_bytes)} free of ${mib(disk.total_bytes)} on the filesystem of ${disk.path} (below ${limits.diskFreeMin}%): health files, logs and backups are written there.`,
    })
  }
  if (memory && memory.used_percent > limits.memoryUsedMax) {
    problems.push({
      key: 'memory',
      summary: `memory ${Math.round(memory.used_percent)}% in use`,
      detail: `${mib(memory.available_bytes)} available of ${mib(memory.total_bytes)} (above ${limits.memoryUsedMax}% in use): gateways may be killed by the OOM killer.`,
    })
  }
  return problems
}

function mib(bytes: number): string {
  return bytes >= 1024 ** 3 ? `${(bytes / 1024 ** 3).toFixed(1)} GiB` : `${(bytes / 1024 ** 2).toFixed(1)} MiB`
}
