#!/usr/bin/env bun
import root from './commands/index.ts'
import { main } from './runner.ts'

process.exitCode = await main(process.argv.slice(2), root)
