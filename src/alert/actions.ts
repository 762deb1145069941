import { realpathSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import type { Molt } from '../fleet/discover.ts'
import { moltOwner } from '../health/gateway.ts'
import { tailGatewayLog } from '../health/gateway-log.ts'
import type { Facts } from '../health/watch-types.ts'
import { userByUid } from '../lib/users.ts'
import { shQuote } from '../schedule/job.ts'

/**
 * What makes an alert actionable at 3 a.m.: every command in it runs as printed (this very
 * program, with `-d <base-dir>`, since cron's working folder is not the fleet), the dashboard
 * link, the command that restarts the gateway by hand and the last lines of the gateway's log.
 */
export interface ActionContext {
  molt: Molt
  baseDir: string
  /** the restart command's words (restart_cmd or the default) */
  restartArgv: string[]
  /** `dashboard.url` of clmnt.json */
  dashboardUrl: string | null
  logLines?: number
}

export function noticeActions(context: ActionContext): Facts {
  const { molt, baseDir } = context
  const owner = moltOwner(molt)
  const runAs = owner && owner.uid !== 0 && process.getuid?.() === 0 ? userByUid(owner.uid)?.name ?? null : null
  const restart = context.restartArgv.map(word).join(' ')
  const tail = tailGatewayLog(molt.home, owner, context.logLines ?? 10)
  return {
    clmnt: `${clmntProgram()} -d ${word(baseDir)}`,
    restart_command: runAs ? `runuser -u ${runAs} -- ${restart}` : restart,
    dashboard: context.dashboardUrl ? `Dashboard: ${dashboardLink(context.dashboardUrl, molt.name)}` : '',
    gateway_log: tail
      ? tail.lines.length ? `Last lines of ${tail.path}:\n${tail.lines.map((l) => `> ${l}`).join('\n')}` : `${tail.path} is empty.`
      : '',
  }
}

/** The dashboard's page of one molt (the page opens its history from the hash). */
export function dashboardLink(url: string, molt: string): string {
  return `${url.replace(/\/+$/, '')}/#molt=${encodeURIComponent(molt)}`
}

/** `clmnt` when that is what PATH finds for this program; else the program by its absolute path. */
export function clmntProgram(path = process.env.PATH ?? ''): string {
  const compiled = import.meta.dir.startsWith('/$bunfs/')
  const self = compiled ? process.execPath : null
  if (self) {
    for (const dir of path.split(':').filter((d) => d.startsWith('/'))) {
      try {
        if (realpathSync(join(dir, 'clmnt')) === realpathSync(self)) return 'clmnt'
      } catch {}
    }
    return basename(self) === 'clmnt' && dirname(self) === '/usr/local/bin' ? 'clmnt' : word(self)
  }
  return `${word(process.execPath)} ${word(join(import.meta.dir, '..', 'cli.ts'))}`
}

/** Quoted only when the shell needs it: commands read best bare. */
function word(value: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(value) ? value : shQuote(value)
}
