/**
 * stdout and stderr without making process.stdout or process.stderr before they are written to:
 * making either loads node:stream, ~10 ms of every command's start, and many runs write nothing
 * (cron's `health watch`, a `--quiet` restore).
 */

/** Is this descriptor a terminal? node's own isatty (tty_wrap); a runtime without it asks the stream. */
export function isTerminal(fd: 1 | 2): boolean {
  try {
    const binding = (process as unknown as { binding(name: string): { isTTY(fd: number): boolean } }).binding('tty_wrap')
    return binding.isTTY(fd)
  } catch {
    return Boolean((fd === 1 ? process.stdout : process.stderr).isTTY)
  }
}

let firstUse: ((stream: NodeJS.WriteStream) => void) | null = null

/** What the entry point sets up on stdout, once something is written there (cli.ts: a reader that left). */
export function onStdout(setup: (stream: NodeJS.WriteStream) => void): void {
  firstUse = setup
}

/** process.stdout, with the entry point's set-up done the first time. */
export function stdout(): NodeJS.WriteStream {
  const setup = firstUse
  firstUse = null
  setup?.(process.stdout)
  return process.stdout
}
