/// <reference lib="dom" />
import type { DashboardMolt } from '../types.ts'
import { h } from './dom.ts'
import { ago, duration, formatMs, formatPercent } from './format.ts'
import { GROUP_HELP, groupOf, silenceOf } from './order.ts'
import { renderCardBody, statusBadge } from './view.ts'

/**
 * One molt as a card or as a table row. Each keeps what it last showed: an item is redrawn only
 * when what it would show changed, so a refresh with nothing new touches nothing (focus, hover,
 * an open <details> and text selection stay as they were).
 */

export interface ItemActions {
  open(name: string): void
  check(name: string, item: Item): Promise<void>
}

export interface Item {
  root: HTMLElement
  note: HTMLElement
  button: HTMLButtonElement
  label: string
  shown: string
}

/** What the item shows, as one string: the server's changing counters (ages) are replaced by their text. */
function signature(m: DashboardMolt, now: number): string {
  const { age_seconds: _, incident, ...rest } = m
  return JSON.stringify([rest, incident && { ...incident, duration_ms: duration(now - Date.parse(incident.since)) }, m.checked_at && ago(m.checked_at, now)])
}

function statusCell(m: DashboardMolt): HTMLElement {
  const badge = statusBadge(m.health)
  const group = groupOf(m)
  badge.title = GROUP_HELP[group]
  return badge
}

function silenceBadge(m: DashboardMolt, now: number): HTMLElement | null {
  const s = silenceOf(m)
  if (!s) return null
  const until = s.until ? ` until ${new Date(s.until).toLocaleString(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' })}` : ''
  const left = s.until ? ` (${duration(Date.parse(s.until) - now)} left)` : ''
  return h('span', { class: 'chip tone-none silence', title: `notices held${s.reason ? `: ${s.reason}` : ''}` }, `silenced${until}${left}${s.reason ? ` · ${s.reason}` : ''}`)
}

export function createCard(name: string, actions: ItemActions): Item {
  const open = h('button', { type: 'button', class: 'card-name', 'aria-haspopup': 'dialog', title: `History of ${name}` }, name)
  const badge = h('span', { class: 'badge' })
  const body = h('div', { class: 'card-body' })
  const note = h('p', { class: 'card-note', 'aria-live': 'polite' })
  const button = h('button', { type: 'button', class: 'check-now' }, 'Check now')
  const root = h('article', { class: 'card', 'data-molt': name }, h('div', { class: 'card-head' }, h('h3', {}, open), badge), body, h('div', { class: 'card-foot' }, note, button))
  const item: Item = { root, note, button, label: 'Check now', shown: '' }
  open.addEventListener('click', () => actions.open(name))
  button.addEventListener('click', (event) => {
    event.stopPropagation()
    void actions.check(name, item)
  })
  // the whole card opens the history, except its own controls and the warnings it unfolds
  root.addEventListener('click', (event) => {
    const target = event.target as Element
    if (target.closest('button, a, details, summary')) return
    if (window.getSelection()?.toString()) return
    actions.open(name)
  })
  return item
}

export function updateCard(item: Item, m: DashboardMolt, now: number): void {
  const sig = signature(m, now)
  if (sig === item.shown) return
  item.shown = sig
  const badge = statusCell(m)
  const head = item.root.querySelector('.card-head')!
  head.replaceChildren(head.firstChild!, badge)
  item.root.className = `card tone-${badge.dataset.tone}${m.stale ? ' is-stale' : ''}${silenceOf(m) ? ' is-silenced' : ''}`
  item.root.dataset.status = m.health ?? 'no-data'
  item.root.dataset.group = groupOf(m)
  const body = item.root.querySelector<HTMLElement>('.card-body')!
  renderCardBody(body, m, now)
  const silence = silenceBadge(m, now)
  if (silence) body.prepend(h('p', { class: 'silenced' }, silence))
}

export const TABLE_COLUMNS = ['molt', 'status', 'since', 'reason', 'response', 'uptime 24 h', 'checked', '']

export function createRow(name: string, actions: ItemActions): Item {
  const open = h('button', { type: 'button', class: 'row-name', 'aria-haspopup': 'dialog', title: `History of ${name}` }, name)
  const button = h('button', { type: 'button', class: 'check-now small' }, 'Check')
  const note = h('span', { class: 'card-note', 'aria-live': 'polite' })
  const root = h('tr', { class: 'row', 'data-molt': name }, h('th', { scope: 'row' }, open), h('td', { class: 'c-status' }), h('td', { class: 'c-since' }), h('td', { class: 'c-reason' }), h('td', { class: 'c-ms num' }), h('td', { class: 'c-uptime num' }), h('td', { class: 'c-checked' }), h('td', { class: 'c-action' }, button, note))
  const item: Item = { root, note, button, label: 'Check', shown: '' }
  open.addEventListener('click', () => actions.open(name))
  button.addEventListener('click', () => void actions.check(name, item))
  return item
}

export function updateRow(item: Item, m: DashboardMolt, now: number): void {
  const sig = signature(m, now)
  if (sig === item.shown) return
  item.shown = sig
  const cell = (c: string) => item.root.querySelector<HTMLElement>(`.c-${c}`)!
  const badge = statusCell(m)
  const group = groupOf(m)
  item.root.className = `row tone-${badge.dataset.tone}${m.stale ? ' is-stale' : ''}`
  item.root.dataset.status = m.health ?? 'no-data'
  item.root.dataset.group = group
  const chips: (HTMLElement | null)[] = [silenceBadge(m, now)]
  if (m.phase === 'down') chips.push(h('span', { class: 'chip tone-bad' }, 'DOWN'))
  if (m.phase === 'pending') chips.push(h('span', { class: 'chip tone-warn', title: 'failing, not yet DOWN: no alert sent yet' }, `pending ${m.consecutive_failures ?? '?'}/${m.threshold ?? '?'}`))
  if (m.stale && m.checked_at) chips.push(h('span', { class: 'chip tone-none' }, 'stale'))
  if (m.watcher_stopped) chips.push(h('span', { class: 'chip tone-bad', title: 'no watch run for 3 intervals: nothing checks it and no alert would come' }, 'watch stopped'))
  cell('status').replaceChildren(badge, ...chips.filter((c) => c !== null).flatMap((c) => [' ', c!]))
  const since = m.incident ? Date.parse(m.incident.since) : NaN
  cell('since').replaceChildren(Number.isNaN(since) ? '' : h('time', { datetime: m.incident!.since, title: m.incident!.since }, duration(now - since)))
  const reason = m.health === 'healthy' ? '' : (m.reason ?? m.incident?.reason ?? (m.http_status ? `HTTP ${m.http_status}` : ''))
  cell('reason').textContent = reason
  cell('reason').title = reason
  cell('ms').textContent = formatMs(m.response_time_ms)
  cell('uptime').textContent = formatPercent(m.uptime['24h'].percent)
  cell('checked').replaceChildren(m.checked_at ? h('time', { datetime: m.checked_at, title: m.checked_at }, ago(m.checked_at, now)) : 'never')
}
