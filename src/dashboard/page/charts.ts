/// <reference lib="dom" />
import type { RecentPoint } from '../types.ts'
import { chartModel, nearestPoint, timelineLanes, timeTicks, type TimelineIncident } from './axes.ts'
import { h, svg } from './dom.ts'
import { duration, formatMs, toneOf } from './format.ts'

/**
 * Inline SVG charts with axes and a hover read-out (no chart library): a molt's response times,
 * the fleet's incidents on one time axis. Both answer the keyboard as well as the pointer.
 */

const localOffset = () => -new Date().getTimezoneOffset() * 60_000
const hhmm = (t: number) => new Date(t).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' })
const day = (t: number) => new Date(t).toLocaleDateString(undefined, { month: 'short', day: 'numeric' })
export const when = (t: number) => `${day(t)} ${hhmm(t)}`

/** "03:00", or the date at midnight and for steps of a day and more. */
function tickLabel(t: number, step: number): string {
  const d = new Date(t)
  return step >= 86_400_000 || (d.getHours() === 0 && d.getMinutes() === 0) ? day(t) : hhmm(t)
}

function placeTip(tip: HTMLElement, box: HTMLElement, x: number, y: number): void {
  tip.hidden = false
  const width = box.clientWidth
  tip.style.left = `${Math.max(0, Math.min(x + 12, width - tip.offsetWidth))}px`
  tip.style.top = `${Math.max(0, y - tip.offsetHeight - 8)}px`
}

// ------------------------------------------------------------------------------------------

const BOX = { width: 640, height: 200, left: 52, right: 12, top: 10, bottom: 24 }

/** `details[i]`, when given, is added to point i's read-out (a bucket's max and count). */
export function responseChart(recent: RecentPoint[], details: (string | null)[] = []): HTMLElement {
  const model = chartModel(recent, BOX, localOffset())
  const tip = h('div', { class: 'chart-tip', role: 'status', hidden: true })
  const answered = model.points.filter((p) => p.ms !== null).length
  const label = recent.length ? `response time of the last ${recent.length} checks, ${answered} answered; use the arrow keys to read each check` : 'no checks yet'
  const guide = svg('line', { class: 'chart-guide', y1: BOX.top, y2: BOX.height - BOX.bottom, visibility: 'hidden' })
  const dot = svg('circle', { class: 'chart-dot', r: 3.5, visibility: 'hidden' })
  const plotBottom = BOX.height - BOX.bottom
  const chart = svg(
    'svg',
    { class: 'chart', viewBox: `0 0 ${BOX.width} ${BOX.height}`, role: 'img', 'aria-label': label, tabindex: recent.length ? 0 : null },
    ...model.yTicks.flatMap((t) => [svg('line', { class: 'grid', x1: BOX.left, x2: BOX.width - BOX.right, y1: t.y, y2: t.y }), svg('text', { class: 'axis y', x: BOX.left - 6, y: t.y + 4 }, `${t.value} ms`)]),
    ...model.xTicks.flatMap((t) => [svg('line', { class: 'tick', x1: t.x, x2: t.x, y1: plotBottom, y2: plotBottom + 4 }), svg('text', { class: 'axis x', x: t.x, y: BOX.height - 6 }, tickLabel(t.t, model.xStep))]),
    svg('line', { class: 'axis-line', x1: BOX.left, x2: BOX.width - BOX.right, y1: plotBottom, y2: plotBottom }),
    ...model.points.filter((p) => p.status !== 'healthy').map((p) => svg('line', { class: 'spark-fail', x1: p.x, x2: p.x, y1: plotBottom - 8, y2: plotBottom })),
    model.path ? svg('path', { class: 'spark-line', d: model.path }) : null,
    guide,
    dot,
    // the hover target: the whole plot, so the pointer need not find the line
    svg('rect', { class: 'chart-hit', x: BOX.left, y: BOX.top, width: BOX.width - BOX.left - BOX.right, height: plotBottom - BOX.top }),
  )
  const box = h('div', { class: 'chart-box' }, chart, tip)
  let current = -1
  const show = (i: number) => {
    const p = model.points[i]
    if (!p) return
    current = i
    guide.setAttribute('x1', String(p.x))
    guide.setAttribute('x2', String(p.x))
    guide.setAttribute('visibility', 'visible')
    dot.setAttribute('cx', String(p.x))
    dot.setAttribute('cy', String(p.y ?? plotBottom))
    dot.setAttribute('class', `chart-dot tone-${toneOf(p.status)}`)
    dot.setAttribute('visibility', 'visible')
    const detail = details[i] ? ` (${details[i]})` : ''
    tip.textContent = `${when(p.t)} · ${p.ms === null ? `no answer (${p.status})` : `${formatMs(p.ms)}${p.status === 'healthy' ? '' : ` (${p.status})`}`}${detail}`
    const scale = chart.getBoundingClientRect().width / BOX.width || 1
    placeTip(tip, box, p.x * scale, (p.y ?? plotBottom) * scale)
  }
  const hide = () => {
    guide.setAttribute('visibility', 'hidden')
    dot.setAttribute('visibility', 'hidden')
    tip.hidden = true
  }
  chart.addEventListener('pointermove', (event) => {
    const rect = chart.getBoundingClientRect()
    show(nearestPoint(model.points, ((event.clientX - rect.left) / rect.width) * BOX.width))
  })
  chart.addEventListener('pointerleave', hide)
  chart.addEventListener('blur', hide)
  chart.addEventListener('keydown', (event) => {
    const moves: Record<string, number> = { ArrowLeft: current - 1, ArrowRight: current + 1, Home: 0, End: model.points.length - 1 }
    if (!(event.key in moves)) return
    event.preventDefault()
    show(Math.max(0, Math.min(model.points.length - 1, current < 0 ? model.points.length - 1 : moves[event.key]!)))
  })
  return box
}

