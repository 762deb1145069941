import type { ArgsDef } from 'citty'
import pkg from '../package.json' with { type: 'json' }
import { parseCommandLine, type Globals } from './command-line.ts'
import { renderHelp, resolve, resolveChain, type AnyCommand } from './command-tree.ts'
import { resolveBaseDir, type BaseDir } from './fleet/base-dir.ts'
import { ClmntError, UsageError } from './lib/errors.ts'
import { createLogger, wantColor, type Logger } from './lib/log.ts'
import { stdout } from './lib/stdio.ts'

/**
 * Our own runner around citty command definitions. citty's runMain ignores unknown flags and extra
 * positionals, prints stack traces for expected failures and shows help without the full command
 * path; this one is strict (command-line.ts), finds the command and its help (command-tree.ts),
 * maps errors to exit codes, and returns the code instead of exiting.
 */

/** What every command's run() receives as `data`. */
export interface RunData {
  globals: Globals
  log: Logger
  /** colour on stdout */
  color: boolean
  /** "clmnt molt health check" */
  path: string
  baseDir(): BaseDir
  stdout(text: string): void
}

export const VERSION: string = pkg.version

/** Run the command line; returns the exit code (the entry point sets it: in-process tests must not). */
export async function main(argv: string[], root: AnyCommand): Promise<number> {
  // `clmnt help molt health check` is `clmnt molt health check --help` (gh, kubectl, restic);
  // `clmnt help` and `clmnt help environment` are the help command's own
  if (argv[0] === 'help' && argv.length > 1 && !argv[1]!.startsWith('-') && argv[1] !== 'environment') argv = [...argv.slice(1), '--help']
  const verbose = argv.includes('-v') || argv.includes('--verbose')
  const noColor = argv.includes('--no-color')
  let log = createLogger({ level: verbose ? 'verbose' : 'normal', color: wantColor(noColor, 2) })
  let path = 'clmnt'
  let leaf: AnyCommand | undefined
  try {
    const { chain, rest } = await resolveChain(root, argv)
    path = chain.map((c) => c.name).join(' ')
    leaf = chain.at(-1)!.cmd
    const argsDef = await resolve<ArgsDef>(leaf.args ?? {})
    // help wins over everything else on the line, even a missing argument
    const options = rest.slice(0, rest.includes('--') ? rest.indexOf('--') : undefined)
    if (options.includes('-h') || options.includes('--help')) {
      stdout().write(await renderHelp(chain))
      return 0
    }
    const { values, globals } = parseCommandLine(rest, argsDef)
    if (globals.version) {
      stdout().write(`clmnt ${VERSION}\n`)
      return 0
    }
    if (!leaf.run && chain.length === 1) {
      // `clmnt` alone: what can I do here? Help on stdout, exit 0 (git, gh, restic)
      stdout().write(await renderHelp(chain))
      return 0
    }
    if (!leaf.run) {
      process.stderr.write(await renderHelp(chain))
      throw new UsageError('missing command')
    }
    const level = globals.quiet ? 'quiet' : globals.verbose ? 'verbose' : 'normal'
    log = createLogger({ level, color: wantColor(globals.noColor, 2) })
    let baseDir: BaseDir | undefined
    const data: RunData = {
      globals,
      log,
      path,
      color: wantColor(globals.noColor, 1),
      baseDir: () => {
        baseDir ??= resolveBaseDir({ flag: globals.baseDirFlag, env: process.env.CLMNT_BASE_DIR, cwd: process.cwd() })
        return baseDir
      },
      stdout: (text) => stdout().write(text),
    }
    const code = await leaf.run({ rawArgs: argv, args: { _: [], ...values } as never, cmd: leaf, data })
    return typeof code === 'number' ? code : 0
  } catch (error) {
    const code = reportError(error, log, path)
    const own = error instanceof UsageError ? leaf?.onUsageError?.(error.message, argv) : undefined
    return own ?? code
  }
}

function reportError(error: unknown, log: Logger, path: string): number {
  if (error instanceof UsageError) {
    const at = (error as UsageError & { commandPath?: string }).commandPath ?? path
    log.error(`${at}: ${error.message}`)
    process.stderr.write(`Run '${at} --help' for usage.\n`)
    return 2
  }
  if (error instanceof ClmntError) {
    log.error(error.message)
    if (error.cause) log.debug(`cause: ${error.cause instanceof Error ? (error.cause.stack ?? error.cause.message) : String(error.cause)}`)
    return error.exitCode
  }
  const err = error instanceof Error ? error : new Error(String(error))
  // a molt home is 0700 and its user's: as anyone but root (or that user) reading it fails here
  const errno = err as NodeJS.ErrnoException
  if (errno.code === 'EACCES' || errno.code === 'EPERM') {
    log.error(`permission denied${errno.path ? `: ${errno.path}` : ''}: run as root${process.getuid?.() === 0 ? '' : ' (sudo)'}`)
    if (log.level === 'verbose') process.stderr.write(`${err.stack ?? ''}\n`)
    return 1
  }
  log.error(`internal error: ${err.message}`)
  if (log.level === 'verbose') process.stderr.write(`${err.stack ?? ''}\n`)
  else process.stderr.write('Run again with -v for details.\n')
  return 1
}

