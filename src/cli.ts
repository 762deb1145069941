#!/usr/bin/env bun
import root from './commands/index.ts'
import { onStdout } from './lib/stdio.ts'
import { main } from './runner.ts'

// `clmnt … | head -1`: the reader left, so there is nobody to tell; stop quietly like `cat` would.
onStdout((stream) =>
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0)
    throw error
  }),
)

process.exitCode = await main(process.argv.slice(2), root)