// ------------------------------------------------------------------------------------------

const KIND_LABEL = { host: 'host problem', 'watcher-stopped': 'watch stopped', silence: 'silenced' } as const
const LANE_H = 16
const NAME_W = 150
const AXIS_H = 22
/** Lanes drawn at most; the rest are counted below. The box scrolls past about a dozen. */
export const MAX_LANES = 200

export function renderTimeline(el: HTMLElement, incidents: TimelineIncident[], windowMs: number, now: number): void {
  const from = now - windowMs
  const all = timelineLanes(incidents, from, now)
  const lanes = all.slice(0, MAX_LANES)
  if (!lanes.length) {
    el.replaceChildren(h('p', { class: 'empty' }, `No incidents in the last ${windowMs > 86_400_000 ? '7 days' : '24 hours'}.`))
    return
  }
  const width = Math.max(280, (el.clientWidth || 1000) - 20)
  const plotW = width - NAME_W - 10
  const height = lanes.length * LANE_H
  const xOf = (f: number) => Math.round((NAME_W + f * plotW) * 10) / 10
  const ticks = timeTicks(from, now, Math.max(2, Math.floor(plotW / 110)), localOffset())
  const tickX = ticks.ticks.map((t) => ({ t, x: xOf((t - from) / windowMs) }))
  const tip = h('div', { class: 'chart-tip', role: 'status', hidden: true })
  const chart = svg(
    'svg',
    { class: 'timeline', viewBox: `0 0 ${width} ${height}`, width, height, role: 'group', 'aria-label': `incidents of ${all.length} molts on one time axis; the arrow keys go from one to the next` },
    ...tickX.map(({ x }) => svg('line', { class: 'grid', x1: x, x2: x, y1: 0, y2: height })),
    ...lanes.flatMap((lane, i) => {
      const y = i * LANE_H
      return [
        svg('text', { class: 'lane-name', x: NAME_W - 8, y: y + LANE_H - 4 }, lane.molt),
        ...lane.bars.map((b) => {
          const x = xOf(b.from)
          const i = b.incident
          const what = i.kind === 'molt' ? i.status : KIND_LABEL[i.kind]
          const text = `${i.molt} · ${what} since ${when(i.start)} · ${i.end === null ? `ongoing, ${duration(now - i.start)}` : `${duration(i.end - i.start)}, until ${hhmm(i.end)}`}${i.reason ? ` · ${i.reason}` : ''}`
          // a silence: a thin band under the lane's bars, a stopped watch one above them, so an outage stays visible
          const band = i.kind === 'silence' ? { y: y + LANE_H - 3, height: 3 } : i.kind === 'watcher-stopped' ? { y: y, height: 3 } : { y: y + 4, height: LANE_H - 8 }
          return svg('rect', { class: `bar kind-${i.kind} tone-${i.kind === 'silence' ? 'none' : toneOf(i.status)}${i.end === null ? ' is-ongoing' : ''}`, x, ...band, width: Math.max(3, xOf(b.to) - x), rx: i.kind === 'molt' ? 2 : 0, tabindex: -1, 'data-molt': i.molt, 'data-tip': text, 'aria-label': text })
        }),
      ]
    }),
  )
  // the axis stays in view below the lanes, however far they scroll
  const axis = svg(
    'svg',
    { class: 'timeline timeline-axis', viewBox: `0 0 ${width} ${AXIS_H}`, width, height: AXIS_H, 'aria-hidden': 'true' },
    svg('line', { class: 'axis-line', x1: NAME_W, x2: width - 10, y1: 0.5, y2: 0.5 }),
    ...tickX.flatMap(({ t, x }) => [svg('line', { class: 'tick', x1: x, x2: x, y1: 0, y2: 4 }), svg('text', { class: 'axis x', x, y: AXIS_H - 5 }, tickLabel(t, ticks.step))]),
  )
  const lanesBox = h('div', { class: 'timeline-lanes' }, chart)
  const box = h('div', { class: 'chart-box' }, lanesBox, axis, tip)
  const show = (bar: Element | null, x?: number) => {
    if (!bar?.classList.contains('bar')) return void (tip.hidden = true)
    tip.textContent = bar.getAttribute('data-tip')
    const r = bar.getBoundingClientRect()
    const b = box.getBoundingClientRect()
    placeTip(tip, box, (x ?? r.left + r.width / 2) - b.left, r.top - b.top)
  }
  chart.addEventListener('pointermove', (event) => show(event.target as Element, event.clientX))
  chart.addEventListener('pointerleave', () => (tip.hidden = true))
  chart.addEventListener('focusin', (event) => show(event.target as Element))
  chart.addEventListener('focusout', () => (tip.hidden = true))
  lanesBox.addEventListener('scroll', () => (tip.hidden = true))
  // one Tab stop for the whole chart (a storm can draw a hundred bars): the arrow keys go from bar to bar
  const bars = [...chart.querySelectorAll<SVGElement>('.bar')]
  bars[0]?.setAttribute('tabindex', '0')
  chart.addEventListener('keydown', (event) => {
    const step = { ArrowDown: 1, ArrowRight: 1, ArrowUp: -1, ArrowLeft: -1 }[event.key]
    const at = bars.indexOf(event.target as SVGElement)
    if (!step || at < 0) return
    event.preventDefault()
    const next = bars[Math.max(0, Math.min(bars.length - 1, at + step))]!
    bars[at]!.setAttribute('tabindex', '-1')
    next.setAttribute('tabindex', '0')
    next.focus()
  })
  const more = all.length > lanes.length && h('p', { class: 'more' }, `and ${all.length - lanes.length} more molts with incidents in this window`)
  const kinds = new Set(incidents.map((i) => i.kind))
  const key = (cls: string, text: string) => h('span', { class: 'key' }, h('span', { class: `swatch ${cls}`, 'aria-hidden': 'true' }), text)
  const count = h(
    'p',
    { class: 'timeline-count' },
    `${all.length} lane${all.length === 1 ? '' : 's'} with incidents${all.length > 12 ? ' (scroll for more)' : ''}`,
    key('tone-bad', 'down, dead or stopped'),
    key('tone-warn', 'unhealthy'),
    kinds.has('watcher-stopped') && key('kind-watcher-stopped', 'watch stopped (thin, above)'),
    kinds.has('silence') && key('kind-silence', 'silenced (thin, below)'),
  )
  // a redraw keeps the reader's place: the lanes' scroll, the bar that had the focus
  const scrolled = el.querySelector('.timeline-lanes')?.scrollTop ?? 0
  const focused = el.contains(document.activeElement) ? document.activeElement?.getAttribute('data-molt') : null
  el.replaceChildren(box, count, ...(more ? [more] : []))
  lanesBox.scrollTop = scrolled
  if (focused) chart.querySelector<SVGElement>(`.bar[data-molt="${CSS.escape(focused)}"]`)?.focus()
}
