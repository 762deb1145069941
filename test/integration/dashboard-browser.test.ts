import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { copyFileSync, mkdirSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Browser, BrowserContextOptions, Page } from 'playwright-core'
import { formatMs } from '../../src/dashboard/page/format.ts'
import { startDashboard, type Dashboard } from '../../src/dashboard/server.ts'
import type { MoltsResponse, SeriesResponse } from '../../src/dashboard/types.ts'
import { dashboardFleet, FIXTURE, HOUR, launchBrowser, MIN, PLANTED, stateFleet, stateFleetKind, stateFleetName } from '../helpers/browser.ts'
import { runCli } from '../helpers/cli.ts'
import { removeDir, tempDir, writeState } from '../helpers/fleet.ts'

// The page in a real browser: Debian's Chromium driven by playwright-core. A missing Chromium fails
// these tests (launchBrowser says which package to install); it never skips them.

const TOKEN = 'browser-test-token-0123456789-Kq8ZrWx3'
let fleet: Awaited<ReturnType<typeof dashboardFleet>>
let server: Dashboard
let browser: Browser
let closeBrowser: () => Promise<void>
let shots: string
const pageErrors: string[] = []

beforeAll(async () => {
  shots = tempDir('clmnt-dashboard-shots-')
  fleet = await dashboardFleet()
  const backup = await runCli(['fleet', 'backup', '-q', '-d', fleet.baseDir])
  if (backup.code !== 0) throw new Error(`backup failed: ${backup.stderr}`)
  writeFileSync(join(fleet.baseDir, 'backups', 'broken.tar.gz'), 'not an archive')
  server = await startDashboard({ baseDir: fleet.baseDir, host: '127.0.0.1', port: 0, token: null, checkTimeoutMs: 1000 })
  ;({ browser, close: closeBrowser } = await launchBrowser())
}, 60_000)

afterAll(async () => {
  await closeBrowser?.()
  await server?.stop()
  fleet?.cleanup()
  removeDir(shots)
})

/** A fresh context (own cookies, scheme, viewport) with a page that records script errors. */
async function open(options: BrowserContextOptions = {}, url = server.url): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, colorScheme: 'light', ...options })
  const page = await context.newPage()
  page.on('pageerror', (error) => pageErrors.push(error.message))
  page.on('console', (message) => {
    if (message.type() === 'error') pageErrors.push(message.text())
  })
  // an alert() would mean planted markup ran
  page.on('dialog', (dialog) => {
    pageErrors.push(`a ${dialog.type()} dialog opened: ${dialog.message()}`)
    void dialog.dismiss()
  })
  await page.goto(url)
  return page
}

async function loaded(page: Page): Promise<void> {
  await page.locator('.card').first().waitFor()
  await page.locator('.backup').first().waitFor()
}

/** Saved under the test's temp folder; CLMNT_SCREENSHOT_DIR keeps a copy for a person to look at. */
async function screenshot(page: Page, name: string, fullPage = true): Promise<string> {
  const path = join(shots, `${name}.png`)
  await page.screenshot({ path, fullPage })
  const keep = process.env.CLMNT_SCREENSHOT_DIR
  if (keep) {
    mkdirSync(keep, { recursive: true })
    copyFileSync(path, join(keep, `dashboard-${name}.png`))
  }
  return path
}

/** The summary's counts, as their buttons read (the glyph left out). */
const summary = async (page: Page) => (await page.locator('#summary .count').allInnerTexts()).map((t) => t.replace(/^\W+/, '').trim())
const shownMolts = (page: Page) => page.locator('#molts [data-molt]').evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.molt))
const PROBLEMS_FIRST = ['delta', 'bravo', 'charlie', 'golf', 'hotel', 'echo', 'alpha']

const card = (page: Page, name: string) => page.locator(`.card[data-molt="${name}"]`)
const badgeText = async (page: Page, name: string) => (await card(page, name).locator('.card-head .badge').innerText()).replace(/^\W+/, '').trim()

