/**
 * `.molt-info` is shell KEY=VALUE text written by the molt's own user: untrusted.
 * It is parsed, never sourced; `$(…)` and backticks stay literal text.
 */
export interface MoltInfoParse {
  values: Record<string, string>
  /** lines that could not be read, 1-based */
  badLines: number[]
}

export function parseMoltInfo(text: string): MoltInfoParse {
  const values: Record<string, string> = {}
  const badLines: number[] = []
  const lines = text.split(/\r?\n/)
  lines.forEach((raw, index) => {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) return
    const match = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line)
    if (!match) {
      badLines.push(index + 1)
      return
    }
    const value = parseValue(match[2]!)
    if (value === null) badLines.push(index + 1)
    else values[match[1]!] = value
  })
  return { values, badLines }
}

/** One shell word: "double" (with \ escapes), 'single', or bare up to whitespace / a # comment. */
function parseValue(text: string): string | null {
  if (text.startsWith('"')) {
    let out = ''
    for (let i = 1; i < text.length; i++) {
      const c = text[i]!
      if (c === '\\' && i + 1 < text.length && '"\\$`'.includes(text[i + 1]!)) {
        out += text[++i]
      } else if (c === '"') {
        return trailingOk(text.slice(i + 1)) ? out : null
      } else {
        out += c
      }
    }
    return null
  }
  if (text.startsWith("'")) {
    const end = text.indexOf("'", 1)
    if (end < 0 || !trailingOk(text.slice(end + 1))) return null
    return text.slice(1, end)
  }
  const bare = /^([^\s#]*)/.exec(text)![1]!
  return trailingOk(text.slice(bare.length)) ? bare : null
}

function trailingOk(rest: string): boolean {
  const trimmed = rest.trim()
  return trimmed === '' || trimmed.startsWith('#')
}
