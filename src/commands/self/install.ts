import { defineCommand } from 'citty'
import type { RunData } from '../../runner.ts'
import { jsonArg, printJson } from '../_shared.ts'
import { filesTable, install, installArgs } from './_install.ts'

export default defineCommand({
  meta: { name: 'install', description: 'Install the clmnt binary, the bash/zsh/fish completions and the man page (default under /usr/local)' },
  args: { ...installArgs, ...jsonArg },
  async run({ args, data }) {
    const cli: RunData = data
    const dryRun = args['dry-run'] === true
    const { layout, files } = await install(cli, args)
    if (args.json) printJson(cli, { prefix: layout.prefix, binary: layout.bin, files, dry_run: dryRun })
    else {
      cli.stdout(`clmnt ${dryRun ? 'would be installed' : 'installed'} under ${layout.prefix}\n${filesTable(files, dryRun)}`)
      if (!dryRun) cli.log.info(`next: \`clmnt molt health setup --all\` schedules the watch with ${layout.bin}; after installing a newer clmnt, \`clmnt self upgrade\` re-points existing schedules`)
    }
    return 0
  },
})
