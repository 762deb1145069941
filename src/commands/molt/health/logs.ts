import { defineCommand } from 'citty'
import { findLogFile, followLog, logCandidates, readLastLines, type FollowEvent } from '../../../health/logs.ts'
import { intOption } from '../../../lib/numbers.ts'
import { stdout } from '../../../lib/stdio.ts'
import type { RunData } from '../../../runner.ts'
import { moltArg, oneMolt } from '../../_shared.ts'

export default defineCommand({
  meta: { name: 'logs', description: "Show a molt's health-watch log (health.log, else the bash toolkit's cron.log)" },
  args: {
    ...moltArg,
    lines: { type: 'string', alias: 'n', valueHint: 'n', default: '50', description: 'how many of the last lines to show, 0-1000000' },
    follow: { type: 'boolean', alias: 'f', description: 'keep printing lines as they are appended, across log rotation, until Ctrl-C' },
  },
  async run({ args, data }) {
    const cli: RunData = data
    const count = intOption(args.lines, '--lines', { min: 0, max: 1_000_000 })!
    const molt = oneMolt(cli, args.name)
    const print = (lines: string[]) => {
      if (lines.length) cli.stdout(`${lines.join('\n')}\n`)
    }

    if (!args.follow) {
      const file = findLogFile(molt.home)
      if (!file) {
        cli.log.info(`no health log for ${molt.name} yet (looked in ${logCandidates(molt.home).map((c) => c.path).join(', ')})`)
        return 0
      }
      if (file.legacy) cli.log.info(`showing the bash toolkit's log ${file.path}`)
      print(readLastLines(file, count))
      return 0
    }

    // Ctrl-C is how an operator ends --follow: a clean stop, not a failure
    const stop = new AbortController()
    const abort = () => stop.abort()
    process.once('SIGINT', abort)
    process.once('SIGTERM', abort)
    // `logs -f | head`: once the reader is gone (EPIPE) there is no one to follow for. Left attached,
    // because the last partial line is written while stopping and its failure must not crash us.
    stdout().on('error', abort)
    try {
      await followLog(molt.home, { lines: count, signal: stop.signal, onLines: print, onEvent: (event) => note(cli, molt.name, event) })
    } finally {
      process.off('SIGINT', abort)
      process.off('SIGTERM', abort)
    }
    return 0
  },
})

function note(cli: RunData, name: string, event: FollowEvent): void {
  switch (event.type) {
    case 'waiting':
      return cli.log.info(`no health log for ${name} yet (looked in ${event.looked.join(', ')}); waiting for one to appear`)
    case 'opened':
      if (event.file.legacy) cli.log.info(`showing the bash toolkit's log ${event.file.path}`)
      else if (event.waited) cli.log.info(`${event.file.path} appeared`)
      return
    case 'rotated':
      return cli.log.info(`${event.file.path} was rotated; reading the new file`)
    case 'truncated':
      return cli.log.info(`${event.file.path} was truncated; reading from its start`)
    case 'switched':
      return cli.log.info(`${event.file.path} appeared; following it instead of ${event.from.path}`)
  }
}
