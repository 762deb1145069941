/// <reference lib="dom" />
import type { HealthRecord } from '../../health/record.ts'
import type { BackupEntry, DashboardMolt, ErrorResponse, HistoryResponse, MoltsResponse } from '../types.ts'
import { fill, h } from './dom.ts'
import { ago, backupVerdict, summaryParts } from './format.ts'
import { renderBackups, renderCardBody, renderHistory, statusBadge } from './view.ts'

/**
 * The dashboard page: polls the JSON API, renders a card per molt, a backups panel and a
 * molt's history on demand. Says so when its data is stale or the server is gone.
 */

const REFRESH_MS = 15_000
const BACKUPS_EVERY = 4 // refreshes: archives change daily, and listing them reads every file's head
const STALE_MS = 45_000
const REQUEST_TIMEOUT_MS = 20_000

class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message)
  }
}

async function api<T>(path: string, init: RequestInit = {}): Promise<{ data: T; response: Response }> {
  const controller = new AbortController()
  const timer = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS)
  let response: Response
  try {
    response = await fetch(path, { ...init, signal: controller.signal, cache: 'no-store', credentials: 'same-origin', headers: { Accept: 'application/json' } })
  } catch {
    throw new ApiError(0, 'the dashboard server does not answer')
  } finally {
    clearTimeout(timer)
  }
  const body = (await response.json().catch(() => null)) as T | ErrorResponse | null
  if (!response.ok) throw new ApiError(response.status, (body as ErrorResponse | null)?.error ?? `HTTP ${response.status}`)
  return { data: body as T, response }
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T

const els = {
  summary: $('summary'),
  backupAge: $('backup-age'),
  freshness: $('freshness'),
  banner: $('banner'),
  cards: $('cards'),
  backups: $('backups'),
  logout: $<HTMLFormElement>('logout'),
  dialog: $<HTMLDialogElement>('history'),
  dialogTitle: $('history-title'),
  dialogBody: $('history-body'),
  dialogClose: $<HTMLButtonElement>('history-close'),
}

interface Card {
  root: HTMLElement
  badge: HTMLElement
  body: HTMLElement
  note: HTMLElement
  check: HTMLButtonElement
}

const state = {
  fleet: null as MoltsResponse | null,
  lastOk: 0,
  error: null as ApiError | null,
  backups: null as BackupEntry[] | null,
  backupsError: null as string | null,
  refreshes: 0,
  inFlight: null as Promise<void> | null,
}
const cards = new Map<string, Card>()

// ------------------------------------------------------------------------------------------
// fleet

async function refresh(options: { backups?: boolean } = {}): Promise<void> {
  // one poll at a time; a click on "check now" waits for the running one and asks again
  if (state.inFlight) await state.inFlight
  const run = (async () => {
    const wantBackups = options.backups ?? state.refreshes % BACKUPS_EVERY === 0
    state.refreshes++
    try {
      const { data, response } = await api<MoltsResponse>('/api/molts')
      state.fleet = data
      state.lastOk = Date.now()
      state.error = null
      els.logout.hidden = response.headers.get('x-clmnt-auth') !== 'cookie'
    } catch (error) {
      state.error = error as ApiError
    }
    if (wantBackups && !state.error) {
      try {
        state.backups = (await api<BackupEntry[]>('/api/backups')).data
        state.backupsError = null
      } catch (error) {
        state.backupsError = (error as Error).message
      }
    }
    render()
  })()
  state.inFlight = run
  try {
    await run
  } finally {
    if (state.inFlight === run) state.inFlight = null
  }
}

function render(): void {
  const fleet = state.fleet
  if (fleet) {
    renderSummary(fleet)
    renderCards(fleet.molts)
  }
  renderBackupsPanel()
  renderFreshness()
}

