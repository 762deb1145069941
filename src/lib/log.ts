/**
 * Logging to stderr, so stdout carries only data (tables, JSON).
 * Not consola: it costs ~20 ms to import and `health watch` starts from cron for every molt
 * every few minutes; and its prompt hangs under Bun when stdin is no terminal, while clmnt's one
 * question (restore's y/N) is a line read that needs nothing more. So clmnt does not depend on it.
 */
import { isTerminal } from './stdio.ts'

export type Level = 'quiet' | 'normal' | 'verbose'

export interface Logger {
  level: Level
  color: boolean
  error(message: string): void
  warn(message: string): void
  info(message: string): void
  success(message: string): void
  debug(message: string): void
}

export function createLogger(options: { level: Level; color: boolean; write?: (text: string) => void }): Logger {
  const write = options.write ?? ((text: string) => process.stderr.write(text))
  const paint = (code: number, text: string) => (options.color ? `\x1b[${code}m${text}\x1b[39m` : text)
  return {
    level: options.level,
    color: options.color,
    error: (m) => write(`${paint(31, 'error')} ${m}\n`),
    warn: (m) => options.level !== 'quiet' && write(`${paint(33, 'warn')} ${m}\n`),
    info: (m) => options.level !== 'quiet' && write(`${m}\n`),
    success: (m) => options.level !== 'quiet' && write(`${paint(32, '✓')} ${m}\n`),
    debug: (m) => options.level === 'verbose' && write(`${paint(90, `debug ${m}`)}\n`),
  }
}

/** Colour for stdout tables and stderr's messages: only on a terminal, never with NO_COLOR or --no-color. */
export function wantColor(flagNoColor: boolean, fd: 1 | 2): boolean {
  if (flagNoColor) return false
  if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '') return false
  if (process.env.FORCE_COLOR === '1' || process.env.FORCE_COLOR === 'true') return true
  return isTerminal(fd) && process.env.TERM !== 'dumb'
}
