/**
 * Mail addresses as clmnt accepts them: a plain `local@domain` (dot-atom local part, DNS labels),
 * nothing a header could be split with. Quoted local parts and IP literals are refused: an alert
 * address is configured once by an operator, and a strict rule keeps every header injection out.
 */
const ATEXT = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
const LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?'
const ADDRESS = new RegExp(`^${ATEXT}(?:\\.${ATEXT})*@${LABEL}(?:\\.${LABEL})*$`)

export function isMailAddress(value: string): boolean {
  return value.length <= 254 && ADDRESS.test(value)
}

export interface Mailbox {
  /** display name, already free of quotes, backslashes and control characters */
  name: string | null
  address: string
}

/** `addr` or `Display Name <addr>`; null when it is neither. */
export function parseMailbox(value: string): Mailbox | null {
  const text = value.trim()
  if (isMailAddress(text)) return { name: null, address: text }
  const match = /^([^"<>\\\x00-\x1f\x7f]{1,64}?)\s*<([^<>]+)>$/.exec(text)
  if (!match || !isMailAddress(match[2]!)) return null
  return { name: match[1]!.trim() || null, address: match[2]! }
}
