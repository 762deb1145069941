import { hostProblems, LOG_MAX_BYTES, readHost } from '../host/checks.ts'
import { largeLogs } from '../host/logs.ts'
import type { DoctorContext } from './context.ts'
import { few, ok, skip, warn, type Finding } from './types.ts'

/** The watch's host checks (free disk, memory) and the molts' log files over the size limit. */
export function resourceChecks(ctx: DoctorContext): Finding[] {
  if (!ctx.baseDir) return [skip('host.resources', 'disk and memory', 'no base dir')]
  const reading = readHost(ctx.baseDir.dir)
  const problems = hostProblems(reading)
  const findings: Finding[] = []
  const disk = problems.find((p) => p.key.startsWith('disk:'))
  if (!reading.disk) findings.push(skip('host.disk-free', 'free disk', `cannot statfs ${ctx.baseDir.dir}`))
  else if (disk) findings.push(warn('host.disk-free', 'free disk', disk.summary, `free space on the filesystem of ${ctx.baseDir.dir}: old backups (fleet backup --keep N), big logs, Maildirs`))
  else findings.push(ok('host.disk-free', 'free disk', `${reading.disk.free_percent.toFixed(1)}% free on the filesystem of ${ctx.baseDir.dir}`))
  const memory = problems.find((p) => p.key === 'memory')
  if (!reading.memory) findings.push(skip('host.memory', 'memory', 'cannot read /proc/meminfo'))
  else if (memory) findings.push(warn('host.memory', 'memory', memory.summary, 'look for a runaway gateway: ps -eo user,rss,cmd --sort=-rss | head'))
  else findings.push(ok('host.memory', 'memory', `${Math.round(reading.memory.used_percent)}% in use`))
  findings.push(logSizes(ctx))
  return findings
}

function logSizes(ctx: DoctorContext): Finding {
  const big = largeLogs(ctx.fleet?.molts ?? []).map((l) => `${l.path} (${Math.round(l.bytes / 1024 / 1024)} MiB)`)
  if (!big.length) return ok('host.log-sizes', 'log files', `none over ${LOG_MAX_BYTES / 1024 / 1024} MiB`)
  return warn('host.log-sizes', 'log files', `${big.length} over ${LOG_MAX_BYTES / 1024 / 1024} MiB: ${few(big, 3)}`, 'rotate them (logrotate, or logging.maxFileBytes in the molt\'s openclaw.json)')
}
