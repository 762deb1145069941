import { defineCommand } from 'citty'
import type { RunData } from '../../runner.ts'
import { repointSchedules } from '../../self/upgrade.ts'
import { jsonArg, printJson } from '../_shared.ts'
import { filesTable, install, installArgs } from './_install.ts'

export default defineCommand({
  meta: { name: 'upgrade', description: "Install this clmnt over the installed one, then re-point the fleet's schedules (cron and systemd) at it" },
  args: { ...installArgs, ...jsonArg },
  async run({ args, data }) {
    const cli: RunData = data
    const dryRun = args['dry-run'] === true
    const { layout, files } = await install(cli, args)
    const { dir } = cli.baseDir()
    const { outcomes, warnings } = repointSchedules(dir, [layout.bin], { dryRun })
    for (const w of warnings) cli.log.warn(w)
    for (const o of outcomes) if (o.error) cli.log.error(`${o.molt}: ${o.error}`)
    if (args.json) printJson(cli, { prefix: layout.prefix, binary: layout.bin, files, schedules: outcomes, dry_run: dryRun })
    else {
      cli.stdout(`clmnt ${dryRun ? 'would be installed' : 'installed'} under ${layout.prefix}\n${filesTable(files, dryRun)}`)
      if (!outcomes.length) cli.stdout(`schedules: none to re-point in ${dir} (they already run ${layout.bin}, or there are none)\n`)
      else {
        cli.stdout(`schedules ${dryRun ? 'to re-point' : 're-pointed'} at ${layout.bin}:\n`)
        const width = Math.max(...outcomes.map((o) => o.molt.length))
        for (const o of outcomes) cli.stdout(`  ${o.molt.padEnd(width)}  ${o.scheduler.padEnd(7)}  ${o.user}  ${o.error ? `FAILED: ${o.error}` : `was ${o.from.join(' ')}`}\n`)
      }
      if (dryRun) cli.log.info('dry run: nothing was changed')
    }
    return outcomes.some((o) => o.error) ? 1 : 0
  },
})
