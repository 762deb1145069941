/**
 * The Prometheus text exposition format (version 0.0.4): what node_exporter's textfile collector
 * reads from *.prom files and what a /metrics endpoint serves. Families are rendered in the order
 * given, samples sorted by their labels, so the same data always gives the same bytes.
 */
export type MetricType = 'gauge' | 'counter' | 'untyped' | 'histogram' | 'summary'
export type Labels = Record<string, string>

export interface Sample {
  labels: Labels
  value: number
  /** a histogram's or summary's own sample name (`x_bucket`); default: the family's */
  name?: string
}

export interface MetricFamily {
  name: string
  /** '' for none (only in families read from someone else's file) */
  help: string
  type: MetricType
  samples: Sample[]
}

export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/

export function isMetricName(name: string): boolean {
  return METRIC_NAME.test(name)
}

export function isLabelName(name: string): boolean {
  return LABEL_NAME.test(name) && !name.startsWith('__')
}

/** Label values: backslash, double quote and line feed are escaped; everything else is literal UTF-8. */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
}

/** HELP text: backslash and line feed are escaped (a double quote is not). */
export function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')
}

export function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN'
  if (value === Infinity) return '+Inf'
  if (value === -Infinity) return '-Inf'
  return String(value)
}

export function formatLabels(labels: Labels): string {
  const names = Object.keys(labels).sort()
  if (!names.length) return ''
  return `{${names.map((name) => `${name}="${escapeLabelValue(labels[name]!)}"`).join(',')}}`
}

/** A stable key for one series of a family: its sorted labels. */
export function seriesKey(labels: Labels): string {
  return formatLabels(labels)
}

export function renderFamilies(families: readonly MetricFamily[]): string {
  const out: string[] = []
  for (const family of families) {
    if (!isMetricName(family.name)) throw new Error(`invalid metric name ${JSON.stringify(family.name)}`)
    if (!family.samples.length) continue
    if (family.help) out.push(`# HELP ${family.name} ${escapeHelp(family.help)}\n`)
    out.push(`# TYPE ${family.name} ${family.type}\n`)
    const keyed = family.samples.map((sample) => {
      for (const name of Object.keys(sample.labels)) if (!isLabelName(name)) throw new Error(`invalid label name ${JSON.stringify(name)} on ${family.name}`)
      return { series: `${sample.name ?? family.name}${seriesKey(sample.labels)}`, value: sample.value }
    })
    // a histogram's lines keep the order they came in (buckets by le); ours are sorted
    if (family.type !== 'histogram' && family.type !== 'summary') keyed.sort((a, b) => (a.series < b.series ? -1 : a.series > b.series ? 1 : 0))
    const seen = new Set<string>()
    for (const { series, value } of keyed) {
      // two samples of one series make the whole scrape fail: a bug, not data to pass on
      if (seen.has(series)) throw new Error(`duplicate series ${series}`)
      seen.add(series)
      out.push(`${series} ${formatValue(value)}\n`)
    }
  }
  return out.join('')
}

/** Unix time in seconds, as Prometheus wants timestamps (milliseconds kept as decimals). */
export function unixSeconds(ms: number): number {
  return Math.round(ms) / 1000
}
