/// <reference lib="dom" />
import type { DashboardMolt, FleetIncident } from '../types.ts'
import { fromServer, moltIncidents } from './axes.ts'
import { renderTimeline } from './charts.ts'

/**
 * The fleet's incidents on one time axis, last 24 h or 7 d; folds away (remembered in this
 * browser) for an operator who wants the whole screen for the table. A bar opens its molt's history.
 */

const DAY = 86_400_000
const FOLDED_KEY = 'clmnt-dashboard-timeline-folded'

export interface TimelinePanel {
  /** `incidents`: the server's (/api/incidents), or null when it has none: then what the cards' recent checks show */
  render(molts: DashboardMolt[], incidents?: FleetIncident[] | null): void
}

export function setupTimeline(els: { box: HTMLElement; windows: HTMLElement; fold: HTMLButtonElement }, open: (molt: string) => void): TimelinePanel {
  let windowMs = DAY
  let shown = ''
  let last: DashboardMolt[] = []
  let lastIncidents: FleetIncident[] | null = null
  let folded = (() => {
    try {
      return localStorage.getItem(FOLDED_KEY) === '1'
    } catch {
      return false
    }
  })()

  const render = (molts: DashboardMolt[], server: FleetIncident[] | null = lastIncidents) => {
    last = molts
    lastIncidents = server
    if (folded) return
    const now = Date.now()
    const incidents = server ? fromServer(server, molts) : molts.flatMap(moltIncidents)
    // redrawn when the incidents, the window or the width change, and once a minute for "now"
    const key = JSON.stringify([incidents, windowMs, els.box.clientWidth, Math.floor(now / 60_000)])
    if (key === shown) return
    shown = key
    renderTimeline(els.box, incidents, windowMs, now)
  }

  const applyFold = () => {
    els.box.hidden = folded
    els.windows.hidden = folded
    els.fold.setAttribute('aria-expanded', String(!folded))
    els.fold.textContent = folded ? 'Show' : 'Hide'
    shown = ''
  }
  applyFold()
  els.fold.addEventListener('click', () => {
    folded = !folded
    try {
      localStorage.setItem(FOLDED_KEY, folded ? '1' : '0')
    } catch {
      // kept until the reload
    }
    applyFold()
    render(last)
  })

  els.windows.addEventListener('click', (event) => {
    const ms = Number((event.target as Element).closest<HTMLButtonElement>('button[data-window]')?.dataset.window)
    if (!ms || ms === windowMs) return
    windowMs = ms
    for (const b of els.windows.querySelectorAll<HTMLButtonElement>('button')) b.setAttribute('aria-pressed', String(Number(b.dataset.window) === ms))
    render(last)
  })
  els.box.addEventListener('click', (event) => {
    const molt = (event.target as Element).closest('.bar')?.getAttribute('data-molt')
    if (molt) open(molt)
  })
  els.box.addEventListener('keydown', (event) => {
    const molt = (event.target as Element).closest('.bar')?.getAttribute('data-molt')
    if (molt && (event.key === 'Enter' || event.key === ' ')) {
      event.preventDefault()
      open(molt)
    }
  })
  let resizeTimer: ReturnType<typeof setTimeout> | undefined
  window.addEventListener('resize', () => {
    clearTimeout(resizeTimer)
    resizeTimer = setTimeout(() => render(last), 150)
  })
  return { render }
}
