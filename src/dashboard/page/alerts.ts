/// <reference lib="dom" />
import type { FleetAlert, MoltsResponse } from '../types.ts'
import { fill, h } from './dom.ts'
import { ago, duration } from './format.ts'

/**
 * The fleet as a whole: the red banner (the watcher stopped, host checks failing, logs too large,
 * broken config: what the server lists in `alerts`, most severe first) and the silences in force.
 * Redrawn only when they change, so a screen reader hears a new alert once.
 */

const SHOWN_MOLTS = 8
let shownAlerts = ''
let shownSilences = ''

const localTime = (iso: string) => new Date(iso).toLocaleString(undefined, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' })

function alertItem(a: FleetAlert, now: number): HTMLElement {
  const more = a.molts.length > SHOWN_MOLTS ? ` and ${a.molts.length - SHOWN_MOLTS} more` : ''
  return h(
    'li',
    { class: `alert is-${a.severity}`, 'data-kind': a.kind },
    h('strong', {}, a.severity === 'critical' ? '✕ ' : '! ', a.summary),
    a.since && h('span', { class: 'alert-since' }, ' · since ', h('time', { datetime: a.since, title: a.since }, ago(a.since, now))),
    a.molts.length > 0 && h('span', { class: 'alert-molts' }, ` · ${a.molts.slice(0, SHOWN_MOLTS).join(', ')}${more}`),
  )
}

export function renderAlerts(el: HTMLElement, fleet: MoltsResponse, now: number): void {
  const alerts = fleet.alerts ?? []
  const key = JSON.stringify([alerts, Math.floor(now / 60_000)])
  if (key === shownAlerts) return
  shownAlerts = key
  el.hidden = alerts.length === 0
  el.className = `alerts${alerts.some((a) => a.severity === 'critical') ? ' is-critical' : ''}`
  fill(el, alerts.length ? h('ul', {}, ...alerts.map((a) => alertItem(a, now))) : null)
}

export function renderSilences(el: HTMLElement, fleet: MoltsResponse, now: number): void {
  const active = (fleet.silences ?? []).filter((s) => s.state === 'active')
  const key = JSON.stringify([active, Math.floor(now / 60_000)])
  if (key === shownSilences) return
  shownSilences = key
  el.hidden = active.length === 0
  fill(
    el,
    active.length > 0 && h('span', { class: 'silences-title' }, `${active.length} silence${active.length === 1 ? '' : 's'} in force: `),
    ...active.flatMap((s, i) => [
      i > 0 && ' · ',
      h(
        'span',
        { class: 'silence-item', 'data-target': s.target },
        h('strong', {}, s.target === '*' ? 'the whole fleet' : s.target),
        ` until ${localTime(s.end)} (${duration(Date.parse(s.end) - now)} left)`,
        s.reason && ` — ${s.reason}`,
        s.by && ` (by ${s.by})`,
        s.held > 0 && `, ${s.held} notice${s.held === 1 ? '' : 's'} held`,
      ),
    ]),
  )
}
