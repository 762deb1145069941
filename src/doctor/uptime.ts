import { readFileSync } from 'node:fs'

/**
 * /proc/<pid>/stat field 22 is the start time in clock ticks since boot; /proc/uptime is seconds
 * since boot. Linux reports the ticks in USER_HZ, which is 100 on every architecture it exports
 * to user space (the kernel's own HZ may differ; /proc converts).
 */
export const USER_HZ = 100

/** Seconds since the process started; null when /proc cannot say (gone, not Linux). */
export function processUptimeSeconds(pid: number, proc = '/proc'): number | null {
  try {
    return uptimeFrom(readFileSync(`${proc}/${pid}/stat`, 'utf8'), readFileSync(`${proc}/uptime`, 'utf8'))
  } catch {
    return null
  }
}

/** Pure part: `stat` text (the command name may hold spaces and parentheses) and `uptime` text. */
export function uptimeFrom(stat: string, uptime: string): number | null {
  const afterName = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // afterName[0] is field 3 (state): field 22 is at index 19
  const ticks = Number(afterName[19])
  const since = Number(uptime.split(' ')[0])
  if (!Number.isFinite(ticks) || !Number.isFinite(since)) return null
  return Math.max(0, since - ticks / USER_HZ)
}
