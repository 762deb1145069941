import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { spawnSync } from 'node:child_process'
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { writeRegistry } from '../../src/fleet/registry.ts'
import { shQuote } from '../../src/schedule/job.ts'
import { CLI, runCli } from '../helpers/cli.ts'
import { removeDir, tempDir, writeMoltHome } from '../helpers/fleet.ts'

/**
 * The generated scripts in the real shells. bash is driven the way readline drives it
 * (COMP_WORDS, COMP_CWORD, then the completion function); fish through `complete -C`; zsh
 * is syntax-checked, driven with compsys stubbed out, and once for real through a pseudo-terminal.
 * zsh and fish are optional: those parts are skipped when the shell is not installed.
 */
const which = (shell: string) => spawnSync('sh', ['-c', `command -v ${shell}`], { encoding: 'utf8' }).stdout.trim() || null
const BASH = which('bash')
const ZSH = which('zsh')
const FISH = which('fish')

let dir: string
let fleet: string
let scripts: Record<'bash' | 'zsh' | 'fish', string>
/** `clmnt` in the shells under test is this checkout */
const clmntFunction = (shell: 'bash' | 'zsh' | 'fish') =>
  shell === 'fish' ? `function clmnt; ${shQuote(process.execPath)} ${shQuote(CLI)} $argv; end` : `clmnt() { ${shQuote(process.execPath)} ${shQuote(CLI)} "$@"; }`
const { CLMNT_BASE_DIR: _ignored, ...inherited } = process.env
const env = { ...inherited, NO_COLOR: '1' } as Record<string, string>

beforeAll(async () => {
  dir = tempDir('clmnt-completion-')
  fleet = join(dir, 'fleet')
  writeMoltHome(join(fleet, 'alpha'), { name: 'alpha', port: 19001 })
  writeMoltHome(join(fleet, 'bravo'), { name: 'bravo', port: 19021 })
  writeMoltHome(join(fleet, 'charlie'), { name: 'charlie', port: 19041 })
  writeRegistry(fleet, { version: '1', molts: { alpha: { name: 'alpha', port: 19001 }, bravo: { name: 'bravo', port: 19021 } } })
  mkdirSync(join(dir, 'archives'))
  writeFileSync(join(dir, 'archives', 'fleet-2026-02-02-103000.tar.gz'), '')
  scripts = { bash: '', zsh: '', fish: '' }
  for (const shell of ['bash', 'zsh', 'fish'] as const) {
    const r = await runCli(['completion', shell])
    expect(r).toMatchObject({ code: 0, stderr: '' })
    scripts[shell] = join(dir, `clmnt.${shell}`)
    writeFileSync(scripts[shell], r.stdout)
  }
})
afterAll(() => removeDir(dir))

test('`completion molts` prints the fleet, from -d or from the folder it runs in, and nothing when there is none', async () => {
  expect(await runCli(['completion', 'molts', '-d', fleet])).toEqual({ code: 0, stdout: 'alpha\nbravo\ncharlie\n', stderr: '' })
  expect(await runCli(['completion', 'molts'], { cwd: join(fleet, 'alpha') })).toEqual({ code: 0, stdout: 'alpha\nbravo\ncharlie\n', stderr: '' })
  expect(await runCli(['completion', 'molts', '-d', join(dir, 'nowhere')])).toEqual({ code: 0, stdout: '', stderr: '' })
  // hidden: not in the help
  expect((await runCli(['completion', '--help'])).stdout).not.toMatch(/^ +molts /m)
})