function renderSummary(fleet: MoltsResponse): void {
  const parts = summaryParts(fleet.counts)
  const nodes: (Node | string)[] = []
  parts.forEach((p, i) => {
    if (i) nodes.push(' · ')
    nodes.push(h('span', { class: `count tone-${p.tone}`, 'data-count': p.key }, p.text))
  })
  if (!parts.length) nodes.push('no molts in this fleet')
  fill(els.summary, ...nodes)
  // the tab says it too, for an operator who keeps the dashboard open in the background
  const c = fleet.counts
  const down = c.unhealthy + c.dead + c.stopped + c.unknown
  document.title = `${down ? `(${down} down) ` : ''}clmnt · fleet dashboard`
  for (const warning of fleet.warnings) els.summary.append(h('span', { class: 'fleet-warning' }, ` ⚠ ${warning}`))
}

function renderCards(molts: DashboardMolt[]): void {
  const now = Date.now()
  const seen = new Set<string>()
  for (const molt of molts) {
    seen.add(molt.name)
    let card = cards.get(molt.name)
    if (!card) {
      card = createCard(molt.name)
      cards.set(molt.name, card)
    }
    updateCard(card, molt, now)
  }
  for (const [name, card] of cards) {
    if (!seen.has(name)) {
      card.root.remove()
      cards.delete(name)
    }
  }
  // keep the API's order (by name) without rebuilding, so focus stays where it was
  molts.forEach((molt, i) => {
    const root = cards.get(molt.name)!.root
    if (els.cards.children[i] !== root) els.cards.insertBefore(root, els.cards.children[i] ?? null)
  })
  if (!molts.length) fill(els.cards, h('p', { class: 'empty' }, 'No molts found: no molts.json entries and no folders with .molt-info.'))
  else els.cards.querySelector('.empty')?.remove()
}

function createCard(name: string): Card {
  const open = h('button', { type: 'button', class: 'card-name', 'aria-haspopup': 'dialog', title: `History of ${name}` }, name)
  const badge = h('span', { class: 'badge' })
  const body = h('div', { class: 'card-body' })
  const note = h('p', { class: 'card-note', 'aria-live': 'polite' })
  const check = h('button', { type: 'button', class: 'check-now' }, 'Check now')
  const root = h('article', { class: 'card', 'data-molt': name }, h('div', { class: 'card-head' }, h('h3', {}, open), badge), body, h('div', { class: 'card-foot' }, note, check))
  const card: Card = { root, badge, body, note, check }
  open.addEventListener('click', () => void openHistory(name))
  check.addEventListener('click', (event) => {
    event.stopPropagation()
    void checkNow(name, card)
  })
  // the whole card opens the history, except its own controls and the warnings it unfolds
  root.addEventListener('click', (event) => {
    const target = event.target as Element
    if (target.closest('button, a, details, summary')) return
    if (window.getSelection()?.toString()) return
    void openHistory(name)
  })
  return card
}

function updateCard(card: Card, molt: DashboardMolt, now: number): void {
  const badge = statusBadge(molt.health)
  card.badge.className = badge.className
  card.badge.replaceChildren(...badge.childNodes)
  card.root.className = `card tone-${badge.dataset.tone}${molt.stale ? ' is-stale' : ''}`
  card.root.dataset.status = molt.health ?? 'no-data'
  renderCardBody(card.body, molt, now)
}

async function checkNow(name: string, card: Card): Promise<void> {
  card.check.disabled = true
  card.check.textContent = 'Checking…'
  card.root.setAttribute('aria-busy', 'true')
  card.note.className = 'card-note'
  card.note.textContent = ''
  try {
    const { data } = await api<HealthRecord>(`/api/molts/${encodeURIComponent(name)}/check`, { method: 'POST' })
    card.note.textContent = `checked just now: ${data.status}`
    await refresh({ backups: false })
  } catch (error) {
    card.note.className = 'card-note is-error'
    card.note.textContent = `check failed: ${(error as Error).message}`
  } finally {
    card.check.disabled = false
    card.check.textContent = 'Check now'
    card.root.removeAttribute('aria-busy')
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
    const { data } = await api<HistoryResponse>(`/api/molts/${encodeURIComponent(name)}/history?since=7d&limit=100`)
    if (historyFor === name) renderHistory(els.dialogBody, data)
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
setInterval(() => void refresh(), REFRESH_MS)
setInterval(renderFreshness, 1000)
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible' && Date.now() - state.lastOk > REFRESH_MS) void refresh()
})
