import { InputError, quote } from '../lib/errors.ts'

/** Molt names are Linux user names; checked before any path is built from them. */
export const MOLT_NAME_PATTERN = /^[a-z_][a-z0-9_-]{0,31}$/

export function isMoltName(name: string): boolean {
  return MOLT_NAME_PATTERN.test(name)
}

export function assertMoltName(name: string): string {
  if (!isMoltName(name)) {
    throw new InputError(
      `invalid molt name ${quote(name)}: a molt name is a Linux user name (a-z or _, then up to 31 of a-z 0-9 _ -)`,
    )
  }
  return name
}