describe.skipIf(!BASH)('bash (skipped when bash is not installed)', () => {
  /** What the completion function offers for `words`, the last being the word under the cursor. */
  const complete = (words: string[], cwd = fleet): string[] => {
    const harness = [
      clmntFunction('bash'),
      `source ${shQuote(scripts.bash)}`,
      `COMP_WORDS=(${words.map(shQuote).join(' ')})`,
      `COMP_CWORD=${words.length - 1}`,
      `COMP_LINE=${shQuote(words.join(' '))}`,
      'COMP_POINT=${#COMP_LINE}',
      '_clmnt',
      `printf '%s\\n' "\${COMPREPLY[@]}"`,
    ].join('\n')
    const run = spawnSync(BASH!, ['--norc', '--noprofile', '-c', harness], { encoding: 'utf8', cwd, env })
    expect(run.stderr).toBe('')
    expect(run.status).toBe(0)
    return run.stdout.split('\n').filter(Boolean)
  }

  test('syntax, and the registration', () => {
    expect(spawnSync(BASH!, ['-n', scripts.bash]).status).toBe(0)
    const registered = spawnSync(BASH!, ['--norc', '-c', `source ${shQuote(scripts.bash)}; complete -p clmnt`], { encoding: 'utf8' })
    expect(registered.stdout.trim()).toBe('complete -F _clmnt clmnt')
  })

  test.each([
    [['clmnt', 'mo'], ['molt']],
    [['clmnt', ''], ['molt', 'fleet', 'dashboard', 'doctor', 'completion', 'self', 'help', 'version']],
    [['clmnt', 'molt', 'health', 'ch'], ['check']],
    [['clmnt', 'molt', 'health', 'check', ''], ['alpha', 'bravo', 'charlie']],
    [['clmnt', 'molt', 'health', 'check', 'b'], ['bravo']],
    [['clmnt', 'doctor', ''], ['alpha', 'bravo', 'charlie']],
    [['clmnt', 'completion', ''], ['bash', 'zsh', 'fish']],
    [['clmnt', 'molt', 'health', 'setup', 'alpha', '--scheduler', ''], ['cron', 'systemd']],
    // COMP_WORDBREAKS holds "=": readline splits --scheduler=sy into three words
    [['clmnt', 'molt', 'health', 'setup', 'alpha', '--scheduler', '=', 'sy'], ['systemd']],
    [['clmnt', 'molt', 'health', 'setup', 'alpha', '--scheduler', '='], ['cron', 'systemd']],
    [['clmnt', 'doctor', '--expect-bind', ''], ['lan', 'loopback']],
    [['clmnt', 'molt', 'health', 'check', '--ti'], ['--timeout']],
    [['clmnt', 'molt', 'health', 'check', '--no-r'], ['--no-record']],
    [['clmnt', 'molt', 'health', 'watch', 'alpha', '--notify-molt', 'c'], ['charlie']],
    // the option value is skipped, the positional after it still completes
    [['clmnt', 'molt', 'health', 'check', '--timeout', '500', 'al'], ['alpha']],
    // one molt name is all check takes: then only options are left
    [['clmnt', 'molt', 'health', 'check', 'alpha', '--a'], ['--all']],
  ])('%p', (words, expected) => {
    expect(complete(words)).toEqual(expected)
  })

  test('molt names from the -d on the line, wherever the shell is', () => {
    expect(complete(['clmnt', '-d', fleet, 'molt', 'health', 'status', ''], '/')).toEqual(['alpha', 'bravo', 'charlie'])
    expect(complete(['clmnt', 'molt', 'health', 'status', '--base-dir', fleet, 'ch'], '/')).toEqual(['charlie'])
    expect(complete(['clmnt', 'molt', 'health', 'status', ''], '/')).toEqual([])
  })

  test('files and folders where a command takes them', () => {
    expect(complete(['clmnt', 'fleet', 'verify', join(dir, 'archives', 'fl')])).toEqual([join(dir, 'archives', 'fleet-2026-02-02-103000.tar.gz')])
    expect(complete(['clmnt', '-d', join(dir, 'fl')])).toEqual([fleet])
  })
})

describe.skipIf(!FISH)('fish (skipped when fish is not installed: apt-get install fish)', () => {
  const complete = (line: string, cwd = fleet): string[] => {
    const run = spawnSync(FISH!, ['--no-config', '-c', `${clmntFunction('fish')}; source ${shQuote(scripts.fish)}; complete -C ${shQuote(line)}`], { encoding: 'utf8', cwd, env })
    expect(run.stderr).toBe('')
    return run.stdout.split('\n').filter(Boolean).map((l) => l.split('\t')[0]!)
  }

  test('syntax', () => {
    const check = spawnSync(FISH!, ['--no-config', '-n', scripts.fish], { encoding: 'utf8' })
    expect(check.stderr).toBe('')
    expect(check.status).toBe(0)
  })

  test.each([
    ['clmnt mo', ['molt']],
    ['clmnt molt health ch', ['check']],
    ['clmnt molt health check ', ['alpha', 'bravo', 'charlie']],
    ['clmnt molt health setup alpha --scheduler ', ['cron', 'systemd']],
    ['clmnt molt health setup alpha --scheduler=s', ['--scheduler=systemd']],
    ['clmnt completion ', ['bash', 'fish', 'zsh']],
    ['clmnt doctor --expect-b', ['--expect-bind']],
  ])('%p', (line, expected) => {
    expect(complete(line)).toEqual(expected)
  })

  test('molt names from the -d on the line', () => {
    expect(complete(`clmnt -d ${fleet} doctor `, '/')).toEqual(['alpha', 'bravo', 'charlie'])
  })
})

