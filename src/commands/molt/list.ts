import { defineCommand } from 'citty'
import { discoverFleet } from '../../fleet/discover.ts'
import { summarizeMolts } from '../../fleet/list.ts'
import { paintStatus } from '../../health/render.ts'
import { formatAgo } from '../../lib/duration.ts'
import { moltHeader, renderTable } from '../../lib/table.ts'
import type { RunData } from '../../runner.ts'
import { jsonArg, printJson } from '../_shared.ts'

export default defineCommand({
  meta: { name: 'list', description: 'List the molts of the fleet: port, home, gateway process, last health' },
  args: { ...jsonArg },
  async run({ args, data }) {
    const cli: RunData = data
    const { dir } = cli.baseDir()
    const fleet = discoverFleet(dir)
    for (const warning of fleet.warnings) cli.log.warn(warning)
    for (const molt of fleet.molts) for (const warning of molt.warnings) cli.log.warn(`${molt.name}: ${warning}`)
    const now = Date.now()
    const rows = summarizeMolts(fleet.molts, now)
    if (args.json) {
      printJson(cli, rows)
      return 0
    }
    if (!rows.length) {
      cli.log.warn(`no molts in ${dir} (no molts.json entries, no folders with .molt-info)`)
      return 0
    }
    const table = rows.map((m) => [
      m.name,
      m.health ? paintStatus(m.health, cli.color) : '-',
      String(m.port ?? '?'),
      String(m.pid ?? '-'),
      m.gateway,
      m.checked_at ? formatAgo(Date.parse(m.checked_at), now) : 'never',
      m.home,
    ])
    cli.stdout(renderTable(moltHeader('MOLT', 'STATUS', 'PORT', 'PID', 'GATEWAY', 'CHECKED', 'HOME'), table))
    const unknown = rows.filter((m) => m.gateway === 'unknown').length
    if (unknown) cli.log.warn(`permission denied: ${unknown} molt home(s) cannot be read as this user, so their gateways show as unknown: run as root`)
    return 0
  },
})
