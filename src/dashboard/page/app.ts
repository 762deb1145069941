/// <reference lib="dom" />
import type { HealthRecord } from '../../health/record.ts'
import type { BackupEntry, DashboardMolt, FleetIncident, HistoryResponse, IncidentsResponse, MoltsResponse, SeriesResponse } from '../types.ts'
import { renderAlerts, renderSilences } from './alerts.ts'
import { setupControls } from './controls.ts'
import { fill, h } from './dom.ts'
import { ago, backupVerdict } from './format.ts'
import { createCard, createRow, TABLE_COLUMNS, updateCard, updateRow, type Item } from './items.ts'
import { mergeSnapshot } from './merge.ts'
import { ApiError, api, subscribe } from './net.ts'
import { groupCounts, matches, problemsFirst, staying } from './order.ts'
import { setupTimeline } from './timeline-panel.ts'
import { renderBackups, renderHistory } from './view.ts'

/**
 * The dashboard page: the fleet, problems first, as cards or a table; the fleet's incidents on one
 * time axis; the backups; a molt's history on demand. Refreshes when the server says something
 * changed (server-sent events, when it has them) and by polling with If-None-Match otherwise, and
 * redraws only what changed. Says so when its data is stale or the server is gone.
 */

/** Polling goes on while the event stream is open: with If-None-Match an unchanged fleet costs a 304. */
const REFRESH_MS = 15_000
const BACKUPS_EVERY_MS = 60_000 // archives change daily, and listing them reads every file's head
const STALE_MS = 45_000
const AGES_EVERY_MS = 15_000

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T

const els = {
  summary: $('summary'),
  search: $<HTMLInputElement>('search'),
  views: $('views'),
  shown: $('shown'),
  backupAge: $('backup-age'),
  freshness: $('freshness'),
  banner: $('banner'),
  alerts: $('alerts'),
  silences: $('silences'),
  list: $('molts'),
  empty: $('molts-empty'),
  timeline: $('timeline'),
  timelineWindow: $('timeline-window'),
  timelineFold: $<HTMLButtonElement>('timeline-fold'),
  backups: $('backups'),
  logout: $<HTMLFormElement>('logout'),
  dialog: $<HTMLDialogElement>('history'),
  dialogTitle: $('history-title'),
  dialogBody: $('history-body'),
  dialogClose: $<HTMLButtonElement>('history-close'),
}

const state = {
  fleet: null as MoltsResponse | null,
  etag: null as string | null,
  lastOk: 0,
  error: null as ApiError | null,
  backups: null as BackupEntry[] | null,
  backupsError: null as string | null,
  backupsAt: 0,
  inFlight: null as Promise<void> | null,
  again: false,
  subscribed: false,
  incidents: null as FleetIncident[] | null,
  incidentsEtag: null as string | null,
  renderedAt: 0,
}

const controls = setupControls(els, () => renderFleet())
const timeline = setupTimeline({ box: els.timeline, windows: els.timelineWindow, fold: els.timelineFold }, (name) => void openHistory(name))

// ------------------------------------------------------------------------------------------
// fleet

async function refresh(options: { backups?: boolean } = {}): Promise<void> {
  // one request at a time; a change announced meanwhile asks again once it is done
  if (state.inFlight) {
    state.again = true
    return state.inFlight
  }
  const run = (async () => {
    do {
      state.again = false
      await load(options.backups ?? Date.now() - state.backupsAt >= BACKUPS_EVERY_MS)
    } while (state.again)
  })()
  state.inFlight = run
  try {
    await run
  } finally {
    state.inFlight = null
  }
}

async function load(wantBackups: boolean): Promise<void> {
  let changed = false
  try {
    // with a numbered snapshot in hand, only what changed since comes (the whole fleet when too old)
    const generation = state.fleet?.generation
    const path = typeof generation === 'number' ? `/api/molts?since=${generation}` : '/api/molts'
    const { data, response } = await api<MoltsResponse>(path, { etag: state.fleet ? state.etag : null })
    if (data) {
      state.fleet = mergeSnapshot(state.fleet, data)
      state.etag = response.headers.get('etag')
      changed = true
      // a server that numbers its snapshots announces them on /api/events; an older one has no such route
      if (!state.subscribed && typeof (data as { generation?: unknown }).generation === 'number') {
        state.subscribed = true
        subscribe(() => void refresh())
      }
    }
    state.lastOk = Date.now()
    state.error = null
    els.logout.hidden = response.headers.get('x-clmnt-auth') !== 'cookie'
  } catch (error) {
    state.error = error as ApiError
  }
  if (changed && state.subscribed) await loadIncidents()
  if (wantBackups && !state.error) {
    state.backupsAt = Date.now()
    try {
      state.backups = (await api<BackupEntry[]>('/api/backups')).data
      state.backupsError = null
    } catch (error) {
      state.backupsError = (error as Error).message
    }
    renderBackupsPanel()
  }
  // ages ("checked 2 min ago") move with the clock, not with the data: a redraw now and then, of what changed
  if (changed || Date.now() - state.renderedAt >= AGES_EVERY_MS) renderFleet()
  renderFreshness()
}

