import { describe, expect, test } from 'bun:test'
import { clmntJobMolt, diffCrontab, legacyJobMolt, scanCrontab, setEntry, splitLines } from '../../src/schedule/crontab-edit.ts'

const job = (molt: string, interval = 5) =>
  `*/${interval} * * * * '/opt/clmnt/dist/clmnt' 'molt' 'health' 'watch' '${molt}' '--base-dir' '/srv/fleet' '--interval' '${interval}' 2>&1 >/dev/null | '/usr/bin/tee' '/srv/fleet/${molt}/.molt-state/cron.err'`
const block = (molt: string, interval = 5) => [`# MOLT-HEALTH-WATCH ${molt} every ${interval} min, offset 0 (clmnt molt health setup)`, job(molt, interval)]
const text = (lines: string[]) => lines.map((l) => `${l}\n`).join('')
const legacy = (molt: string) => ['# MOLT-HEALTH-WATCH - Health check every 5min', `*/5 * * * * /home/op/.scripts/_molt/health-watch ${molt} --alert-email ops@example.com >> /home/op/.molt-state/health.log 2>&1`]

const NEW = block('mybot', 10)
const FOREIGN = ['MAILTO=ops@example.com', 'SHELL=/bin/sh', '# nightly backup', '0 3 * * * /usr/local/bin/backup.sh', '', 'PATH=/usr/bin:/bin']
const HEALTH_WATCH_LOOKALIKES = [
  '# MOLT-HEALTH-WATCH mybot paused, see OPS-12',
  '*/5 * * * * /usr/local/bin/health-watcher mybot',
  '*/5 * * * * echo health-watch mybot >> /tmp/x',
  '*/5 * * * * /opt/health-watch/run mybot',
  '# health-watch mybot is handled elsewhere',
  '# MOLT-HEALTH-WATCH - Health check every 5min',
  '0 * * * * /usr/bin/true',
]

describe('setEntry: install or replace the molt entry, leave everything else byte for byte', () => {
  test.each<[string, string, string]>([
    ['empty crontab', '', text(NEW)],
    ['only foreign lines', text(FOREIGN), text([...FOREIGN, ...NEW])],
    ['our entry present: replaced in place', text(['MAILTO=""', ...block('mybot'), '0 3 * * * /bin/backup']), text(['MAILTO=""', ...NEW, '0 3 * * * /bin/backup'])],
    ['legacy entry present: migrated in place', text(['0 3 * * * /bin/backup', ...legacy('mybot'), '# after']), text(['0 3 * * * /bin/backup', ...NEW, '# after'])],
    ['entry for another molt present', text([...block('otherbot'), ...legacy('thirdbot')]), text([...block('otherbot'), ...legacy('thirdbot'), ...NEW])],
    ['a molt whose name extends ours is not ours', text(block('mybot2')), text([...block('mybot2'), ...NEW])],
    ['no trailing newline', 'MAILTO=x\n0 3 * * * /bin/backup', `MAILTO=x\n0 3 * * * /bin/backup\n${text(NEW)}`],
    ['CRLF foreign lines keep their CR; ours are LF', 'MAILTO=x\r\n# c\r\n0 3 * * * /bin/b\r\n', `MAILTO=x\r\n# c\r\n0 3 * * * /bin/b\r\n${text(NEW)}`],
    ['our entry saved with CRLF is still ours', `# x\r\n${block('mybot').join('\r\n')}\r\n# y\r\n`, `# x\r\n${text(NEW)}# y\r\n`],
    ['comments and blank lines between lines', text(['# a', '', '# b', ...block('mybot'), '', '# c', '1 1 * * * /bin/x']), text(['# a', '', '# b', ...NEW, '', '# c', '1 1 * * * /bin/x'])],
    ['lines that only mention health-watch are not ours', text(HEALTH_WATCH_LOOKALIKES), text([...HEALTH_WATCH_LOOKALIKES, ...NEW])],
    ['duplicate entries collapse into one, where the first was', text([...block('mybot'), '# mid', ...legacy('mybot')]), text([...NEW, '# mid'])],
    ['a marker left without its job line is replaced too', text(['# MOLT-HEALTH-WATCH mybot every 5 min, offset 0 (clmnt molt health setup)', '# other']), text([...NEW, '# other'])],
  ])('%s', (_, before, after) => {
    const result = setEntry(before, 'mybot', NEW)
    expect(result.text).toBe(after)
    expect(setEntry(result.text, 'mybot', NEW)).toMatchObject({ text: after, changed: false })
  })

  test('the same entry again changes nothing', () => {
    const before = text(['MAILTO=x', ...NEW])
    expect(setEntry(before, 'mybot', NEW)).toMatchObject({ text: before, changed: false, removed: [{ kind: 'clmnt' }] })
  })

  test('what was removed is reported, with its kind', () => {
    const result = setEntry(text([...legacy('mybot'), ...block('mybot')]), 'mybot', NEW)
    expect(result.removed.map((e) => e.kind)).toEqual(['legacy', 'clmnt'])
    expect(result.removed[0]!.lines).toEqual(legacy('mybot'))
  })

  test('a stray job line (marker deleted by hand) is left alone and reported', () => {
    const before = text(['# keep', job('mybot')])
    expect(scanCrontab(before).strayLines).toEqual([{ index: 1, molt: 'mybot' }])
    expect(setEntry(before, 'mybot', NEW).text).toBe(text(['# keep', job('mybot'), ...NEW]))
  })

  test('a line break inside our block is refused', () => {
    expect(() => setEntry('', 'mybot', ['# MOLT-HEALTH-WATCH mybot', '* * * * * x\n* * * * * y'])).toThrow('line break')
  })
})

