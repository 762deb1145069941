import { defineCommand } from 'citty'
import { discoverFleet } from '../../fleet/discover.ts'
import { summarizeMolts } from '../../fleet/list.ts'
import { paintStatus } from '../../health/render.ts'
import { formatAgo } from '../../lib/duration.ts'
import { renderTable } from '../../lib/table.ts'
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
      String(m.port ?? '?'),
      m.gateway,
      String(m.pid ?? '-'),
      m.health ? paintStatus(m.health, cli.color) : '-',
      m.checked_at ? formatAgo(Date.parse(m.checked_at), now) : 'never',
      m.home,
    ])
    cli.stdout(renderTable(['NAME', 'PORT', 'GATEWAY', 'PID', 'HEALTH', 'CHECKED', 'HOME'], table))
    return 0
  },
})