/** The fleet's incidents of the last 7 days, from a server that has /api/incidents (one that numbers its snapshots). */
async function loadIncidents(): Promise<void> {
  try {
    const { data, response } = await api<IncidentsResponse>('/api/incidents', { etag: state.incidents ? state.incidentsEtag : null })
    if (data) {
      state.incidents = data.incidents
      state.incidentsEtag = response.headers.get('etag')
    }
  } catch {
    // the timeline falls back to what the cards' recent checks show
    state.incidents = null
  }
}

function renderFleet(): void {
  const fleet = state.fleet
  if (!fleet) return
  state.renderedAt = Date.now()
  controls.renderSummary(fleet.molts, fleet.warnings)
  const c = groupCounts(fleet.molts)
  const problems = c.down + c.unhealthy + c.stopped
  // the tab says it too, for an operator who keeps the dashboard open in the background
  document.title = `${problems ? `(${problems} down) ` : ''}clmnt · fleet dashboard`
  renderAlerts(els.alerts, fleet, state.renderedAt)
  renderSilences(els.silences, fleet, state.renderedAt)
  renderList(fleet.molts)
  timeline.render(fleet.molts, state.incidents)
}

const items = new Map<string, Item>()
let itemsView: string | null = null
const actions = { open: (name: string) => void openHistory(name), check: checkNow }

function renderList(molts: DashboardMolt[]): void {
  const now = Date.now()
  const view = controls.view
  if (itemsView !== view) {
    itemsView = view
    items.clear()
    els.list.className = view === 'cards' ? 'cards' : 'table-wrap molt-table-wrap'
    fill(els.list, view === 'cards' ? null : h('table', { class: 'molt-table' }, h('thead', {}, h('tr', {}, ...TABLE_COLUMNS.map((c) => h('th', { scope: 'col' }, c)))), h('tbody', {})))
  }
  const parent = view === 'cards' ? els.list : els.list.querySelector('tbody')!
  const names = new Set(molts.map((m) => m.name))
  for (const [name, item] of items) {
    if (!names.has(name)) {
      item.root.remove()
      items.delete(name)
    }
  }
  const shown = problemsFirst(molts).filter((m) => matches(m, controls.filter))
  const roots = shown.map((m) => {
    let item = items.get(m.name)
    if (!item) items.set(m.name, (item = view === 'cards' ? createCard(m.name, actions) : createRow(m.name, actions)))
    if (view === 'cards') updateCard(item, m, now)
    else updateRow(item, m, now)
    return item.root
  })
  reorder(parent, roots)
  els.shown.textContent = shown.length === molts.length ? `${molts.length} molt${molts.length === 1 ? '' : 's'}` : `showing ${shown.length} of ${molts.length}`
  els.empty.hidden = shown.length > 0
  els.empty.textContent = molts.length ? 'No molt matches the filter.' : 'No molts found: no molts.json entries and no folders with .molt-info.'
}

/** Put `roots` in `parent` in this order, moving as few nodes as can be (see staying()). */
function reorder(parent: Element, roots: Element[]): void {
  const wanted = new Set(roots)
  for (const child of [...parent.children]) if (!wanted.has(child)) child.remove()
  const at = new Map([...parent.children].map((c, i) => [c, i]))
  const keep = staying(roots.map((r) => at.get(r) ?? -1))
  let next: Element | null = null
  for (let i = roots.length - 1; i >= 0; i--) {
    if (!keep.has(i)) parent.insertBefore(roots[i]!, next)
    next = roots[i]!
  }
}