function rgb(css: string): [number, number, number] {
  const m = /rgba?\((\d+), (\d+), (\d+)/.exec(css)
  if (!m) throw new Error(`not a colour: ${css}`)
  return [Number(m[1]), Number(m[2]), Number(m[3])]
}

/** Which colour it is, told apart the way a person would: saturation, then hue (HSL). */
function hueOf(css: string): 'green' | 'amber' | 'red' | 'grey' | 'other' {
  const [r, g, b] = rgb(css).map((v) => v / 255) as [number, number, number]
  const max = Math.max(r, g, b)
  const min = Math.min(r, g, b)
  const l = (max + min) / 2
  const s = max === min ? 0 : (max - min) / (1 - Math.abs(2 * l - 1))
  if (s < 0.25) return 'grey'
  const d = max - min
  const h = (max === r ? ((g - b) / d + 6) % 6 : max === g ? (b - r) / d + 2 : (r - g) / d + 4) * 60
  if (h < 20 || h >= 330) return 'red'
  if (h < 60) return 'amber'
  if (h >= 80 && h < 170) return 'green'
  return 'other'
}

const EXPECTED: Record<keyof typeof FIXTURE, { text: string; tone: string; hue: ReturnType<typeof hueOf> }> = {
  alpha: { text: 'healthy', tone: 'tone-ok', hue: 'green' },
  bravo: { text: 'unhealthy', tone: 'tone-warn', hue: 'amber' },
  charlie: { text: 'unhealthy', tone: 'tone-warn', hue: 'amber' },
  delta: { text: 'dead', tone: 'tone-bad', hue: 'red' },
  echo: { text: 'no data', tone: 'tone-none', hue: 'grey' },
  golf: { text: 'unhealthy', tone: 'tone-warn', hue: 'amber' },
  hotel: { text: 'unhealthy', tone: 'tone-warn', hue: 'amber' },
}

async function expectBadges(page: Page): Promise<void> {
  for (const [name, want] of Object.entries(EXPECTED)) {
    expect(await badgeText(page, name)).toBe(want.text)
    const badge = card(page, name).locator('.card-head .badge')
    expect(await badge.getAttribute('class')).toContain(want.tone)
    expect(hueOf(await badge.evaluate((el) => getComputedStyle(el).backgroundColor))).toBe(want.hue)
  }
}

describe('the dashboard page', () => {
  test('one card per molt, each badge with the right text and colour, the summary counts, the backups', async () => {
    const page = await open()
    await loaded(page)
    expect(await summary(page)).toEqual(['1 down', '4 unhealthy', '1 stale', '1 healthy'])
    // problems first: dead, then unhealthy (by name), never checked, healthy
    expect(await shownMolts(page)).toEqual(PROBLEMS_FIRST)
    await expectBadges(page)

    const delta = card(page, 'delta')
    expect(await delta.innerText()).toContain(`port ${fleet.molt('delta').port}`)
    expect(await delta.locator('.incident').innerText()).toMatch(/^Incident ongoing for 2 h \d+ min, since .+ \(dead: PID from gateway.pid is not running\)$/)
    expect(await delta.locator('.chip').innerText()).toBe('DOWN')
    expect(await card(page, 'bravo').locator('.chip').innerText()).toBe('pending 2 of 3')
    expect(await card(page, 'alpha').locator('.checked').innerText()).toBe('checked 2 min ago')
    expect(await card(page, 'alpha').locator('.uptime').innerText()).toMatch(/uptime 24 h\s+100 %\s+7 d\s+98\.8 %/)
    expect(await card(page, 'alpha').locator('svg.sparkline path.spark-line').getAttribute('d')).toMatch(/^M[\d.]+ [\d.]+ l0 0( L[\d.]+ [\d.]+){29}$/)
    expect(await card(page, 'delta').locator('svg.sparkline .spark-fail').count()).toBe(5)
    expect(await card(page, 'alpha').locator('svg.sparkline').getAttribute('aria-label')).toMatch(/^response time over the last 30 checks: /)

    // made in beforeAll: seconds ago on a busy machine (no timed assertion: any age under a minute)
    expect(await page.locator('#backup-age').innerText()).toMatch(/^last backup (just now|\d+ s ago)$/)
    const backups = page.locator('.backup')
    expect(await backups.count()).toBe(2)
    // newest first: the broken file was written after the archive
    expect(await page.locator('.backup .badge').allInnerTexts()).toEqual(['corrupt', 'ok'])
    expect(await backups.last().innerText()).toContain('7 molts: alpha, bravo, charlie, delta, echo, golf, hotel')
    expect(await backups.first().locator('.backup-reason').innerText()).toBe('not a gzip or zstd file')
    expect(await page.locator('#freshness').innerText()).toBe('updated just now')
    expect(await page.locator('#banner').isHidden()).toBe(true)
    await screenshot(page, 'light')
    await page.context().close()
    expect(pageErrors).toEqual([])
  })

  test('markup planted in state files is shown as text and never runs', async () => {
    const page = await open()
    await loaded(page)
    const hotel = card(page, 'hotel')
    expect(await hotel.locator('.last').innerText()).toBe(PLANTED.reason)
    await hotel.locator('details.warnings summary').click()
    expect(await hotel.locator('details.warnings li').first().innerText()).toContain('<script>window.__pwned')
    // opening the warnings does not open the history
    expect(await page.locator('#history').isVisible()).toBe(false)
    await hotel.locator('.card-name').click()
    await page.locator('#history-body .checks').waitFor()
    expect(await page.locator('#history-body td.reason').allInnerTexts()).toEqual([PLANTED.reason, PLANTED.history, ''])
    expect(await page.evaluate(() => (window as { __pwned?: unknown }).__pwned)).toBeUndefined()
    expect(await page.locator('main img, dialog img').count()).toBe(0)
    expect(await page.locator('script').count()).toBe(1)
    await page.context().close()
    expect(pageErrors).toEqual([])
  })

  test('clicking a card shows its history: uptime, incidents, recent checks', async () => {
    const page = await open()
    await loaded(page)
    await card(page, 'alpha').locator('.meta').click()
    const dialog = page.locator('#history')
    await dialog.locator('.checks').waitFor()
    expect(await page.locator('#history-title').innerText()).toBe('alpha: history, last 7 days')
    expect(await dialog.locator('.window').allInnerTexts()).toEqual([
      expect.stringMatching(/^24h\s+100 %\s+48 checks$/),
      expect.stringMatching(/^7d\s+98\.8 %\s+336 checks$/),
      expect.stringMatching(/^30d/),
      expect.stringMatching(/^all time/),
    ] as never)
    expect(await dialog.locator('h3').allTextContents()).toEqual(['Uptime', 'Response time, last 24 h', 'Incidents: 1', 'Recent checks: 100'])
    expect(await dialog.locator('.incidents li').innerText()).toMatch(/dead .+ → .+ \(2 h\) · 4 checks/)
    expect(await dialog.locator('.checks tbody tr').count()).toBe(100)
    expect(await dialog.locator('svg.chart path.spark-line').count()).toBe(1)
    await page.keyboard.press('Escape')
    await expect(dialog.isVisible()).resolves.toBe(false)
    await page.context().close()
  })

  test('"check now" runs a check and updates the card', async () => {
    const page = await open()
    await loaded(page)
    const echo = card(page, 'echo')
    expect(await badgeText(page, 'echo')).toBe('no data')
    await echo.locator('.check-now').click()
    await page.waitForFunction(() => document.querySelector('.card[data-molt="echo"] .card-head .badge')?.textContent?.includes('stopped'))
    expect(await echo.locator('.card-head .badge').getAttribute('class')).toContain('tone-bad')
    expect(await echo.locator('.card-note').innerText()).toBe('checked just now: stopped')
    expect(await echo.locator('.checked').innerText()).toMatch(/^checked (just now|\d+ s ago)$/)
    expect(await summary(page)).toEqual(['1 down', '4 unhealthy', '1 stopped', '1 healthy'])
    // the history dialog did not open for a click on the button
    expect(await page.locator('#history').isVisible()).toBe(false)
    await page.context().close()
    expect(pageErrors).toEqual([])
  })

  test('dark mode follows prefers-color-scheme; the badges keep their colours', async () => {
    const page = await open({ colorScheme: 'dark' })
    await loaded(page)
    const [r, g, b] = rgb(await page.evaluate(() => getComputedStyle(document.body).backgroundColor))
    expect((0.2126 * r + 0.7152 * g + 0.0722 * b) / 255).toBeLessThan(0.15)
    const [tr, tg, tb] = rgb(await page.evaluate(() => getComputedStyle(document.body).color))
    expect((0.2126 * tr + 0.7152 * tg + 0.0722 * tb) / 255).toBeGreaterThan(0.7)
    for (const [name, want] of Object.entries(EXPECTED)) {
      if (name === 'echo') continue // checked by the previous test: stopped now
      const badge = card(page, name).locator('.card-head .badge')
      expect(hueOf(await badge.evaluate((el) => getComputedStyle(el).color))).toBe(want.hue)
    }
    await screenshot(page, 'dark')
    await page.context().close()
  })

  test('readable on a phone: one column, nothing wider than the screen', async () => {
    const page = await open({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 })
    await loaded(page)
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390)
    const lefts = await page.locator('.card').evaluateAll((cards) => cards.map((c) => Math.round(c.getBoundingClientRect().left)))
    expect(new Set(lefts).size).toBe(1)
    const button = await card(page, 'alpha').locator('.check-now').boundingBox()
    expect(button!.height).toBeGreaterThanOrEqual(36)
    expect(await page.evaluate(() => parseFloat(getComputedStyle(document.body).fontSize))).toBeGreaterThanOrEqual(16)
    await screenshot(page, 'phone')
    await card(page, 'delta').locator('.card-name').tap()
    await page.locator('#history-body .checks').waitFor()
    const dialog = await page.locator('#history').boundingBox()
    expect(Math.round(dialog!.width)).toBe(390)
    await screenshot(page, 'phone-history', false)
    await page.context().close()
  })
})

