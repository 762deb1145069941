import { defineCommand } from 'citty'
import { EXPECT_BIND, type ExpectBind } from '../doctor/context.ts'
import { renderReport, wantUnicode } from '../doctor/render.ts'
import { runDoctor } from '../doctor/run.ts'
import { durationOption } from '../lib/duration.ts'
import { UsageError } from '../lib/errors.ts'
import { isTerminal } from '../lib/stdio.ts'
import type { RunData } from '../runner.ts'
import { VERSION } from '../runner.ts'
import { jsonArg, printJson } from './_shared.ts'

export default defineCommand({
  meta: { name: 'doctor', description: "Check the host, each molt, its monitoring and the backups, and say what to fix (exit 1 when a check fails)" },
  args: {
    name: { type: 'positional', required: false, description: 'molt name (default: every molt)' },
    all: { type: 'boolean', description: 'every molt of the fleet (the default)' },
    timeout: { type: 'string', valueHint: 'duration', default: '2s', description: 'for each network probe (TCP, /health, token, SMTP), 1ms-1m (a bare number is ms)' },
    'expect-bind': { type: 'enum', options: [...EXPECT_BIND], description: 'where gateways must be reachable from: lan warns about loopback binds (default: expect_bind in clmnt.json)' },
    'verify-latest': { type: 'boolean', description: 'also verify the newest good archive end to end, with its chain when incremental (reads all of it)' },
    'send-test-alert': { type: 'boolean', description: "send one test mail over each molt's alert route" },
    ...jsonArg,
  },
  async run({ args, data }) {
    const cli: RunData = data
    if (args.all && args.name) throw new UsageError('give a molt name or --all, not both')
    const timeoutMs = durationOption(args.timeout, '--timeout', { bare: 'ms', min: 1, max: 60_000 })!
    const report = await runDoctor({
      version: VERSION,
      baseDir: cli.baseDir,
      molt: args.name,
      timeoutMs,
      expectBind: args['expect-bind'] as ExpectBind | undefined,
      verifyLatest: args['verify-latest'] === true,
      sendTestAlert: args['send-test-alert'] === true,
      binaryTimeoutMs: 10_000,
      now: Date.now(),
    })
    if (args.json) printJson(cli, report)
    else cli.stdout(renderReport(report, { unicode: wantUnicode({ isTTY: isTerminal(1) }), color: cli.color }))
    return report.ok ? 0 : 1
  },
})
