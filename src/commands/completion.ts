import { defineCommand } from 'citty'
import { moltNames } from '../completion/molt-names.ts'
import { isTerminal } from '../lib/stdio.ts'
import type { RunData } from '../runner.ts'

/**
 * `clmnt completion bash|zsh|fish` prints a script generated from the command tree itself.
 * The hidden `completion molts` is what those scripts run on TAB for molt names: it must stay
 * light (no zod, no generator), so the generator is imported only by the shell subcommands.
 */
type Shell = 'bash' | 'zsh' | 'fish'

const shellCommand = (shell: Shell) =>
  defineCommand({
    meta: { name: shell, description: `Print the ${shell} completion script` },
    async run({ data }) {
      const cli: RunData = data
      const [{ completionScript, INSTALL_HINTS }, { default: root }, { GLOBAL_ARGS }, { VERSION }] = await Promise.all([
        import('../completion/generate.ts'),
        import('./index.ts'),
        import('../command-line.ts'),
        import('../runner.ts'),
      ])
      cli.stdout(await completionScript(shell, root, GLOBAL_ARGS, VERSION))
      if (isTerminal(1)) cli.log.info(`# to install it: ${INSTALL_HINTS[shell]}`)
      return 0
    },
  })

const molts = defineCommand({
  meta: { name: 'molts', description: 'Print the molt names of the fleet, one per line (what the completion scripts run)', hidden: true },
  run({ data }) {
    const cli: RunData = data
    let dir: string
    try {
      dir = cli.baseDir().dir
    } catch {
      return 0 // a TAB has nobody to tell: no names
    }
    const names = moltNames(dir)
    if (names.length) cli.stdout(`${names.join('\n')}\n`)
    return 0
  },
})

export default defineCommand({
  meta: { name: 'completion', description: 'Print a shell completion script (bash, zsh, fish); see the README to install it' },
  subCommands: {
    bash: shellCommand('bash'),
    zsh: shellCommand('zsh'),
    fish: shellCommand('fish'),
    molts,
  },
})
