import type { Dispatcher } from '../alert/deliver.ts'
import type { NoticeSender } from '../alert/fleet-queue.ts'
import { alertsDir, readAlertsFile } from '../alert/alerts-dir.ts'
import type { RenderedNotice } from '../alert/message.ts'
import { formatDuration } from '../lib/duration.ts'
import { SILENCES_FILE, type Silence } from './silence.ts'
import { sendFleetNotice } from './watch-host.ts'
import type { Notice, WatchFile } from './watch-types.ts'

/**
 * The watch run's side of silences: notices of a silenced molt are held (noted in the silence,
 * taken out of the molt's outbox); a silence that is over gets its summary sent by the first run
 * that sees it (claimed under the file's lock, so once), through the fleet outbox when digests
 * are on. Runs without silences only stat one small file.
 */
export interface HeldResult {
  state: WatchFile
  silence: Silence | null
  held: Notice[]
}

/** The active silence over this molt, read without zod when there is none (the common case). */
export async function silenceFor(baseDir: string, molt: string, now: number): Promise<{ silence: Silence | null; warning?: string }> {
  if (!quickRead(baseDir)) return { silence: null }
  const { readSilences, activeSilence } = await import('./silence.ts')
  const { file, warning } = readSilences(alertsDir(baseDir))
  return { silence: activeSilence(file, molt, now), warning }
}

export async function holdNotices(baseDir: string, state: WatchFile, silence: Silence, render: (n: Notice) => RenderedNotice, molt: string, now: number): Promise<HeldResult> {
  const held = state.outbox.filter((n) => !Object.keys(n.delivered).length)
  if (!held.length) return { state, silence, held }
  const { updateSilences, holdNotice } = await import('./silence.ts')
  await updateSilences(alertsDir(baseDir), (file) => {
    const s = file.silences.find((x) => x.id === silence.id)
    if (!s) return
    for (const n of held) holdNotice(s, { molt, kind: n.kind, subject: render(n).subject, at: n.created_at })
  })
  const next = structuredClone(state)
  next.outbox = next.outbox.filter((n) => !held.some((h) => h.id === n.id))
  return { state: next, silence, held }
}

/** A silence is over and its summary not sent yet (read without zod: every run asks). */
export function summaryDue(baseDir: string, now: number): boolean {
  const text = quickRead(baseDir)
  if (!text) return false
  try {
    const raw = JSON.parse(text) as { silences?: { end?: string; ended_at?: string | null; summary_at?: string | null }[] }
    return Boolean(raw.silences?.some((s) => !s.summary_at && (s.ended_at || Date.parse(s.end ?? '') <= now)))
  } catch {
    return false
  }
}

/** Summaries of silences that are over and not yet summarised; each claimed by exactly one run. */
export async function sendSilenceSummaries(baseDir: string, now: number, sender: NoticeSender, dispatcher: Dispatcher, channels: string[], problems: string[]): Promise<string[]> {
  const { updateSilences, isOver } = await import('./silence.ts')
  const claimed = await updateSilences(alertsDir(baseDir), (file) => {
    const due = file.silences.filter((s) => isOver(s, now) && !s.summary_at)
    for (const s of due) s.summary_at = new Date(now).toISOString()
    return structuredClone(due)
  })
  const sent: string[] = []
  const { fleetPicture } = await import('../alert/digest.ts')
  const picture = fleetPicture(baseDir)
  const host = dispatcher.context.host
  for (const s of claimed) {
    const rendered = summaryOf(s, picture, dispatcher.context.extra?.clmnt as string | undefined)
    const notice = { key: `silence/${s.id}`, kind: 'silence-ended', rendered, messageId: `<clmnt.silence.${s.id}@${host}>`, at: new Date(now).toISOString(), title: `clmnt health: silence ${s.id} ended`, what: `the summary of silence ${s.id}` }
    if (await sendFleetNotice(sender, dispatcher, channels, notice, problems)) sent.push(s.id)
    else await updateSilences(alertsDir(baseDir), (file) => {
      // try again on the next run
      const back = file.silences.find((x) => x.id === s.id)
      if (back) back.summary_at = null
    })
  }
  return sent
}

export function summaryOf(s: Silence, picture: { total: number; down: { name: string; since: string }[] }, clmnt = 'clmnt'): RenderedNotice {
  const target = s.target === '*' ? 'the whole fleet' : `molt ${s.target}`
  const ended = s.ended_at ? `ended early at ${utc(s.ended_at)}` : `ended at ${utc(s.end)}`
  const covered = s.target === '*' ? picture.down : picture.down.filter((d) => d.name === s.target)
  const count = s.held.length + s.held_dropped
  const now_ = s.target === '*'
    ? covered.length ? `${covered.length} of ${picture.total} molts DOWN (${covered.map((d) => d.name).join(', ')})` : `all ${picture.total} molts up`
    : covered.length ? `${s.target} is DOWN` : `${s.target} is up`
  const lines = [
    `The silence on ${target} ${ended} (it began ${utc(s.start)}, ${formatDuration(Date.parse(s.ended_at ?? s.end) - Date.parse(s.start))}).`,
    s.reason ? `Reason: ${s.reason}` : '',
    '',
    count ? `${count} notice(s) were held during it:` : 'No notice was held during it.',
    ...s.held.map((h) => `  ${utc(h.at)}  ${h.subject.replace(/^\[Claw Mountain\] /, '')}`),
    s.held_dropped ? `  … and ${s.held_dropped} more` : '',
    '',
    `Now: ${now_}.`,
    ...covered.map((d) => `  ${d.name} DOWN since ${utc(d.since)}`),
    '',
    'What to run next:',
    `  ${clmnt} molt health status --all`,
  ].filter((l, i, all) => l !== '' || (i > 0 && all[i - 1] !== ''))
  return { subject: `[Claw Mountain] silence on ${target} over: ${count} notice(s) held; ${now_}`, body: `${lines.join('\n').trim()}\n` }
}

function quickRead(baseDir: string): string | null {
  try {
    return readAlertsFile(alertsDir(baseDir), SILENCES_FILE)
  } catch {
    return null
  }
}

function utc(at: string): string {
  return `${new Date(at).toISOString().slice(0, 16).replace('T', ' ')} UTC`
}

