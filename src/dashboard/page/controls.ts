/// <reference lib="dom" />
import type { DashboardMolt } from '../types.ts'
import { fill, h } from './dom.ts'
import { TONE_GLYPH } from './format.ts'
import { formatHash, GROUP_HELP, GROUP_TONE, groupCounts, GROUPS, parseHash, type Group, type ViewFilter } from './order.ts'

/**
 * What narrows and shapes the list: the summary's counts (toggle buttons, one filter per group),
 * the name search (`/` focuses it) and cards or table (remembered in this browser). The filter
 * lives in the URL's hash, so a reload or a shared link shows the same.
 */

export type ViewMode = 'cards' | 'table'
const VIEW_KEY = 'clmnt-dashboard-view'

export interface Controls {
  filter: ViewFilter
  view: ViewMode
  renderSummary(molts: DashboardMolt[], warnings: string[]): void
}

export function setupControls(els: { summary: HTMLElement; search: HTMLInputElement; views: HTMLElement }, onChange: () => void): Controls {
  const stored = (() => {
    try {
      return localStorage.getItem(VIEW_KEY)
    } catch {
      return null
    }
  })()
  const controls: Controls = { filter: parseHash(location.hash), view: stored === 'table' ? 'table' : 'cards', renderSummary }
  els.search.value = controls.filter.query
  let shownSummary = ''

  const changed = () => {
    const hash = formatHash(controls.filter)
    // replaceState: filtering is not navigation, the back button leaves the page as before
    if (hash !== location.hash && !(hash === '' && location.hash === '#')) history.replaceState(null, '', hash || location.pathname + location.search)
    shownSummary = ''
    onChange()
  }

  function renderSummary(molts: DashboardMolt[], warnings: string[]): void {
    const counts = groupCounts(molts)
    const active = controls.filter.groups
    const key = JSON.stringify([counts, active, warnings])
    if (key === shownSummary) return
    shownSummary = key
    const shown = GROUPS.filter((g) => counts[g] > 0 || active.includes(g))
    const buttons = shown.map((g) =>
      h(
        'button',
        { type: 'button', class: `count tone-${GROUP_TONE[g]}`, 'data-count': g, 'aria-pressed': active.includes(g) ? 'true' : 'false', title: `${active.includes(g) ? 'Stop showing only' : 'Show only'} ${g} molts: ${GROUP_HELP[g]}` },
        h('span', { class: 'glyph', 'aria-hidden': 'true' }, TONE_GLYPH[GROUP_TONE[g]]),
        `${counts[g]} ${g}`,
      ),
    )
    // keep the focused button focused across the redraw (a keyboard user toggling filters)
    const focused = (document.activeElement as HTMLElement | null)?.dataset?.count
    fill(
      els.summary,
      ...(buttons.length ? buttons : ['no molts in this fleet']),
      active.length ? h('button', { type: 'button', class: 'link-button clear-filter' }, 'show all') : null,
      ...warnings.map((w) => h('span', { class: 'fleet-warning' }, ` ⚠ ${w}`)),
    )
    if (focused) els.summary.querySelector<HTMLElement>(`[data-count="${focused}"]`)?.focus()
  }

  els.summary.addEventListener('click', (event) => {
    const target = (event.target as Element).closest('button')
    if (!target) return
    const group = target.getAttribute('data-count') as Group | null
    if (group) {
      const groups = controls.filter.groups
      controls.filter = { ...controls.filter, groups: groups.includes(group) ? groups.filter((g) => g !== group) : [...groups, group] }
    } else {
      controls.filter = { ...controls.filter, groups: [] }
    }
    changed()
  })

  els.search.addEventListener('input', () => {
    controls.filter = { ...controls.filter, query: els.search.value }
    changed()
  })
  els.search.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && els.search.value) {
      els.search.value = ''
      controls.filter = { ...controls.filter, query: '' }
      changed()
    }
  })
  document.addEventListener('keydown', (event) => {
    if (event.key !== '/' || event.ctrlKey || event.metaKey || event.altKey) return
    const target = event.target as HTMLElement
    if (target.closest('input, textarea, select, [contenteditable=""], [contenteditable="true"], dialog[open]')) return
    event.preventDefault()
    els.search.focus()
    els.search.select()
  })
  window.addEventListener('hashchange', () => {
    controls.filter = parseHash(location.hash)
    els.search.value = controls.filter.query
    shownSummary = ''
    onChange()
  })

  const markView = () => {
    for (const b of els.views.querySelectorAll<HTMLButtonElement>('button[data-view]')) b.setAttribute('aria-pressed', String(b.dataset.view === controls.view))
  }
  markView()
  els.views.addEventListener('click', (event) => {
    const view = (event.target as Element).closest<HTMLButtonElement>('button[data-view]')?.dataset.view as ViewMode | undefined
    if (!view || view === controls.view) return
    controls.view = view
    try {
      localStorage.setItem(VIEW_KEY, view)
    } catch {
      // a browser that keeps nothing: the choice lasts until the reload
    }
    markView()
    onChange()
  })
  return controls
}
