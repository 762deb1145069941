import { defineCommand } from 'citty'
import { resolve } from 'node:path'
import { checkMolts } from '../../../health/check.ts'
import type { HealthRecord } from '../../../health/record.ts'
import { formatMs, paintStatus } from '../../../health/render.ts'
import { durationOption } from '../../../lib/duration.ts'
import { ClmntError, UsageError } from '../../../lib/errors.ts'
import { intOption } from '../../../lib/numbers.ts'
import { stdout } from '../../../lib/stdio.ts'
import { moltHeader, renderTable } from '../../../lib/table.ts'
import type { UsageErrorHandler } from '../../../command-tree.ts'
import type { RunData } from '../../../runner.ts'
import { VERSION } from '../../../runner.ts'
import { readFleetConfig } from '../../../fleet/config.ts'
import { jsonArg, moltOrAllArgs, printJson, selectMolts, startupGraceArg, startupGraceMs } from '../../_shared.ts'

export const FORMATS = ['text', 'nagios'] as const

const command = defineCommand({
  meta: { name: 'check', description: "Check a molt's gateway now (process, GET /health and /readyz) and record the result" },
  args: {
    ...moltOrAllArgs,
    timeout: { type: 'string', valueHint: 'duration', default: '5s', description: 'HTTP timeout covering connect and response, 1ms-10m (a bare number is ms)' },
    record: { type: 'boolean', default: true, description: 'record the result', negativeDescription: 'probe only: write no status or history' },
    concurrency: { type: 'string', valueHint: 'n', default: '16', description: 'with --all: molts checked at once, 1-256' },
    ...startupGraceArg,
    format: { type: 'enum', options: [...FORMATS], default: 'text', description: 'nagios: one plugin line and exit 0 OK (healthy, starting), 1 WARNING (unhealthy), 2 CRITICAL (dead, stopped), 3 UNKNOWN' },
    'prom-file': { type: 'string', valueHint: 'file.prom', description: "also write Prometheus metrics there (node_exporter textfile collector; replaced atomically)" },
    ...jsonArg,
  },
  async run({ args, data }) {
    const cli: RunData = data
    if (args.format === 'nagios') return nagios(cli, args)
    const { records, promProblem } = await check(cli, args)
    if (args.json) printJson(cli, args.all ? records : records[0])
    else if (args.all) {
      const rows = records.map((r) => [r.molt ?? '', paintStatus(r.status, cli.color), String(r.port ?? '-'), String(r.pid ?? '-'), String(r.http_status ?? '-'), formatMs(r.response_time_ms), r.reason ?? ''])
      cli.stdout(renderTable(moltHeader('MOLT', 'STATUS', 'PORT', 'PID', 'HTTP', 'TIME', 'REASON'), rows))
      if (!records.length) cli.log.warn(`no molts found in ${cli.baseDir().dir}`)
    } else {
      const r = records[0]!
      const detail = r.status === 'healthy' ? `HTTP ${r.http_status} in ${formatMs(r.response_time_ms)}` : (r.reason ?? '')
      cli.stdout(`${r.molt}: ${paintStatus(r.status, cli.color)} (${detail})\n`)
    }
    if (promProblem) cli.log.error(promProblem)
    // starting is within its grace: not a failure (--startup-grace 0 makes it one)
    return records.every((r) => r.status === 'healthy' || r.status === 'starting') && !promProblem ? 0 : 1
  },
})

/** `--format nagios` was asked for: any failure, a bad command line too, is the plugin's UNKNOWN. */
const wantsNagios = (argv: string[]) => argv.some((a, i) => a === '--format=nagios' || (a === '--format' && argv[i + 1] === 'nagios'))

export default Object.assign(command, {
  onUsageError(message: string, argv: string[]): number | undefined {
    if (!wantsNagios(argv)) return undefined
    const { nagiosUnknown } = require('../../../health/nagios.ts') as typeof import('../../../health/nagios.ts')
    const result = nagiosUnknown(message)
    stdout().write(result.line)
    return result.code
  },
} satisfies UsageErrorHandler)

interface CheckArgs {
  name?: string
  all?: boolean
  timeout?: string
  record?: boolean
  concurrency?: string
  'startup-grace'?: string
  json?: boolean
  'prom-file'?: string
}

/** Probe, record, and write the metrics file when asked; a metrics file that cannot be written is reported, not thrown. */
async function check(cli: RunData, args: CheckArgs): Promise<{ records: HealthRecord[]; promProblem: string | null }> {
  const timeoutMs = durationOption(args.timeout, '--timeout', { bare: 'ms', min: 1, max: 600_000 })!
  const concurrency = intOption(args.concurrency, '--concurrency', { min: 1, max: 256 })!
  const promFile = args['prom-file'] === undefined ? undefined : resolve(args['prom-file'])
  if (promFile) {
    const { promFileProblem } = await import('../../../metrics/textfile.ts')
    const problem = promFileProblem(promFile)
    if (problem) throw new UsageError(`invalid --prom-file: ${problem}`)
  }
  const { molts, all } = selectMolts(cli, { name: args.name, all: args.all })
  const fleetConfig = readFleetConfig(cli.baseDir().dir)
  for (const warning of fleetConfig.warnings) cli.log.warn(warning)
  const startupGrace = startupGraceMs(args['startup-grace'], fleetConfig.config.startup_grace)
  const results = await checkMolts(molts, { timeoutMs, record: args.record !== false, startupGraceMs: startupGrace }, concurrency)
  for (const { writeError } of results) if (writeError) cli.log.warn(writeError)
  const records = results.map((r) => r.record)
  let promProblem: string | null = null
  if (promFile) {
    const { readMoltMetrics, writeHealthTextfile } = await import('../../../metrics/fleet.ts')
    try {
      const written = await writeHealthTextfile(promFile, molts.map((molt, i) => readMoltMetrics(molt, records[i])), { all, version: VERSION })
      if (written.warning) cli.log.warn(written.warning)
    } catch (error) {
      promProblem = `cannot write the metrics file ${promFile}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`
    }
  }
  return { records, promProblem }
}

/** A Nagios/Icinga plugin run: whatever goes wrong, one line on stdout and a plugin exit code. */
async function nagios(cli: RunData, args: CheckArgs): Promise<number> {
  const { nagiosForFleet, nagiosForMolt, nagiosUnknown } = await import('../../../health/nagios.ts')
  let result: { code: number; line: string }
  try {
    if (args.json) throw new UsageError('--json and --format nagios exclude each other')
    const { records, promProblem } = await check(cli, args)
    if (promProblem) cli.log.error(promProblem)
    result = args.all ? nagiosForFleet(records) : nagiosForMolt(records[0]!)
  } catch (error) {
    // Nagios reads any other exit code as a state: a check that could not run is UNKNOWN
    result = nagiosUnknown(error instanceof ClmntError ? error.message : `internal error: ${(error as Error).message}`)
    if (!(error instanceof ClmntError) && cli.globals.verbose) process.stderr.write(`${(error as Error).stack ?? ''}\n`)
  }
  cli.stdout(result.line)
  return result.code
}
