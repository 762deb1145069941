import { isLabelName, isMetricName, type Labels, type MetricType } from './exposition.ts'

/**
 * A strict reader of the text exposition format (0.0.4): it refuses what Prometheus or
 * node_exporter would refuse (bad names or escapes, a family split in two, TYPE after a sample,
 * a duplicate series, a missing final line feed) so tests catch it before a scrape does. The
 * textfile writer also reads its own file back with it to merge in place.
 */
export type ParsedType = MetricType | 'histogram' | 'summary'

export interface ParsedSample {
  /** the sample's own name (a histogram's `x_bucket`) */
  name: string
  labels: Labels
  value: number
  timestamp: number | null
}

export interface ParsedFamily {
  name: string
  help: string | null
  type: ParsedType
  samples: ParsedSample[]
}

export class ExpositionError extends Error {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(`line ${line}: ${message}`)
    this.name = 'ExpositionError'
  }
}

const TYPES: readonly ParsedType[] = ['counter', 'gauge', 'histogram', 'summary', 'untyped']
const SUFFIXES: Record<string, readonly string[]> = { histogram: ['_bucket', '_sum', '_count'], summary: ['_sum', '_count'] }
const FLOAT = /^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/

export function parseValue(text: string): number | null {
  if (text === 'NaN') return Number.NaN
  if (text === '+Inf' || text === 'Inf') return Infinity
  if (text === '-Inf') return -Infinity
  return FLOAT.test(text) ? Number(text) : null
}

export function parseExposition(text: string): ParsedFamily[] {
  if (text !== '' && !text.endsWith('\n')) throw new ExpositionError('the last line does not end with a line feed', text.split('\n').length)
  const families = new Map<string, ParsedFamily>()
  const closed = new Set<string>()
  const series = new Set<string>()
  const typed = new Set<string>()
  let current: ParsedFamily | null = null
  const lines = text.split('\n')
  lines.pop()

  const family = (name: string, lineNo: number): ParsedFamily => {
    let f = families.get(name)
    if (!f) {
      f = { name, help: null, type: 'untyped', samples: [] }
      families.set(name, f)
    }
    if (current !== f) {
      if (closed.has(name)) throw new ExpositionError(`metric family ${name} appears in two separate groups`, lineNo)
      if (current) closed.add(current.name)
      current = f
    }
    return f
  }

  for (const [index, raw] of lines.entries()) {
    const lineNo = index + 1
    const line = raw.replace(/^[ \t]+|[ \t]+$/g, '')
    if (line === '') continue
    if (line.startsWith('#')) {
      const match = /^#[ \t]+(HELP|TYPE)[ \t]+(\S+)(?:[ \t]+(.*))?$/.exec(line)
      if (!match) continue // a plain comment
      const [, keyword, name, rest = ''] = match
      if (!isMetricName(name!)) throw new ExpositionError(`invalid metric name ${JSON.stringify(name)}`, lineNo)
      const f = family(name!, lineNo)
      if (keyword === 'HELP') {
        if (f.help !== null) throw new ExpositionError(`second HELP line for ${name}`, lineNo)
        f.help = unescapeHelp(rest, lineNo)
      } else {
        if (f.samples.length) throw new ExpositionError(`TYPE line for ${name} after its samples`, lineNo)
        if (typed.has(f.name)) throw new ExpositionError(`second TYPE line for ${name}`, lineNo)
        if (!(TYPES as readonly string[]).includes(rest)) throw new ExpositionError(`unknown type ${JSON.stringify(rest)} for ${name}`, lineNo)
        f.type = rest as ParsedType
        typed.add(f.name)
      }
      continue
    }
    const sample = parseSample(line, lineNo)
    const owner = familyOf(sample.name, current, families)
    const f = family(owner, lineNo)
    const key = `${sample.name}${sortedLabels(sample.labels)}`
    if (series.has(key)) throw new ExpositionError(`duplicate series ${key}`, lineNo)
    series.add(key)
    f.samples.push(sample)
  }
  return [...families.values()]
}

