import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { defineCommand } from 'citty'
import { spawnSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import root from '../../src/commands/index.ts'
import { bashScript } from '../../src/completion/bash.ts'
import { fishQuote, fishScript } from '../../src/completion/fish.ts'
import { completionScript } from '../../src/completion/generate.ts'
import { moltNames } from '../../src/completion/molt-names.ts'
import { commandTree, flatten, singleQuote, type CommandNode } from '../../src/completion/tree.ts'
import { zshScript } from '../../src/completion/zsh.ts'
import { GLOBAL_ARGS } from '../../src/command-line.ts'
import { removeDir, tempDir, writeMoltHome } from '../helpers/fleet.ts'

let tree: CommandNode
const node = (path: string) => {
  const found = flatten(tree).find((n) => n.path.join(' ') === path)
  if (!found) throw new Error(`no command ${JSON.stringify(path)}`)
  return found
}
const option = (path: string, flag: string) => node(path).options.find((o) => o.flags.includes(flag))

beforeAll(async () => {
  tree = await commandTree(root, GLOBAL_ARGS)
})

describe('the tree, walked from the real command definitions', () => {
  test('subcommands at every level; hidden ones left out', () => {
    expect(tree.subcommands.map((s) => s.name)).toEqual(expect.arrayContaining(['molt', 'fleet', 'doctor', 'completion']))
    expect(node('molt health').subcommands.map((s) => s.name)).toEqual(expect.arrayContaining(['check', 'status', 'history', 'logs', 'watch', 'setup']))
    expect(node('completion').subcommands.map((s) => s.name)).toEqual(['bash', 'zsh', 'fish'])
    expect(node('doctor').description).toContain('Check the host')
  })

  test('options with aliases, negated booleans, values, enum choices; global options everywhere', () => {
    expect(option('molt health check', '--timeout')).toMatchObject({ takesValue: true, choices: null, value: 'none' })
    expect(option('molt health check', '--no-record')).toMatchObject({ takesValue: false, description: 'probe only: write no status or history' })
    expect(option('molt health setup', '--scheduler')).toMatchObject({ choices: ['cron', 'systemd'] })
    expect(option('doctor', '--expect-bind')).toMatchObject({ choices: ['lan', 'loopback'] })
    expect(option('molt health setup', '--notify-molt')!.value).toBe('molt')
    expect(option('molt health setup', '--crontab-user')!.value).toBe('user')
    expect(option('molt health logs', '-n')!.flags).toEqual(['-n', '--lines'])
    for (const n of flatten(tree)) expect(n.options.find((o) => o.flags.includes('--base-dir'))).toMatchObject({ flags: ['-d', '--base-dir'], value: 'dir' })
  })

  test('which commands take a molt name, and which a file', () => {
    for (const path of ['molt health check', 'molt health status', 'molt health history', 'molt health logs', 'molt health watch', 'molt health setup', 'doctor']) {
      expect([path, node(path).positionals.map((p) => p.value)]).toEqual([path, ['molt']])
    }
    expect(node('fleet verify').positionals).toEqual([expect.objectContaining({ name: 'archive', value: 'file' })])
    expect(node('molt list').positionals).toEqual([])
  })
})

describe('a command added later appears in every script without touching the generators', () => {
  const later = defineCommand({
    meta: { name: 'zeta' },
    args: {
      name: { type: 'positional', required: false, description: 'molt name' },
      level: { type: 'enum', options: ['low', 'high'], description: "it's a level" },
      out: { type: 'string', valueHint: 'file', description: 'where' },
    },
    run: () => 0,
  })
  const secret = defineCommand({ meta: { name: 'secret', hidden: true }, run: () => 0 })
  const fakeRoot = defineCommand({ meta: { name: 'clmnt' }, subCommands: { zeta: () => Promise.resolve(later), secret } })

  test.each(['bash', 'zsh', 'fish'] as const)('%s', async (shell) => {
    const script = await completionScript(shell, fakeRoot, GLOBAL_ARGS, '9.9.9')
    expect(script).toContain('zeta')
    expect(script).toContain('--level')
    expect(script).toContain('low')
    expect(script).not.toContain('secret')
    expect(script).toContain('(clmnt 9.9.9)')
  })

  test('bash encodes the path, the value kinds and the positionals', async () => {
    const script = bashScript(await commandTree(fakeRoot, GLOBAL_ARGS), '9.9.9')
    expect(script).toContain(`    'zeta') _clmnt_subs='' _clmnt_opts='--level --out -d --base-dir -v --verbose -q --quiet --no-color -h --help --version' _clmnt_vals='--level=choice:low,high --out=file -d=dir --base-dir=dir' _clmnt_pos='molt' ;;`)
  })

  test('descriptions are quoted for each shell', async () => {
    const small = await commandTree(fakeRoot, GLOBAL_ARGS)
    expect(zshScript(small, '1')).toContain(`'--level:it'\\''s a level'`)
    expect(fishScript(small, '1')).toContain(`-l level -x -a 'low high' -d 'it\\'s a level'`)
  })

  test('a name a shell could misread is refused, not quoted into a script', async () => {
    const bad = defineCommand({ meta: { name: 'clmnt' }, subCommands: { ok: defineCommand({ args: { mode: { type: 'enum', options: ['a b', '$(id)'] } }, run: () => 0 }) } })
    await expect(commandTree(bad, {})).rejects.toThrow('cannot complete choice "a b"')
  })
})

test('quoting helpers', () => {
  expect(singleQuote("it's")).toBe(`'it'\\''s'`)
  expect(fishQuote('a \\ b \'c\'\n d')).toBe(`'a \\\\ b \\'c\\' d'`)
})

describe('molt names for a TAB', () => {
  let dir: string
  beforeAll(() => {
    dir = tempDir()
    // the bash toolkit's registry: numbers as strings, which the full reader takes zod for
    writeFileSync(join(dir, 'molts.json'), JSON.stringify({ version: '1', molts: { bravo: { port: '19021' }, alpha: { port: '19001' }, 'Not-Valid': {} } }))
    writeMoltHome(join(dir, 'charlie'), { name: 'charlie', port: 19041 })
    writeMoltHome(join(dir, 'Upper'), { name: 'Upper', port: 19061 })
    mkdirSync(join(dir, 'delta'))
  })
  afterAll(() => removeDir(dir))

  test('registry entries and molt folders, valid names only, sorted', () => {
    expect(moltNames(dir)).toEqual(['alpha', 'bravo', 'charlie'])
    expect(moltNames(join(dir, 'nowhere'))).toEqual([])
  })

  test('`completion molts` answers without loading zod', () => {
    const script = `
      const { main } = await import(${JSON.stringify(join(import.meta.dir, '..', '..', 'src', 'runner.ts'))})
      const root = (await import(${JSON.stringify(join(import.meta.dir, '..', '..', 'src', 'commands', 'index.ts'))})).default
      const code = await main(['completion', 'molts', '-d', ${JSON.stringify(dir)}], root)
      process.stderr.write('zod modules: ' + Object.keys(require.cache).filter((k) => k.includes('/zod/')).length + ', exit ' + code + '\\n')`
    const run = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' })
    expect(run.stdout).toBe('alpha\nbravo\ncharlie\n')
    expect(run.stderr).toBe('zod modules: 0, exit 0\n')
  })
})