describe.skipIf(!ZSH)('zsh (skipped when zsh is not installed: apt-get install zsh)', () => {
  test('syntax', () => {
    const check = spawnSync(ZSH!, ['-n', scripts.zsh], { encoding: 'utf8' })
    expect(check.stderr).toBe('')
    expect(check.status).toBe(0)
  })

  /** The completion function with compsys stubbed: each stub prints what it was given to offer. */
  const offered = (words: string[], cwd = fleet): string[] => {
    const harness = [
      'compdef() { : }',
      `source ${shQuote(scripts.zsh)}`,
      clmntFunction('zsh'),
      '_describe() { local -a items; items=("${(@P)${@[-1]}}"); print -l -- "${(@)items%%:*}" }',
      'compadd() { [[ $1 == -a ]] && print -l -- "${(@P)2}" }',
      '_files() { print -- "<files $*>" }',
      '_users() { print -- "<users>" }',
      'compset() { : }',
      `words=(${words.map(shQuote).join(' ')})`,
      'CURRENT=$#words',
      '_clmnt',
    ].join('\n')
    const run = spawnSync(ZSH!, ['-f', '-c', harness], { encoding: 'utf8', cwd, env })
    expect(run.stderr).toBe('')
    return run.stdout.split('\n').filter(Boolean)
  }

  test.each([
    [['clmnt', 'mo'], ['molt', 'fleet', 'dashboard', 'doctor', 'completion', 'self', 'help', 'version']],
    [['clmnt', 'molt', 'health', 'ch'], ['check', 'status', 'history', 'logs', 'watch', 'setup', 'silence']],
    [['clmnt', 'molt', 'health', 'check', ''], ['alpha', 'bravo', 'charlie']],
    [['clmnt', 'molt', 'health', 'setup', 'x', '--scheduler', ''], ['cron', 'systemd']],
    [['clmnt', 'molt', 'health', 'setup', 'x', '--scheduler=sy'], ['cron', 'systemd']],
    [['clmnt', 'fleet', 'verify', ''], ['<files >']],
    [['clmnt', '-d', ''], ['<files -/>']],
  ])('%p (zsh filters by the prefix itself)', (words, expected) => {
    expect(offered(words)).toEqual(expected)
  })

  test('for real: compinit autoloads it from $fpath and TAB completes in an interactive zsh', () => {
    const fpathDir = join(dir, 'zfunc')
    mkdirSync(fpathDir, { recursive: true })
    copyFileSync(scripts.zsh, join(fpathDir, '_clmnt'))
    // zsh/zpty gives the inner zsh a terminal; poll its screen until the candidates show (or give up)
    const driver = `
      zmodload zsh/zpty || exit 3
      zpty z 'TERM=dumb zsh -f -i'
      zpty -w z ${shQuote(`PS1='> '; fpath=(${fpathDir} $fpath); autoload -Uz compinit; compinit -u -D; ${clmntFunction('zsh')}; cd ${fleet}`)}
      screen=''
      wait_for() {
        local chunk i
        for (( i = 0; i < 100; i++ )); do
          while zpty -r -t z chunk; do screen+=$chunk; done
          [[ $screen == *$1* ]] && return 0
          sleep 0.1
        done
        return 1
      }
      wait_for '> ' || exit 4
      zpty -w -n z $'clmnt molt health check \\t'
      wait_for charlie || { print -r -- "$screen"; exit 5 }
      zpty -w -n z $'\\x15clmnt molt health ch\\t'
      wait_for 'health check ' || { print -r -- "$screen"; exit 6 }
      zpty -d z
      print ok`
    const run = spawnSync(ZSH!, ['-f', '-c', driver], { encoding: 'utf8', env, timeout: 30_000 })
    expect(run.stdout.trim().split('\n').at(-1)).toBe('ok')
    expect(run.status).toBe(0)
  }, 40_000)
})