describe('at 3 a.m.: problems first, filters, search, table, timeline, charts', () => {
  test('the summary counts are filters: toggled by click, kept in the URL, kept by a reload', async () => {
    const page = await open()
    await loaded(page)
    const count = (g: string) => page.locator(`#summary .count[data-count="${g}"]`)
    await count('unhealthy').click()
    await page.waitForFunction(() => document.querySelectorAll('#molts .card').length === 4)
    expect(await shownMolts(page)).toEqual(['bravo', 'charlie', 'golf', 'hotel'])
    expect(await count('unhealthy').getAttribute('aria-pressed')).toBe('true')
    expect(await page.locator('#shown').innerText()).toBe('showing 4 of 7')
    await count('down').click()
    expect(await shownMolts(page)).toEqual(['delta', 'bravo', 'charlie', 'golf', 'hotel'])
    expect(new URL(page.url()).hash).toBe('#show=down,unhealthy')
    await page.reload()
    await page.locator('.card').first().waitFor()
    expect(await shownMolts(page)).toEqual(['delta', 'bravo', 'charlie', 'golf', 'hotel'])
    expect(await count('down').getAttribute('aria-pressed')).toBe('true')
    // a second click takes a filter off; "show all" takes them all off
    await count('down').click()
    expect(await shownMolts(page)).toEqual(['bravo', 'charlie', 'golf', 'hotel'])
    await page.locator('#summary .clear-filter').click()
    expect(await shownMolts(page)).toEqual(PROBLEMS_FIRST)
    expect(new URL(page.url()).hash).toBe('')
    // by keyboard too: Tab to a count, Enter
    await count('down').focus()
    await page.keyboard.press('Enter')
    expect(await shownMolts(page)).toEqual(['delta'])
    expect(await page.evaluate(() => (document.activeElement as HTMLElement | null)?.dataset.count)).toBe('down')
    await page.context().close()
    expect(pageErrors).toEqual([])
  })

  test('"/" focuses the name search, which filters as one types; Escape clears it', async () => {
    const page = await open()
    await loaded(page)
    await page.keyboard.press('/')
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('search')
    await page.keyboard.type('ch')
    expect(await shownMolts(page)).toEqual(['charlie', 'echo'])
    expect(new URL(page.url()).hash).toBe('#q=ch')
    await page.keyboard.type('z')
    expect(await shownMolts(page)).toEqual([])
    expect(await page.locator('#molts-empty').innerText()).toBe('No molt matches the filter.')
    await page.keyboard.press('Escape')
    expect(await shownMolts(page)).toEqual(PROBLEMS_FIRST)
    await page.context().close()
    expect(pageErrors).toEqual([])
  })

  test('the compact table: one row per molt, problems first, remembered across a reload', async () => {
    const page = await open()
    await loaded(page)
    await page.locator('#views button[data-view="table"]').click()
    await page.locator('#molts tr.row').first().waitFor()
    expect(await shownMolts(page)).toEqual(PROBLEMS_FIRST)
    expect(await page.locator('.molt-table thead th').allInnerTexts()).toEqual(['molt', 'status', 'since', 'reason', 'response', 'uptime 24 h', 'checked', ''])
    const delta = page.locator('tr.row[data-molt="delta"]')
    expect(await delta.locator('.c-status').innerText()).toMatch(/dead\s+DOWN/)
    expect(await delta.locator('.c-since').innerText()).toMatch(/^2 h \d+ min$/)
    expect(await delta.locator('.c-reason').innerText()).toMatch(/^PID \d+ from gateway\.pid is not running$/)
    const alpha = page.locator('tr.row[data-molt="alpha"]')
    expect(await alpha.locator('.c-uptime').innerText()).toBe('100 %')
    expect(await alpha.locator('.c-ms').innerText()).toMatch(/^\d+(\.\d)? ms$/)
    // the planted reason is text in a cell too
    expect(await page.locator('tr.row[data-molt="hotel"] .c-reason').innerText()).toBe(PLANTED.reason)
    // rows are compact: 50 of them fit on a 1080-pixel screen
    const height = (await delta.boundingBox())!.height
    expect(height).toBeLessThanOrEqual(21)
    await page.reload()
    await page.locator('#molts tr.row').first().waitFor()
    expect(await page.locator('#views button[data-view="table"]').getAttribute('aria-pressed')).toBe('true')
    await screenshot(page, 'table')
    // the name opens the history
    await alpha.locator('.row-name').click()
    await page.locator('#history-body .checks').waitFor()
    await page.keyboard.press('Escape')
    await page.locator('#views button[data-view="cards"]').click()
    await page.locator('#molts .card').first().waitFor()
    await page.context().close()
    expect(pageErrors).toEqual([])
  })

  test('the fleet timeline: a lane per molt with incidents, the hover tells molt, start, duration, reason', async () => {
    const page = await open()
    await loaded(page)
    await page.locator('#timeline .bar').first().waitFor()
    // ongoing ones, the longest first (echo joins them once "check now" found it stopped; a full
    // disk on this machine would add a "host" lane: only the molts' lanes are compared)
    const molts = (lanes: string[]) => lanes.filter((l) => l in FIXTURE && l !== 'echo')
    const lanes = molts(await page.locator('#timeline .lane-name').allTextContents())
    expect(lanes.slice(0, 3)).toEqual(['delta', 'bravo', 'hotel'])
    expect([...lanes].sort()).toEqual(['bravo', 'charlie', 'delta', 'golf', 'hotel'])
    const bar = page.locator('#timeline .bar[data-molt="delta"]')
    await bar.hover()
    const tip = page.locator('#timeline .chart-tip')
    await tip.waitFor()
    expect(await tip.innerText()).toMatch(/^delta · dead since \w+ \d+,? .+ · ongoing, 2 h \d+ min · PID from gateway\.pid is not running$/)
    // by keyboard: a bar takes the focus and says the same
    await page.locator('#timeline .bar[data-molt="bravo"]').focus()
    expect(await tip.innerText()).toMatch(/^bravo · unhealthy since .+ · ongoing, 3\d min · HTTP 500$/)
    // one Tab stop for the chart, the arrow keys from bar to bar
    expect(await page.locator('#timeline .bar[tabindex="0"]').count()).toBe(1)
    await page.keyboard.press('ArrowUp')
    expect(await tip.innerText()).toMatch(/^delta · /)
    await page.keyboard.press('ArrowDown')
    await page.keyboard.press('Enter')
    await page.locator('#history-body .checks').waitFor()
    expect(await page.locator('#history-title').innerText()).toBe('bravo: history, last 7 days')
    await page.keyboard.press('Escape')
    // the week shows alpha's 2-hour outage three days ago too
    await page.locator('#timeline-window button[data-window="604800000"]').click()
    await page.locator('#timeline .bar[data-molt="alpha"]').hover()
    expect(await tip.innerText()).toMatch(/^alpha · dead since .+ · 2 h, until .+ · \(4 checks\)$/)
    await screenshot(page, 'timeline', false)
    await page.context().close()
    expect(pageErrors).toEqual([])
  })

  test('the response-time chart: time and ms axes, the value under the pointer, the arrow keys', async () => {
    const page = await open()
    await loaded(page)
    const series = (await (await page.request.get(new URL('/api/molts/alpha/series?window=24h&points=288', server.url).href)).json()) as SeriesResponse
    const ms = (p: SeriesResponse['points'][number] | undefined) => new RegExp(` · ${formatMs(p!.avg_ms).replace('.', '\\.')}( \\(.*\\))?$`)
    await card(page, 'alpha').locator('.card-name').click()
    const chart = page.locator('#history-body svg.chart')
    await chart.waitFor()
    const yLabels = await chart.locator('.axis.y').allTextContents()
    expect(yLabels[0]).toBe('0 ms')
    expect(yLabels.length).toBeGreaterThanOrEqual(3)
    expect(yLabels.every((l) => /^\d+ ms$/.test(l))).toBe(true)
    expect((await chart.locator('.axis.x').allTextContents()).length).toBeGreaterThanOrEqual(2)
    const hit = (await chart.locator('.chart-hit').boundingBox())!
    await page.mouse.move(hit.x + hit.width - 1, hit.y + hit.height / 2)
    const tip = page.locator('#history-body .chart-tip')
    await tip.waitFor()
    expect(await tip.innerText()).toMatch(ms(series.points.at(-1)))
    await page.mouse.move(hit.x + 1, hit.y + hit.height / 2)
    expect(await tip.innerText()).toMatch(ms(series.points[0]))
    // the keyboard reads it too; a failed check says it had no answer
    await chart.focus()
    await page.keyboard.press('End')
    expect(await tip.innerText()).toMatch(ms(series.points.at(-1)))
    await page.keyboard.press('ArrowLeft')
    expect(await tip.innerText()).toMatch(ms(series.points.at(-2)))
    await page.keyboard.press('Escape')
    await card(page, 'delta').locator('.card-name').click()
    await page.locator('#history-title', { hasText: 'delta' }).waitFor()
    await page.locator('#history-body svg.chart').focus()
    await page.keyboard.press('End')
    expect(await page.locator('#history-body .chart-tip').innerText()).toMatch(/ · no answer \(dead\)$/)
    await screenshot(page, 'chart', false)
    await page.context().close()
    expect(pageErrors).toEqual([])
  })
})

