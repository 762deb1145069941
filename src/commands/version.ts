import { defineCommand } from 'citty'
import { versionInfo } from '../lib/version.ts'
import type { RunData } from '../runner.ts'
import { jsonArg, printJson } from './_shared.ts'

export default defineCommand({
  meta: { name: 'version', description: 'Print the version, the commit it was built from, Bun and the platform' },
  args: { ...jsonArg },
  run({ args, data }) {
    const cli: RunData = data
    const v = versionInfo()
    if (args.json) return printJson(cli, v)
    cli.stdout(`clmnt ${v.version}\n  commit    ${v.commit ?? 'unknown'}\n  bun       ${v.bun}\n  platform  ${v.platform}\n  build     ${v.build} (${v.executable})\n`)
  },
})