describe('setEntry with null: remove exactly our entry and the legacy one', () => {
  test.each<[string, string, string]>([
    ['empty crontab: nothing to do', '', ''],
    ['only ours: becomes empty', text(block('mybot')), ''],
    ['ours among foreign lines', text(['MAILTO=x', ...block('mybot'), '# after']), text(['MAILTO=x', '# after'])],
    ['legacy among foreign lines', text(['# before', ...legacy('mybot'), '# after']), text(['# before', '# after'])],
    ['another molt stays', text([...block('otherbot'), ...block('mybot'), ...legacy('otherbot')]), text([...block('otherbot'), ...legacy('otherbot')])],
    ['no trailing newline on a foreign last line stays', `${text(block('mybot'))}0 3 * * * /bin/b`, '0 3 * * * /bin/b'],
    ['CRLF foreign lines stay', `A=1\r\n${text(block('mybot'))}B=2\r\n`, 'A=1\r\nB=2\r\n'],
    ['lookalikes stay', text(HEALTH_WATCH_LOOKALIKES), text(HEALTH_WATCH_LOOKALIKES)],
  ])('%s', (_, before, after) => {
    expect(setEntry(before, 'mybot', null).text).toBe(after)
  })

  test('install then remove gives back the original bytes', () => {
    for (const original of ['', text(FOREIGN), 'A=1\r\nB=2\r\n', text(HEALTH_WATCH_LOOKALIKES)]) {
      expect(setEntry(setEntry(original, 'mybot', NEW).text, 'mybot', null).text).toBe(original)
    }
  })
})

describe('recognising lines', () => {
  test.each<[string, string | null]>([
    [job('mybot'), 'mybot'],
    [job('my-bot_2'), 'my-bot_2'],
    ["*/5 * * * * '/usr/bin/bun' '/opt/clmnt/src/cli.ts' 'molt' 'health' 'watch' 'mybot' '--interval' '5'", 'mybot'],
    ["# */5 * * * * 'x' 'molt' 'health' 'watch' 'mybot'", 'mybot'],
    ['*/5 * * * * clmnt molt health watch mybot', null],
    ["*/5 * * * * 'x' 'molt' 'health' 'watch' 'My;Bot'", null],
  ])('clmnt job line %p → %p', (line, molt) => {
    // commented out (an operator pausing it) it is still our line: setup re-enables it, --remove removes it
    expect(clmntJobMolt(line)).toBe(molt)
  })

  test.each<[string, string | null]>([
    ['*/5 * * * * /home/op/.scripts/_molt/health-watch mybot --alert-email a@b.c >> /x 2>&1', 'mybot'],
    ['*/5 * * * * health-watch mybot', 'mybot'],
    ["*/5 * * * * '/opt/x/health-watch' 'mybot'", 'mybot'],
    ['@hourly /opt/health-watch mybot', 'mybot'],
    ['*/5 * * * * /usr/bin/health-watcher mybot', null],
    ['*/5 * * * * echo health-watch mybot', null],
    ['*/5 * * * * /opt/health-watch/run mybot', null],
    ['*/5 * * * * /opt/health-watch $(rm -rf /)', null],
  ])('legacy job line %p → %p', (line, molt) => {
    expect(legacyJobMolt(line)).toBe(molt)
  })

  test('a legacy marker followed by a foreign line is not an entry', () => {
    expect(scanCrontab(text(['# MOLT-HEALTH-WATCH - Health check every 5min', '*/5 * * * * /usr/bin/other mybot'])).entries).toEqual([])
  })

  test('splitLines keeps every line ending', () => {
    expect(splitLines('a\r\nb\n\nc')).toEqual([{ text: 'a', eol: '\r\n' }, { text: 'b', eol: '\n' }, { text: '', eol: '\n' }, { text: 'c', eol: '' }])
    expect(splitLines('')).toEqual([])
  })
})

describe('diffCrontab', () => {
  test('no change, no diff', () => {
    expect(diffCrontab(text(FOREIGN), text(FOREIGN))).toBe('')
  })

  test('a replaced entry shows as removed and added lines with context', () => {
    const before = text(['A=1', '# a', '# b', '# c', ...block('mybot'), '# d'])
    const diff = diffCrontab(before, setEntry(before, 'mybot', NEW).text)
    expect(diff).toBe(
      ['--- crontab (now)', '+++ crontab (after)', '@@ -3,5 +3,5 @@', ' # b', ' # c', ...block('mybot').map((l) => `-${l}`), ...NEW.map((l) => `+${l}`), ' # d', ''].join('\n'),
    )
  })

  test('an added entry in an empty crontab, and CRLF made visible', () => {
    expect(diffCrontab('', text(NEW))).toBe(['--- crontab (now)', '+++ crontab (after)', '@@ -0,0 +1,2 @@', ...NEW.map((l) => `+${l}`), ''].join('\n'))
    expect(diffCrontab('A=1\r\n', `A=1\r\n${text(NEW)}`)).toContain(' A=1␍\n')
  })
})