describe('the fleet as a whole', () => {
  test('a red banner when the watch stopped; silences shown with their end and reason', async () => {
    const big = stateFleet(30)
    // no watch run for two hours at a 5-minute interval: the watcher stopped
    const old = new Date(Date.now() - 2 * HOUR)
    for (let i = 0; i < 30; i++) utimesSync(join(big.baseDir, stateFleetName(i), '.molt-state', 'health-watch-state.json'), old, old)
    const silenced = stateFleetName(8)
    const silence = await runCli(['molt', 'health', 'silence', silenced, '2h', '--reason', 'planned upgrade', '-d', big.baseDir])
    expect(silence.stderr).toBe('')
    const own = await startDashboard({ baseDir: big.baseDir, host: '127.0.0.1', port: 0, token: null })
    try {
      const page = await open({}, own.url)
      await page.locator('.card').first().waitFor()
      const alerts = page.locator('#alerts')
      await alerts.waitFor()
      expect(await alerts.getAttribute('class')).toContain('is-critical')
      expect(await alerts.getAttribute('role')).toBe('alert')
      expect(hueOf(await alerts.evaluate((el) => getComputedStyle(el).backgroundColor))).toBe('red')
      expect(await alerts.locator('.alert[data-kind="watcher-stopped"]').innerText()).toMatch(/^✕ .*watch.* · since 2 h ago · \S+/)
      // every card says so too, in words
      expect(await card(page, stateFleetName(9)).locator('.chip', { hasText: 'watch stopped' }).count()).toBe(1)
      // the silence: in the strip above, on its card, and the molt sorted below the problems
      // a 2 h silence: "2 h left" when the page shows it within half a second of the silence, else "1 h 59 min"
      expect(await page.locator('#silences').innerText()).toMatch(new RegExp(`^1 silence in force: ${silenced} until .+ \\((2 h|1 h 59 min) left\\) — planned upgrade`))
      expect(await card(page, silenced).locator('.silence').innerText()).toMatch(/^silenced until .+ · planned upgrade$/)
      const order = await shownMolts(page)
      expect(order.indexOf(silenced)).toBe(order.findIndex((n) => stateFleetKind(Number(n!.slice(-3))) === 'healthy' && n !== silenced) - 1)
      await page.locator('#summary .count[data-count="silenced"]').click()
      expect(await shownMolts(page)).toEqual([silenced])
      await page.locator('#summary .clear-filter').click()
      await screenshot(page, 'watcher-stopped', false)
      await page.context().close()
      expect(pageErrors).toEqual([])
    } finally {
      await own.stop()
      big.cleanup()
    }
  })
})

