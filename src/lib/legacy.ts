import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { readHomeFile, safeFsMessage } from './safe-read.ts'

/**
 * Coercions for files written by the earlier bash toolkit, which stored every value as a string:
 * "1234", "null", "" and curl's "000" for "no HTTP answer". Used inside zod preprocess steps.
 */
const NULLISH = new Set(['', 'null', 'none', 'undefined', 'n/a', '-'])

/** number | numeric string → number; "null"/""/non-numeric → null. Never turns null into 0. */
export function legacyNumber(value: unknown): number | null {
  if (typeof value === 'number') return Number.isFinite(value) ? value : null
  if (typeof value !== 'string') return null
  const text = value.trim()
  if (NULLISH.has(text.toLowerCase())) return null
  if (!/^-?\d+(\.\d+)?$/.test(text)) return null
  return Number(text)
}

/** An HTTP status: curl writes "000" (doubled to "000000" by `|| echo 000`) when nothing answered. */
export function legacyHttpStatus(value: unknown): number | null {
  const n = legacyNumber(value)
  return n !== null && Number.isInteger(n) && n >= 100 && n <= 599 ? n : null
}

/** Text that legacyString keeps as it is: trimmed, and none of the bash toolkit's ways to say null. */
export function isPlainText(value: string): boolean {
  return value === value.trim() && !NULLISH.has(value.toLowerCase())
}

export function legacyString(value: unknown): string | null {
  if (value === null || value === undefined) return null
  const text = String(value).trim()
  return NULLISH.has(text.toLowerCase()) ? null : text
}

export function legacyBoolean(value: unknown): boolean {
  if (typeof value === 'boolean') return value
  if (typeof value === 'number') return value !== 0
  if (typeof value === 'string') return ['true', '1', 'yes'].includes(value.trim().toLowerCase())
  return false
}

/**
 * The bash toolkit could write `"alert_sent": ,` when a variable was empty. Parse JSON; when that
 * fails, fill such holes (outside strings) with null and try once more. Throws when still invalid.
 */
export function parseLegacyJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return JSON.parse(fillEmptyJsonValues(text))
  }
}

export function fillEmptyJsonValues(text: string): string {
  let out = ''
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!
    out += c
    if (inString) {
      if (c === '\\') out += text[++i] ?? ''
      else if (c === '"') inString = false
    } else if (c === '"') inString = true
    else if (c === ':' && /^\s*[,}\]]/.test(text.slice(i + 1, i + 64))) out += ' null'
  }
  return out
}

/**
 * A JSON state file that may be missing, empty, corrupt or in the bash toolkit's format.
 * Missing is normal (no warning); anything unusable is a warning for the operator, never a throw.
 */
export function readJsonState(path: string): { raw?: unknown; warning?: string } {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    return code === 'ENOENT' ? {} : { warning: `cannot read ${path}: ${code}` }
  }
  return parseJsonState(text, path)
}

/** The same for a file inside a molt home: read without following links, capped (see safe-fs.ts). */
export function readHomeJsonState(home: string, rel: string): { raw?: unknown; warning?: string } {
  let text: string | null
  try {
    text = readHomeFile(home, rel)
  } catch (error) {
    return { warning: safeFsMessage(error, join(home, rel)) }
  }
  return text === null ? {} : parseJsonState(text, join(home, rel))
}

function parseJsonState(text: string, path: string): { raw?: unknown; warning?: string } {
  if (text.trim() === '') return { warning: `${path} is empty` }
  try {
    return { raw: parseLegacyJson(text) }
  } catch {
    return { warning: `${path} is not valid JSON (corrupt)` }
  }
}
