import { formatDuration } from '../lib/duration.ts'
import type { BackupProgress } from './backup.ts'

/** 1536 → "1.5 KiB": binary units, as du -h and ls -lh show them. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let value = bytes / 1024
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${value >= 100 ? value.toFixed(0) : value.toFixed(1)} ${units[unit]}`
}

/** 12345 → "12,345". Integers without toLocaleString: its first call loads the ICU locale data (~3 ms of a short restore). */
export function formatCount(n: number): string {
  if (!Number.isSafeInteger(n)) return n.toLocaleString('en-US')
  return String(n).replace(/\B(?=(\d{3})+$)/g, ',')
}

/** "412 MiB / 1.0 GiB  12,345 / 40,000 files  85 MiB/s  ETA 7s" */
export function progressLine(p: BackupProgress): string {
  const seconds = p.elapsedMs / 1000
  const rate = seconds > 0.2 ? p.bytesDone / seconds : 0
  const left = p.bytesTotal - p.bytesDone
  const eta = rate > 0 ? formatDuration((left / rate) * 1000) : '?'
  const percent = p.bytesTotal ? Math.floor((p.bytesDone / p.bytesTotal) * 100) : 100
  return `${percent}%  ${formatBytes(p.bytesDone)} / ${formatBytes(p.bytesTotal)}  ${formatCount(p.filesDone)} / ${formatCount(p.filesTotal)} files  ${formatBytes(rate)}/s  ETA ${eta}`
}

/** Progress on a terminal: one line rewritten in place, at most `perSecond` times a second. */
export function progressPrinter(write: (text: string) => void, perSecond = 10): { update(p: BackupProgress): void; clear(): void } {
  let last = 0
  let shown = false
  return {
    update(p) {
      const now = performance.now()
      if (now - last < 1000 / perSecond) return
      last = now
      shown = true
      write(`\r\x1b[K${progressLine(p)}`)
    },
    clear() {
      if (shown) write('\r\x1b[K')
      shown = false
    },
  }
}