describe('refreshing', () => {
  test('updates by itself without a reload, and says so when the server is gone', async () => {
    // refreshMs 0: the file written below shows on the very next refresh, however soon it comes
    const own = await startDashboard({ baseDir: fleet.baseDir, host: '127.0.0.1', port: 0, token: null, refreshMs: 0 })
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
    const page = await context.newPage()
    await page.clock.install()
    await page.goto(own.url)
    await loaded(page)
    await page.evaluate(() => ((window as { marker?: number }).marker = 1))
    expect(await badgeText(page, 'golf')).toBe('unhealthy')
    // what the operator was doing survives the refresh: the search text, the focused button, the cards' nodes
    await page.locator('#search').fill('l')
    await card(page, 'alpha').locator('.check-now').focus()
    await page.evaluate(() => ((window as { alphaCard?: Element | null }).alphaCard = document.querySelector('.card[data-molt="alpha"]')))

    const golf = fleet.molt('golf')
    writeState(golf.home, 'health-status.json', { timestamp: new Date(Date.now() - MIN).toISOString(), molt: 'golf', status: 'healthy', pid: golf.pid, port: golf.port, http_status: 200, response_time_ms: 4.2, reason: null })
    await page.clock.runFor(15_000)
    await page.waitForFunction(() => document.querySelector('.card[data-molt="golf"] .card-head .badge')?.textContent?.includes('healthy') && !document.querySelector('.card[data-molt="golf"] .card-head .badge')?.textContent?.includes('unhealthy'))
    expect(await page.evaluate(() => (window as { marker?: number }).marker)).toBe(1)
    expect(await page.locator('#search').inputValue()).toBe('l')
    expect(await shownMolts(page)).toEqual(['delta', 'charlie', 'hotel', 'alpha', 'golf'])
    expect(await page.evaluate(() => (window as { alphaCard?: Element }).alphaCard === document.querySelector('.card[data-molt="alpha"]') && document.activeElement === document.querySelector('.card[data-molt="alpha"] .check-now'))).toBe(true)
    await page.locator('#search').fill('')

    await own.stop()
    await page.clock.runFor(15_000)
    const banner = page.locator('#banner')
    await banner.waitFor({ state: 'visible' })
    expect(await banner.innerText()).toMatch(/^The dashboard server does not answer: it was stopped, or the network is down\. Showing data from \d+ s ago\. Retrying every 15 s\.$/)
    expect(await page.evaluate(() => document.body.classList.contains('is-stale'))).toBe(true)
    // the last data stays on screen, dimmed
    expect(await page.locator('.card').count()).toBe(7)
    await screenshot(page, 'server-gone')
    await context.close()
  })
})

