import { describe, expect, test } from 'bun:test'
import { assertMoltName, isMoltName } from '../../src/fleet/names.ts'
import { InputError } from '../../src/lib/errors.ts'

describe('molt names are Linux user names', () => {
  test.each(['mybot', 'a', '_svc', 'bot-1', 'bot_2', 'a'.repeat(32), 'x9-_'])('valid: %p', (name) => {
    expect(isMoltName(name)).toBe(true)
    expect(assertMoltName(name)).toBe(name)
  })

  test.each(['', '..', '../x', 'a/b', 'a;b', 'a;rm -rf /', '$(id)', '`id`', 'a'.repeat(33), 'MyBot', 'Bot', '1bot', '-bot', 'bot\n', 'bot ', ' bot', 'bo t', 'bot.1', 'é'])(
    'invalid: %p',
    (name) => {
      expect(isMoltName(name)).toBe(false)
      expect(() => assertMoltName(name)).toThrow(InputError)
    },
  )

  test('the error quotes the name so control characters never reach the terminal', () => {
    expect(() => assertMoltName('a\x1b[31mb')).toThrow('"a\\u001b[31mb"')
  })
})
