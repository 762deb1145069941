/**
 * The dashboard page's first paint in Chromium: from navigation to the whole molt list on screen
 * (cards, then the table), at `--molts` molts (default 500) against the same page at 20 molts
 * measured in the same run (the ratio shows what the fleet's size costs). The fleet is state files
 * only (test/helpers/browser.ts stateFleet); the server is the real one, in this process.
 * `--shots DIR` also writes screenshots of both views at 20 and 200 molts there.
 *
 *   bun scripts/bench/dashboard-paint.ts [--molts 500] [--runs 5] [--shots /tmp/clmnt-shots]
 */
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import type { Browser } from 'playwright-core'
import { startDashboard } from '../../src/dashboard/server.ts'
import { launchBrowser, stateFleet } from '../../test/helpers/browser.ts'

const { values } = parseArgs({ options: { molts: { type: 'string', default: '500' }, runs: { type: 'string', default: '5' }, shots: { type: 'string' } } })
const MOLTS = Number(values.molts)
const RUNS = Number(values.runs)

type View = 'cards' | 'table'

async function withFleet<T>(count: number, fn: (url: string) => Promise<T>): Promise<T> {
  const fleet = stateFleet(count)
  const server = await startDashboard({ baseDir: fleet.baseDir, host: '127.0.0.1', port: 0, token: null })
  try {
    return await fn(server.url)
  } finally {
    await server.stop()
    fleet.cleanup()
  }
}

/** Milliseconds from navigation start to the first frame with every molt of the list drawn. */
async function paint(browser: Browser, url: string, count: number, view: View): Promise<number> {
  const context = await browser.newContext({ viewport: { width: 1440, height: 1000 } })
  await context.addInitScript((v) => localStorage.setItem('clmnt-dashboard-view', v), view)
  const page = await context.newPage()
  // the page marks the frame itself: a polling wait would add its own interval
  await page.addInitScript((n) => {
    const seen = () => document.querySelectorAll('#molts .card, #molts tr.row').length >= n
    const observer = new MutationObserver(() => {
      if (!seen()) return
      observer.disconnect()
      requestAnimationFrame(() => setTimeout(() => ((window as { __painted?: number }).__painted = performance.now())))
    })
    document.addEventListener('DOMContentLoaded', () => observer.observe(document.getElementById('molts')!, { childList: true, subtree: true }))
  }, count)
  await page.goto(url)
  const ms = (await (await page.waitForFunction(() => (window as { __painted?: number }).__painted, undefined, { timeout: 60_000 })).jsonValue()) as number
  await context.close()
  return ms
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

async function measure(browser: Browser, count: number): Promise<Record<View, number[]>> {
  return withFleet(count, async (url) => {
    await paint(browser, url, count, 'cards') // warm: the server's first snapshot, the bundle
    const out: Record<View, number[]> = { cards: [], table: [] }
    for (let r = 0; r < RUNS; r++) for (const view of ['cards', 'table'] as const) out[view].push(await paint(browser, url, count, view))
    return out
  })
}

async function screenshots(browser: Browser, dir: string): Promise<void> {
  for (const count of [20, 200]) {
    await withFleet(count, async (url) => {
      for (const view of ['cards', 'table'] as const) {
        const context = await browser.newContext({ viewport: { width: 1440, height: 1000 }, colorScheme: 'light' })
        await context.addInitScript((v) => localStorage.setItem('clmnt-dashboard-view', v), view)
        const page = await context.newPage()
        await page.goto(url)
        await page.waitForFunction((n) => document.querySelectorAll('#molts .card, #molts tr.row').length >= n, count)
        await page.locator('.timeline .bar').first().waitFor()
        const path = join(dir, `dashboard-${count}-${view}.png`)
        await page.screenshot({ path })
        console.log(`  wrote ${path}`)
        await context.close()
      }
    })
  }
}

const { browser, close } = await launchBrowser()
try {
  if (values.shots) {
    console.log(`screenshots in ${values.shots}:`)
    await screenshots(browser, values.shots)
  }
  const ref = await measure(browser, 20)
  const big = await measure(browser, MOLTS)
  console.log(`\nfirst paint of the whole molt list, Chromium 1440×1000, median of ${RUNS}:`)
  for (const view of ['cards', 'table'] as const) {
    const a = median(big[view])
    const b = median(ref[view])
    console.log(`  ${view.padEnd(5)}: ${MOLTS} molts ${a.toFixed(0)} ms   reference 20 molts ${b.toFixed(0)} ms   ratio ${(a / b).toFixed(1)}×   (runs: ${big[view].map((x) => x.toFixed(0)).join(', ')})`)
  }
} finally {
  await close()
}
