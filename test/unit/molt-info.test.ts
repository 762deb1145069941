import { describe, expect, test } from 'bun:test'
import { parseMoltInfo } from '../../src/fleet/molt-info.ts'

describe('.molt-info is parsed as KEY=VALUE text, never executed', () => {
  const cases: [string, string, Record<string, string>, number[]][] = [
    ['bare values', 'MOLT_NAME=mybot\nMOLT_PORT=19001\n', { MOLT_NAME: 'mybot', MOLT_PORT: '19001' }, []],
    ['double quotes with escapes', 'MOLT_HOME="/home/my bot"\nX="a\\"b\\\\c"', { MOLT_HOME: '/home/my bot', X: 'a"b\\c' }, []],
    ['single quotes are literal', "X='$(id) `id` \\n'", { X: '$(id) `id` \\n' }, []],
    ['an unquoted command substitution is a bad line, not a command', 'MOLT_PORT=$(rm -rf /)', {}, [1]],
    ['a quoted command substitution stays text', 'MOLT_PORT="$(rm -rf /)"', { MOLT_PORT: '$(rm -rf /)' }, []],
    ['export prefix and comments', '# made by molt create\nexport CREATED=2026-01-15 # today\n\n', { CREATED: '2026-01-15' }, []],
    ['CRLF line ends', 'A=1\r\nB=2\r\n', { A: '1', B: '2' }, []],
    ['unterminated quote is a bad line', 'A="open\nB=2', { B: '2' }, [1]],
    ['garbage lines are counted', 'not a pair\n=x\n1A=2\nOK=yes', { OK: 'yes' }, [1, 2, 3]],
    ['empty value', 'RESTORED=\n', { RESTORED: '' }, []],
    ['trailing text after a quote is refused', 'A="x"; rm -rf /', {}, [1]],
  ]
  test.each(cases)('%s', (_label, text, values, badLines) => {
    const parsed = parseMoltInfo(text)
    expect(parsed.values).toEqual(values)
    expect(parsed.badLines).toEqual(badLines)
  })
})
