/**
 * The dead man's switch: after each watch run, a ping to an outside monitor (the Healthchecks.io
 * convention, also understood by Uptime Kuma push monitors and Cronitor): the URL itself when the
 * run did its job, `<url>/fail` when it did not (a notice undelivered, a file unwritable). The
 * outside service mails when the pings stop: the one failure clmnt cannot report itself is clmnt
 * not running. The body is the run's log line (Healthchecks shows it); a ping never blocks a run
 * for more than its timeout, and its failure only warns.
 */
export const HEARTBEAT_TIMEOUT_MS = 5_000

/** `/fail` goes onto the path, before any query string (Healthchecks' ?rid= and the like). */
export function heartbeatTarget(value: string, ok: boolean): string {
  if (ok) return value
  const url = new URL(value)
  url.pathname = `${url.pathname.replace(/\/+$/, '')}/fail`
  return url.toString()
}

export async function pingHeartbeat(value: string, ok: boolean, body: string, timeoutMs = HEARTBEAT_TIMEOUT_MS): Promise<{ ok: true } | { ok: false; error: string }> {
  const target = heartbeatTarget(value, ok)
  const controller = new AbortController()
  const timer = setTimeout(() => controller.abort(), timeoutMs)
  try {
    const response = await fetch(target, {
      method: 'POST',
      body: body.slice(0, 10_000),
      headers: { 'content-type': 'text/plain; charset=utf-8', 'user-agent': 'clmnt-health' },
      signal: controller.signal,
      redirect: 'follow',
    })
    await response.arrayBuffer().catch(() => undefined)
    return response.ok ? { ok: true } : { ok: false, error: `${redact(target)} answered HTTP ${response.status}` }
  } catch (error) {
    if (controller.signal.aborted) return { ok: false, error: `${redact(target)} gave no answer within ${Math.round(timeoutMs / 1000)} s` }
    return { ok: false, error: `${redact(target)}: ${(error as Error).message.replace(/[\r\n]+/g, ' ')}` }
  } finally {
    clearTimeout(timer)
  }
}

/** Ping URLs are secrets of a sort (anyone holding one can ping): logs show the host only. */
export function redact(value: string): string {
  try {
    const url = new URL(value)
    return `${url.protocol}//${url.host}/…`
  } catch {
    return 'the heartbeat URL'
  }
}
