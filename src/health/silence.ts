import { lazySchema } from '../lib/schema.ts'
import { lockAlertsFile, openAlertsDir, readAlertsFile, writeAlertsFile } from '../alert/alerts-dir.ts'

/**
 * Silences (maintenance windows): `.clmnt-alerts/silences.json`. While a silence covers a molt its
 * checks are recorded as always, but its notices are held: noted in the silence, not sent. When
 * the silence ends (its time is up, or `--end`), one summary goes out: what was held, and how
 * each molt it covered is now. Plain functions over plain data; the files are read without a
 * lock (they are replaced atomically) and changed under one.
 */
export const SILENCES_FILE = 'silences.json'
/** ended silences stay listed this long (the summary's record), then go */
export const ENDED_KEEP_MS = 7 * 86_400_000
export const HELD_MAX = 200

export interface HeldNotice {
  molt: string
  kind: string
  subject: string
  at: string
}

export interface Silence {
  id: string
  /** a molt name, or "*" for the whole fleet */
  target: string
  start: string
  end: string
  reason: string | null
  by: string | null
  /** set by --end before the end */
  ended_at: string | null
  summary_at: string | null
  held: HeldNotice[]
  held_dropped: number
}

export interface SilencesFile {
  version: 1
  silences: Silence[]
}

export const silencesSchema = lazySchema((z) => {
  const time = z.string().refine((t) => !Number.isNaN(Date.parse(t)))
  const silence = z.object({
    id: z.string().regex(/^[A-Za-z0-9._-]{1,80}$/),
    target: z.string().regex(/^([a-z_][a-z0-9_-]{0,31}|\*)$/),
    start: time,
    end: time,
    reason: z.string().max(500).nullable(),
    by: z.string().max(100).nullable(),
    ended_at: time.nullable(),
    summary_at: time.nullable(),
    held: z.array(z.object({ molt: z.string(), kind: z.string(), subject: z.string(), at: time })).catch([]),
    held_dropped: z.number().int().min(0).catch(0),
  })
  return z.object({
    version: z.literal(1),
    silences: z.array(z.unknown()).transform((items) => items.flatMap((i) => {
      const parsed = silence.safeParse(i)
      return parsed.success ? [parsed.data as Silence] : []
    })),
  })
})

export const covers = (s: Silence, molt: string) => s.target === '*' || s.target === molt

/** Over: its time is up or it was ended early. */
export function isOver(s: Silence, now: number): boolean {
  return s.ended_at !== null || Date.parse(s.end) <= now
}

export function activeSilence(file: SilencesFile, molt: string, now: number): Silence | null {
  return file.silences.find((s) => covers(s, molt) && Date.parse(s.start) <= now && !isOver(s, now)) ?? null
}

export function readSilences(dir: string): { file: SilencesFile; warning?: string } {
  const text = readAlertsFile(dir, SILENCES_FILE)
  if (text === null) return { file: { version: 1, silences: [] } }
  try {
    const parsed = silencesSchema().safeParse(JSON.parse(text))
    if (parsed.success) return { file: parsed.data as SilencesFile }
  } catch {}
  return { file: { version: 1, silences: [] }, warning: `${dir}/${SILENCES_FILE} is damaged: no silence applies until it is fixed or removed` }
}

/** The silences of a base dir, for readers (status, dashboard, doctor): none when there is no folder. */
export function fleetSilences(baseDir: string): SilencesFile {
  const opened = openAlertsDir(baseDir, false)
  return 'error' in opened ? { version: 1, silences: [] } : readSilences(opened.dir).file
}

/** Read, change, write back, under the file's lock. */
export async function updateSilences<T>(dir: string, change: (file: SilencesFile) => T): Promise<T> {
  silencesSchema()
  const lock = await lockAlertsFile(dir, SILENCES_FILE, 'silences', 30_000)
  if (!lock) throw new Error(`${dir}/${SILENCES_FILE} stayed locked for 30 s`)
  try {
    const { file } = readSilences(dir)
    const result = change(file)
    writeAlertsFile(dir, SILENCES_FILE, `${JSON.stringify(file, null, 2)}\n`)
    return result
  } finally {
    lock.release()
  }
}

export function newSilence(target: string, now: number, durationMs: number, reason: string | null, by: string | null): Silence {
  const start = new Date(now).toISOString()
  return {
    id: `${target === '*' ? 'all' : target}.${start.replace(/[^0-9TZ]/g, '')}`,
    target,
    start,
    end: new Date(now + durationMs).toISOString(),
    reason,
    by,
    ended_at: null,
    summary_at: null,
    held: [],
    held_dropped: 0,
  }
}

export function holdNotice(s: Silence, notice: HeldNotice): void {
  if (s.held.length >= HELD_MAX) s.held_dropped += 1
  else s.held.push(notice)
}

/** Ended silences long past their summary are forgotten. */
export function pruneSilences(file: SilencesFile, now: number): void {
  file.silences = file.silences.filter((s) => !(isOver(s, now) && s.summary_at && now - Date.parse(s.summary_at) > ENDED_KEEP_MS))
}

export function describeTarget(s: Silence): string {
  return s.target === '*' ? 'the whole fleet' : `molt ${s.target}`
}

/** Silence several molts at once (fleet restore, planned upgrades); an active silence of one is extended, its held notices kept. */
export async function silenceMolts(baseDir: string, names: string[], durationMs: number, reason: string, by: string | null, now = Date.now()): Promise<Silence[]> {
  const opened = openAlertsDir(baseDir)
  if ('error' in opened) throw new Error(opened.error)
  return updateSilences(opened.dir, (file) => {
    pruneSilences(file, now)
    const added: Silence[] = []
    for (const name of names) {
      const silence = newSilence(name, now, durationMs, reason, by)
      for (const s of file.silences) if (s.target === name && !isOver(s, now)) {
        if (Date.parse(s.end) > now + durationMs) silence.end = s.end
        silence.held.push(...s.held)
        silence.start = s.start
        s.ended_at = new Date(now).toISOString()
        s.summary_at = new Date(now).toISOString()
      }
      file.silences.push(silence)
      added.push(silence)
    }
    return added
  })
}
