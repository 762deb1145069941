import { defineCommand } from 'citty'
import { checkMolts } from '../../../health/check.ts'
import { formatMs, paintStatus } from '../../../health/render.ts'
import { intOption } from '../../../lib/numbers.ts'
import { renderTable } from '../../../lib/table.ts'
import type { RunData } from '../../../runner.ts'
import { jsonArg, moltOrAllArgs, printJson, selectMolts } from '../../_shared.ts'

export default defineCommand({
  meta: { name: 'check', description: "Check a molt's gateway now (PID + GET /health) and record the result" },
  args: {
    ...moltOrAllArgs,
    timeout: { type: 'string', valueHint: 'ms', default: '5000', description: 'HTTP timeout covering connect and response, 1-600000' },
    record: { type: 'boolean', default: true, description: 'record the result', negativeDescription: 'probe only: write no status or history' },
    concurrency: { type: 'string', valueHint: 'n', default: '16', description: 'with --all: molts checked at once, 1-256' },
    ...jsonArg,
  },
  async run({ args, data }) {
    const cli: RunData = data
    const timeoutMs = intOption(args.timeout, '--timeout', { min: 1, max: 600_000 })!
    const concurrency = intOption(args.concurrency, '--concurrency', { min: 1, max: 256 })!
    const { molts, all } = selectMolts(cli, { name: args.name, all: args.all })
    const results = await checkMolts(molts, { timeoutMs, record: args.record !== false }, concurrency)
    for (const { writeError } of results) if (writeError) cli.log.warn(writeError)
    const records = results.map((r) => r.record)

    if (args.json) printJson(cli, all ? records : records[0])
    else if (all) {
      const rows = records.map((r) => [r.molt ?? '', paintStatus(r.status, cli.color), String(r.port ?? '-'), String(r.pid ?? '-'), String(r.http_status ?? '-'), formatMs(r.response_time_ms), r.reason ?? ''])
      cli.stdout(renderTable(['MOLT', 'STATUS', 'PORT', 'PID', 'HTTP', 'TIME', 'REASON'], rows))
      if (!molts.length) cli.log.warn(`no molts found in ${cli.baseDir().dir}`)
    } else {
      const r = records[0]!
      const detail = r.status === 'healthy' ? `HTTP ${r.http_status} in ${formatMs(r.response_time_ms)}` : (r.reason ?? '')
      cli.stdout(`${r.molt}: ${paintStatus(r.status, cli.color)} (${detail})\n`)
    }
    return records.every((r) => r.status === 'healthy') ? 0 : 1
  },
})