/** `x_bucket` belongs to histogram `x` when x is declared as one; otherwise a sample is its own family. */
function familyOf(name: string, current: ParsedFamily | null, families: Map<string, ParsedFamily>): string {
  for (const candidate of [current, ...families.values()]) {
    if (!candidate) continue
    if (candidate.name === name) return name
    const suffixes = SUFFIXES[candidate.type] ?? []
    if (suffixes.some((s) => name === candidate.name + s)) return candidate.name
  }
  return name
}

function parseSample(line: string, lineNo: number): ParsedSample {
  const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line)
  if (!nameMatch) throw new ExpositionError(`not a sample: ${JSON.stringify(line.slice(0, 60))}`, lineNo)
  const name = nameMatch[0]
  let i = name.length
  const labels: Labels = {}
  if (line[i] === '{') {
    i++
    for (;;) {
      while (line[i] === ' ' || line[i] === '\t') i++
      if (line[i] === '}') {
        i++
        break
      }
      const labelMatch = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(line.slice(i))
      if (!labelMatch) throw new ExpositionError(`bad label name in ${name}`, lineNo)
      const label = labelMatch[0]
      if (!isLabelName(label)) throw new ExpositionError(`reserved label name ${label} in ${name}`, lineNo)
      if (Object.hasOwn(labels, label)) throw new ExpositionError(`label ${label} twice in ${name}`, lineNo)
      i += label.length
      while (line[i] === ' ' || line[i] === '\t') i++
      if (line[i] !== '=') throw new ExpositionError(`expected = after label ${label}`, lineNo)
      i++
      while (line[i] === ' ' || line[i] === '\t') i++
      if (line[i] !== '"') throw new ExpositionError(`expected a quoted value for label ${label}`, lineNo)
      i++
      let value = ''
      for (;;) {
        const c = line[i]
        if (c === undefined) throw new ExpositionError(`unterminated value of label ${label}`, lineNo)
        i++
        if (c === '"') break
        if (c === '\\') {
          const e = line[i++]
          if (e === '\\') value += '\\'
          else if (e === '"') value += '"'
          else if (e === 'n') value += '\n'
          else throw new ExpositionError(`invalid escape \\${e ?? ''} in label ${label}`, lineNo)
        } else value += c
      }
      labels[label] = value
      while (line[i] === ' ' || line[i] === '\t') i++
      if (line[i] === ',') i++
      else if (line[i] !== '}') throw new ExpositionError(`expected , or } after label ${label}`, lineNo)
    }
  }
  const rest = line.slice(i)
  if (rest !== '' && !/^[ \t]/.test(rest)) throw new ExpositionError(`expected a blank before the value of ${name}`, lineNo)
  const tokens = rest.trim().split(/[ \t]+/).filter(Boolean)
  if (tokens.length < 1 || tokens.length > 2) throw new ExpositionError(`expected a value (and an optional timestamp) for ${name}`, lineNo)
  const value = parseValue(tokens[0]!)
  if (value === null) throw new ExpositionError(`invalid value ${JSON.stringify(tokens[0])} for ${name}`, lineNo)
  let timestamp: number | null = null
  if (tokens[1] !== undefined) {
    if (!/^-?\d+$/.test(tokens[1])) throw new ExpositionError(`invalid timestamp ${JSON.stringify(tokens[1])} for ${name}`, lineNo)
    timestamp = Number(tokens[1])
  }
  return { name, labels, value, timestamp }
}

function unescapeHelp(text: string, lineNo: number): string {
  let out = ''
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!
    if (c !== '\\') {
      out += c
      continue
    }
    const e = text[++i]
    if (e === '\\') out += '\\'
    else if (e === 'n') out += '\n'
    else throw new ExpositionError(`invalid escape \\${e ?? ''} in HELP`, lineNo)
  }
  return out
}

function sortedLabels(labels: Labels): string {
  return JSON.stringify(Object.keys(labels).sort().map((k) => [k, labels[k]]))
}
