import { defineCommand } from 'citty'
import { renderEnvironment } from '../lib/environment.ts'
import { UsageError, quote } from '../lib/errors.ts'
import { helpOf } from '../command-tree.ts'
import type { RunData } from '../runner.ts'

// `clmnt help <command…>` is rewritten by the runner into `<command…> --help`; what reaches here is
// `clmnt help` alone or a topic that is not a command.
export default defineCommand({
  meta: { name: 'help', description: "Help for a command ('clmnt help molt health check'), or 'clmnt help environment'" },
  args: { topic: { type: 'positional', required: false, description: 'a command, or "environment"' } },
  async run({ args, data }) {
    const cli: RunData = data
    if (args.topic === 'environment') return cli.stdout(renderEnvironment())
    if (args.topic !== undefined) throw new UsageError(`no help topic ${quote(args.topic)}: give a command or "environment"`)
    const root = (await import('./index.ts')).default
    cli.stdout(await helpOf(root as never, []))
  },
})
