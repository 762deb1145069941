import { defineCommand } from 'citty'
import { userInfo } from 'node:os'
import { openAlertsDir } from '../../../alert/alerts-dir.ts'
import { describeTarget, isOver, newSilence, pruneSilences, readSilences, updateSilences, type Silence } from '../../../health/silence.ts'
import { formatDuration, requireDuration } from '../../../lib/duration.ts'
import { ClmntError, UsageError } from '../../../lib/errors.ts'
import { renderTable } from '../../../lib/table.ts'
import type { RunData } from '../../../runner.ts'
import { jsonArg, oneMolt, printJson } from '../../_shared.ts'

/** A silence longer than this is a monitoring switched off, not maintenance: say so with `molt health setup --remove`. */
const MAX_SILENCE_MS = 30 * 86_400_000

export default defineCommand({
  meta: { name: 'silence', description: 'Hold the alerts of a molt (or the fleet) for a while: checks go on, one summary when it ends' },
  args: {
    name: { type: 'positional', required: false, description: 'molt name (or --all)' },
    duration: { type: 'positional', required: false, description: 'how long, e.g. 30m, 2h, 1d (at most 30d)' },
    all: { type: 'boolean', description: 'the whole fleet' },
    reason: { type: 'string', valueHint: 'text', description: 'why (shown in status, on the dashboard and in the summary)' },
    list: { type: 'boolean', description: 'list active silences and those ended in the last 7 days' },
    end: { type: 'boolean', description: 'end the active silences of the molt (or of the fleet with --all) now' },
    ...jsonArg,
  },
  async run({ args, data }) {
    const cli: RunData = data
    const baseDir = cli.baseDir().dir
    const now = Date.now()
    let name = args.name
    let duration = args.duration
    // `silence --all 2h`: the one word is the duration
    if (args.all && name && !duration && !args.end) [name, duration] = [undefined, name]
    if (args.list) {
      if (name || args.all || args.end) throw new UsageError('--list takes no molt, --all or --end')
      const opened = openAlertsDir(baseDir, false)
      const silences = 'error' in opened ? [] : readSilences(opened.dir).file.silences
      if (args.json) printJson(cli, silences.map((s) => ({ ...s, state: stateOf(s, now) })))
      else cli.stdout(silences.length ? listing(silences, now) : 'no silences\n')
      return 0
    }
    if (args.all && name) throw new UsageError('give a molt name or --all, not both')
    if (!args.all && !name) throw new UsageError('missing molt name (or --all)')
    const target = args.all ? '*' : oneMolt(cli, name!).name
    const opened = openAlertsDir(baseDir)
    if ('error' in opened) throw new ClmntError(opened.error)

    if (args.end) {
      if (duration) throw new UsageError('--end takes no duration')
      const ended = await updateSilences(opened.dir, (file) => {
        const active = file.silences.filter((s) => s.target === target && !isOver(s, now))
        for (const s of active) s.ended_at = new Date(now).toISOString()
        return active
      })
      if (!ended.length) throw new ClmntError(`no active silence on ${target === '*' ? 'the whole fleet' : `molt ${target}`}`)
      if (args.json) printJson(cli, ended)
      else for (const s of ended) cli.stdout(`ended silence ${s.id} on ${describeTarget(s)}; the next watch run sends its summary (${s.held.length} notice(s) held)\n`)
      return 0
    }

    if (!duration) throw new UsageError('missing duration, e.g. 2h')
    const ms = requireDuration(duration, 'the duration')
    if (ms > MAX_SILENCE_MS) throw new UsageError(`a silence of ${duration} is longer than 30d: remove the schedule instead (clmnt molt health setup ${target === '*' ? '--all' : target} --remove)`)
    const reason = args.reason?.replace(/[\x00-\x1f\x7f]+/g, ' ').trim().slice(0, 500) || null
    const silence = newSilence(target, now, ms, reason, byWhom())
    await updateSilences(opened.dir, (file) => {
      pruneSilences(file, now)
      // a new silence replaces an active one on the same target: its held notices are kept
      for (const s of file.silences) if (s.target === target && !isOver(s, now)) {
        silence.held.push(...s.held)
        silence.start = s.start
        s.ended_at = new Date(now).toISOString()
        s.summary_at = new Date(now).toISOString()
      }
      file.silences.push(silence)
    })
    if (args.json) printJson(cli, silence)
    else cli.stdout(`silenced ${describeTarget(silence)} until ${utc(silence.end)} (${formatDuration(ms)})${reason ? `: ${reason}` : ''}\nchecks go on; alerts are held and summarised when it ends (end it early: clmnt molt health silence ${target === '*' ? '--all' : target} --end)\n`)
    return 0
  },
})

function stateOf(s: Silence, now: number): 'active' | 'ended' {
  return isOver(s, now) ? 'ended' : 'active'
}

function listing(silences: Silence[], now: number): string {
  const rows = silences.map((s) => [
    s.target === '*' ? '--all' : s.target,
    stateOf(s, now),
    utc(s.start),
    utc(s.ended_at ?? s.end),
    String(s.held.length + s.held_dropped),
    s.reason ?? '',
  ])
  return renderTable(['TARGET', 'STATE', 'FROM', 'UNTIL', 'HELD', 'REASON'], rows)
}

function byWhom(): string | null {
  try {
    return process.env.SUDO_USER || userInfo().username
  } catch {
    return null
  }
}

function utc(at: string): string {
  return `${new Date(at).toISOString().slice(0, 16).replace('T', ' ')} UTC`
}
