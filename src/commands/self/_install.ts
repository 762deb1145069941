import { resolve } from 'node:path'
import { completionScript } from '../../completion/generate.ts'
import { commandTree } from '../../completion/tree.ts'
import { GLOBAL_ARGS } from '../../command-line.ts'
import { VERSION, type RunData } from '../../runner.ts'
import { binarySource, DEFAULT_PREFIX, installBinary, installLayout, installText, type InstalledFile, type InstallLayout } from '../../self/install.ts'
import { manPage } from '../../self/man.ts'

/** What `self install` and `self upgrade` share: their options and the install itself. */
export const installArgs = {
  prefix: { type: 'string', valueHint: 'dir', default: DEFAULT_PREFIX, description: 'install under this prefix: <prefix>/bin/clmnt, <prefix>/share/… (e.g. ~/.local without root)' },
  'no-completions': { type: 'boolean', description: 'do not install the bash, zsh and fish completion scripts' },
  'no-man': { type: 'boolean', description: 'do not install the man page' },
  'dry-run': { type: 'boolean', description: 'show what would be written and change nothing' },
} as const

export interface InstallArgs {
  prefix?: string
  'no-completions'?: boolean
  'no-man'?: boolean
  'dry-run'?: boolean
}

export async function install(cli: RunData, args: InstallArgs): Promise<{ layout: InstallLayout; files: InstalledFile[] }> {
  const layout = installLayout(resolve(args.prefix ?? DEFAULT_PREFIX))
  const dryRun = args['dry-run'] === true
  const source = binarySource()
  if (source.kind === 'build' && !dryRun) cli.log.info(`building ${layout.bin} from ${resolve(import.meta.dir, '..', '..', '..')} …`)
  const files = [installBinary(layout, source, { dryRun })]
  const root = (await import('../index.ts')).default
  if (!args['no-completions']) {
    files.push(installText('bash completion', layout.bash, await completionScript('bash', root, GLOBAL_ARGS, VERSION), { dryRun }))
    files.push(installText('zsh completion', layout.zsh, await completionScript('zsh', root, GLOBAL_ARGS, VERSION), { dryRun }))
    files.push(installText('fish completion', layout.fish, await completionScript('fish', root, GLOBAL_ARGS, VERSION), { dryRun }))
  }
  if (!args['no-man']) files.push(installText('man page', layout.man, manPage(await commandTree(root, GLOBAL_ARGS), VERSION), { dryRun }))
  return { layout, files }
}

export function filesTable(files: InstalledFile[], dryRun: boolean): string {
  const width = Math.max(...files.map((f) => f.what.length))
  return files.map((f) => `  ${f.what.padEnd(width)}  ${dryRun && f.action !== 'unchanged' ? `would be ${f.action}` : f.action}  ${f.path}\n`).join('')
}
