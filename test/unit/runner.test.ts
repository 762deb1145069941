import { describe, expect, test } from 'bun:test'
import type { ArgsDef } from 'citty'
import { UsageError } from '../../src/lib/errors.ts'
import { listArg } from '../../src/commands/_shared.ts'
import { parseCommandLine } from '../../src/command-line.ts'

const ARGS = {
  name: { type: 'positional', required: false },
  all: { type: 'boolean' },
  timeout: { type: 'string', default: '5000' },
  record: { type: 'boolean', default: true },
  format: { type: 'enum', options: ['text', 'nagios'], default: 'text' },
  lines: { type: 'string', alias: ['n', 'count'] },
  'alert-email': { type: 'string', repeatable: true, alias: ['e'] },
} as ArgsDef

describe('strict command-line parsing', () => {
  test('values, defaults, aliases and negation', () => {
    const { values, globals } = parseCommandLine(['mybot', '-n', '3', '--no-record', '-v', '-d', '/srv/fleet'], ARGS)
    expect(values).toMatchObject({ name: 'mybot', lines: '3', record: false, timeout: '5000', format: 'text' })
    expect(globals).toMatchObject({ verbose: true, baseDirFlag: '/srv/fleet', quiet: false })
    expect(parseCommandLine(['--count=7', '--timeout=10'], ARGS).values).toMatchObject({ lines: '7', timeout: '10' })
  })

  test.each([
    [['--bogus'], 'unknown option "--bogus"'],
    [['-x'], 'unknown option "-x"'],
    [['a', 'b'], 'unexpected argument "b"'],
    [['--timeout'], 'option --timeout needs a value'],
    [['--all=yes'], 'option --all takes no value'],
    [['--format', 'xml'], 'invalid value "xml" for --format: expected one of text, nagios'],
    [['--no-bogus'], 'unknown option "--no-bogus"'],
  ])('%p → usage error', (argv, message) => {
    expect(() => parseCommandLine(argv, ARGS)).toThrow(UsageError)
    expect(() => parseCommandLine(argv, ARGS)).toThrow(message)
  })

  test('a required positional must be given', () => {
    expect(() => parseCommandLine([], { name: { type: 'positional', required: true } })).toThrow('missing argument <name>')
  })

  test('everything after -- is positional', () => {
    expect(parseCommandLine(['--', '--weird'], ARGS).values.name).toBe('--weird')
  })
})

test('a repeatable option collects every value, across aliases', () => {
  expect(parseCommandLine(['--alert-email', 'a@x', '-e', 'b@y', '--alert-email=c@z'], ARGS).values['alert-email']).toEqual(['a@x', 'b@y', 'c@z'])
  expect(listArg(['a@x,b@y', ' c@z ', ''])).toEqual(['a@x', 'b@y', 'c@z'])
  expect(listArg(undefined)).toEqual([])
  expect(parseCommandLine(['--lines', '1', '--lines', '2'], ARGS).values.lines).toBe('2')
})
