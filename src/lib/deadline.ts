import type { ChildProcess } from 'node:child_process'

/**
 * Kill a child started with `detached: true` — its whole process group, so a shell script's own
 * children go too — when it outlives `ms`. A hung msmtp or restart command must not outlive the
 * watch run's time budget (cron would pile runs up).
 */
export function killGroupAfter(child: ChildProcess, ms: number): { readonly timedOut: boolean; cancel(): void } {
  let timedOut = false
  const timer = setTimeout(() => {
    timedOut = true
    try {
      process.kill(-child.pid!, 'SIGKILL')
    } catch {}
  }, ms)
  return {
    get timedOut() {
      return timedOut
    },
    cancel: () => clearTimeout(timer),
  }
}
