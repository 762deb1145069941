import type { ArgsDef, CommandDef } from 'citty'
import { bashScript } from './bash.ts'
import { fishScript } from './fish.ts'
import { commandTree } from './tree.ts'
import { zshScript } from './zsh.ts'

export const SHELLS = ['bash', 'zsh', 'fish'] as const
export type Shell = (typeof SHELLS)[number]

/** The completion script for `shell`, generated from the command tree rooted at `root`. */
export async function completionScript(shell: Shell, root: CommandDef<ArgsDef>, globals: ArgsDef, version: string): Promise<string> {
  const tree = await commandTree(root, globals)
  return shell === 'bash' ? bashScript(tree, version) : shell === 'zsh' ? zshScript(tree, version) : fishScript(tree, version)
}

/** Where each shell looks for a completion file: the hint printed when the script goes to a terminal. */
export const INSTALL_HINTS: Record<Shell, string> = {
  bash: 'clmnt completion bash > ~/.local/share/bash-completion/completions/clmnt   (without the bash-completion package: source <(clmnt completion bash) in ~/.bashrc)',
  zsh: 'clmnt completion zsh > ~/.zfunc/_clmnt, with fpath=(~/.zfunc $fpath) before compinit in ~/.zshrc',
  fish: 'clmnt completion fish > ~/.config/fish/completions/clmnt.fish',
}
