import { UsageError, quote } from './errors.ts'

/** Parse a whole-number option strictly: "abc", "1.5", "-1", "" are usage errors, not NaN. */
export function intOption(value: string | undefined, option: string, range: { min: number; max: number }): number | undefined {
  if (value === undefined) return undefined
  if (!/^\d+$/.test(value.trim())) {
    throw new UsageError(`invalid value ${quote(value)} for ${option}: expected a whole number from ${range.min} to ${range.max}`)
  }
  const n = Number(value)
  if (n < range.min || n > range.max) {
    throw new UsageError(`invalid value ${quote(value)} for ${option}: expected a whole number from ${range.min} to ${range.max}`)
  }
  return n
}