describe('refresh by change', () => {
  test('an unchanged fleet costs a 304 and touches nothing; a change is pushed by /api/events without waiting for a poll', async () => {
    const small = stateFleet(10)
    const own = await startDashboard({ baseDir: small.baseDir, host: '127.0.0.1', port: 0, token: null })
    try {
      // the first snapshot reads only the histories' last 16 KiB; once the weeks are read (partial: false) the
      // fleet is a real change: wait for it (bounded) so that the page below sees one unchanged fleet
      for (let tries = 0; tries < 400; tries++) {
        const head = (await (await fetch(new URL('/api/molts', own.url))).json()) as { partial: boolean }
        if (!head.partial) break
        await Bun.sleep(50)
      }
      const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
      const page = await context.newPage()
      const answers: number[] = []
      const bodies: Promise<MoltsResponse>[] = []
      page.on('response', (r) => {
        if (new URL(r.url()).pathname !== '/api/molts') return
        answers.push(r.status())
        if (r.status() === 200) bodies.push(r.json() as Promise<MoltsResponse>)
      })
      // the page's timers are stopped: only the event stream can bring the change below
      await page.clock.install()
      await page.goto(own.url)
      await page.locator('.card').first().waitFor()
      await page.evaluate(() => {
        ;(window as { mutations?: number }).mutations = 0
        new MutationObserver((records) => ((window as { mutations?: number }).mutations! += records.length)).observe(document.getElementById('molts')!, { subtree: true, childList: true, characterData: true, attributes: true })
      })
      const polled = page.waitForResponse((r) => new URL(r.url()).pathname === '/api/molts')
      await page.clock.runFor(15_000)
      await polled
      // the first answer whole; then 304s only (the stream's first event and the poll)
      expect(answers[0]).toBe(200)
      expect(answers.length).toBeGreaterThanOrEqual(2)
      expect(answers.slice(1).filter((s) => s !== 304)).toEqual([])
      expect(await page.evaluate(() => (window as { mutations?: number }).mutations)).toBe(0)

      const name = stateFleetName(9)
      const home = join(small.baseDir, name)
      writeState(home, 'health-status.json', { timestamp: new Date().toISOString(), molt: name, status: 'dead', pid: null, port: 20019, http_status: null, response_time_ms: null, reason: 'connection refused' })
      await page.waitForFunction((n) => document.querySelector(`.card[data-molt="${n}"] .card-head .badge`)?.textContent?.includes('dead'), name)
      // the change came alone: the molts changed since the page's generation, not the fleet
      const delta = await bodies.at(-1)!
      expect(delta.full).toBe(false)
      expect(delta.molts.map((m) => m.name)).toEqual([name])
      // up among the down ones, by name
      expect((await shownMolts(page)).slice(0, 4)).toEqual([stateFleetName(1), name, stateFleetName(0), stateFleetName(2)])
      await context.close()
    } finally {
      await own.stop()
      small.cleanup()
    }
  })
})

