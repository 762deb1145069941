/**
 * Expected failures. The message is what the operator reads: one line, actionable.
 * The runner maps them to exit codes; anything else is an internal error (exit 1, stack with -v).
 */
export class ClmntError extends Error {
  constructor(
    message: string,
    readonly exitCode: 1 | 2 = 1,
    options?: { cause?: unknown },
  ) {
    super(message, options)
    this.name = 'ClmntError'
  }
}

/** Bad command line: exit 2 and a usage hint. */
export class UsageError extends ClmntError {
  constructor(message: string) {
    super(message, 2)
    this.name = 'UsageError'
  }
}

/** Bad input that is not the command line: unknown molt, invalid name, malformed file. Exit 2. */
export class InputError extends ClmntError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, 2, options)
    this.name = 'InputError'
  }
}

/** Show a user-supplied string safely inside a message (no control characters reach the terminal). */
export function quote(value: string): string {
  return JSON.stringify(value)
}