async function checkNow(name: string, item: Item): Promise<void> {
  item.button.disabled = true
  item.button.textContent = 'Checking…'
  item.root.setAttribute('aria-busy', 'true')
  item.note.className = 'card-note'
  item.note.textContent = ''
  try {
    const { data } = await api<HealthRecord>(`/api/molts/${encodeURIComponent(name)}/check`, { method: 'POST' })
    item.note.textContent = `checked just now: ${data?.status}`
    await refresh({ backups: false })
  } catch (error) {
    item.note.className = 'card-note is-error'
    item.note.textContent = `check failed: ${(error as Error).message}`
  } finally {
    item.button.disabled = false
    item.button.textContent = item.label
    item.root.removeAttribute('aria-busy')
  }
}

// ------------------------------------------------------------------------------------------
// backups, freshness

function renderBackupsPanel(): void {
  const now = Date.now()
  if (state.backupsError) {
    fill(els.backups, h('p', { class: 'notice tone-bad' }, `Cannot list the backups: ${state.backupsError}`))
    return
  }
  if (!state.backups) return
  const verdict = backupVerdict(state.backups, now)
  renderBackups(els.backups, state.backups, verdict, now)
  const tone = verdict.warning ? (verdict.newest ? 'warn' : 'bad') : 'ok'
  els.backupAge.className = `backup-age tone-${tone}`
  els.backupAge.textContent = verdict.newest ? `last backup ${ago(verdict.newest.created, now)}` : verdict.warning!
  els.backupAge.title = verdict.warning ?? ''
}

function renderFreshness(): void {
  const now = Date.now()
  const age = state.lastOk ? now - state.lastOk : null
  const stale = state.error !== null || age === null || age > STALE_MS
  document.body.classList.toggle('is-stale', stale && state.fleet !== null)
  els.freshness.textContent = state.lastOk ? `updated ${ago(state.lastOk, now)}` : state.error ? 'no data' : 'loading…'
  els.freshness.className = `freshness${stale && state.fleet ? ' tone-warn' : ''}`
  const error = state.error
  if (!error && !(stale && state.fleet)) {
    els.banner.hidden = true
    return
  }
  els.banner.hidden = false
  const since = state.lastOk ? `Showing data from ${ago(state.lastOk, now)}.` : 'No data yet.'
  if (error?.status === 401) {
    fill(els.banner, 'Your session has ended or the token changed. ', h('a', { href: '/' }, 'Log in again'), '.')
  } else if (error?.status === 0) {
    fill(els.banner, `The dashboard server does not answer: it was stopped, or the network is down. ${since} Retrying every ${REFRESH_MS / 1000} s.`)
  } else if (error) {
    fill(els.banner, `The server could not read the fleet: ${error.message}. ${since}`)
  } else {
    fill(els.banner, `The data is stale: the last update was ${ago(state.lastOk, now)}.`)
  }
}

// ------------------------------------------------------------------------------------------
// history

let historyFor: string | null = null

async function openHistory(name: string): Promise<void> {
  historyFor = name
  els.dialogTitle.textContent = `${name}: history, last 7 days`
  fill(els.dialogBody, h('p', { class: 'loading' }, 'Loading…'))
  if (!els.dialog.open) els.dialog.showModal()
  try {
    const path = `/api/molts/${encodeURIComponent(name)}`
    // the series comes from the server's memory (a server without it: the history's checks are charted)
    const series = state.subscribed ? api<SeriesResponse>(`${path}/series?window=24h&points=288`).then((r) => r.data, () => null) : Promise.resolve(null)
    const { data } = await api<HistoryResponse>(`${path}/history?since=7d&limit=100`)
    const points = await series
    if (historyFor === name && data) renderHistory(els.dialogBody, data, points)
  } catch (error) {
    if (historyFor === name) fill(els.dialogBody, h('p', { class: 'notice tone-bad' }, `Cannot load the history: ${(error as Error).message}`))
  }
}

els.dialogClose.addEventListener('click', () => els.dialog.close())
// a click on the backdrop (the dialog element itself, outside its content) closes it
els.dialog.addEventListener('click', (event) => {
  if (event.target === els.dialog) els.dialog.close()
})
els.dialog.addEventListener('close', () => {
  historyFor = null
})

// ------------------------------------------------------------------------------------------

void refresh({ backups: true })
let lastPoll = Date.now()
setInterval(() => {
  renderFreshness()
  if (Date.now() - lastPoll >= REFRESH_MS) {
    lastPoll = Date.now()
    void refresh()
  }
}, 1000)
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible' && Date.now() - state.lastOk > REFRESH_MS) void refresh()
})