describe('with a token', () => {
  let locked: Dashboard
  beforeAll(async () => {
    locked = await startDashboard({ baseDir: fleet.baseDir, host: '127.0.0.1', port: 0, token: TOKEN, checkTimeoutMs: 1000 })
  })
  afterAll(() => locked?.stop())

  test('the login form, an HttpOnly SameSite=Strict cookie, then the page and "check now"', async () => {
    const page = await open({}, locked.url)
    await page.locator('#token').fill('wrong')
    await page.locator('button[type=submit]').click()
    expect(await page.locator('.error').innerText()).toBe('That token is not the dashboard token.')
    await page.locator('#token').fill(TOKEN)
    await page.locator('button[type=submit]').click()
    await loaded(page)
    const [cookie] = await page.context().cookies()
    expect(cookie).toMatchObject({ name: 'clmnt_dashboard', httpOnly: true, sameSite: 'Strict' })
    expect(cookie!.value).not.toContain(TOKEN)
    expect(await page.evaluate(() => document.cookie)).toBe('')
    await page.locator('#logout button').waitFor()

    await card(page, 'alpha').locator('.check-now').click()
    await page.waitForFunction(() => document.querySelector('.card[data-molt="alpha"] .card-note')?.textContent === 'checked just now: healthy')

    await page.locator('#logout button').click()
    await page.locator('#token').waitFor()
    expect(await page.context().cookies()).toEqual([])
    await page.context().close()
    // the login form comes with a 401, which the browser logs
    expect(pageErrors.filter((e) => !e.includes('status of 401'))).toEqual([])
  })
})
