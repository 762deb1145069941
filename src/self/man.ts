import type { CommandNode } from '../completion/tree.ts'
import { flatten } from '../completion/tree.ts'
import { ENVIRONMENT } from '../lib/environment.ts'

/**
 * clmnt(1) in roff (man(7) macros), generated from the same command tree as the completion scripts
 * and the help: a command added under src/commands shows up in the next `clmnt self install`.
 */
export function manPage(tree: CommandNode, version: string, date = new Date()): string {
  const out: string[] = [
    `.TH CLMNT 1 "${date.toISOString().slice(0, 10)}" "clmnt ${esc(version)}" "Claw Mountain"`,
    '.SH NAME',
    `clmnt \\- ${esc(tree.description.replace(/^clmnt:\s*/, ''))}`,
    '.SH SYNOPSIS',
    '.B clmnt',
    '.I command',
    '[\\fIoptions\\fR]',
    '.SH DESCRIPTION',
    'clmnt watches a fleet of molts (OpenClaw gateway instances, each a Linux user with its own home) and backs them up and restores them.',
    'Exit status 0 means healthy or success, 1 not healthy or an operation failed, 2 bad usage or bad input.',
    'With \\fB\\-\\-json\\fR, standard output holds only JSON (see docs/json.md); warnings go to standard error.',
    '.SH GLOBAL OPTIONS',
    ...optionItems(tree.options),
    '.SH COMMANDS',
  ]
  for (const node of flatten(tree).slice(1)) {
    const words = ['clmnt', ...node.path].join(' ')
    const positionals = node.positionals.map((p) => `\\fI${esc(p.name)}\\fR`).join(' ')
    out.push(`.SS "${esc(words)}${node.subcommands.length ? ' \\fIcommand\\fR' : ''}${positionals ? ` ${positionals}` : ''}"`)
    out.push(esc(node.description) || '.')
    const own = node.options.filter((o) => !tree.options.some((g) => g.flags.join() === o.flags.join()))
    if (own.length) out.push(...optionItems(own))
  }
  out.push('.SH ENVIRONMENT')
  for (const v of ENVIRONMENT) out.push('.TP', `.B ${esc(v.names.join(', '))}`, esc(v.description))
  out.push(
    '.SH FILES',
    '.TP', '.I <base-dir>/molts.json', 'the fleet registry',
    '.TP', '.I <base-dir>/clmnt.json', 'fleet-wide settings: alert addresses, SMTP, dashboard token, S3 (keep it mode 0600)',
    '.TP', '.I <molt home>/.molt-state/', 'health-status.json, health-history.jsonl, health.log: what the checks and the watch record',
    '.TP', '.I <base-dir>/backups/', 'fleet-YYYY-MM-DD-HHMMSS.tar.gz archives',
    '.SH SEE ALSO',
    '.BR crontab (1),',
    '.BR msmtp (1),',
    '.BR systemd.timer (5)',
    '',
  )
  return out.join('\n')
}

function optionItems(options: CommandNode['options']): string[] {
  return options.flatMap((o) => ['.TP', `.B ${o.flags.map(esc).join(', ')}${o.takesValue ? ` \\fI${o.choices ? esc(o.choices.join('|')) : 'value'}\\fR` : ''}`, esc(o.description) || '.'])
}

/** roff: a backslash is an escape, "-" should be "\-" in options, and a line must not start with . or '. */
function esc(text: string): string {
  const escaped = text.replaceAll('\\', '\\e').replaceAll('-', '\\-')
  return /^[.']/.test(escaped) ? `\\&${escaped}` : escaped
}
