import { afterAll, beforeAll, expect, test } from 'bun:test'
import { spawnSync } from 'node:child_process'
import { mkdirSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { encodeHeader, type HeaderInput } from '../../src/archive/tar.ts'
import { runCli } from '../helpers/cli.ts'
import { removeDir, tempDir } from '../helpers/fleet.ts'

// A legitimate 8 GiB file of zeros inflates ~1000:1 and is no gzip bomb: the headers declare it.
// Generated as a stream (one gzip member of 64 MiB of zeros, repeated), never 8 GiB on disk: the
// restored file is all holes.
let root: string
beforeAll(() => {
  root = tempDir('clmnt-large-')
})
afterAll(() => removeDir(root))

const GIB = 2 ** 30
const base: Omit<HeaderInput, 'name' | 'type' | 'size'> = { mode: 0o644, mtimeSec: 1_700_000_000, uid: 0, gid: 0, uname: 'root', gname: 'root' }

function member(name: string, type: 'file' | 'directory', content = ''): Uint8Array {
  const data = Buffer.from(content)
  const padded = Buffer.alloc(Math.ceil(data.length / 512) * 512)
  data.copy(padded)
  return Buffer.concat([encodeHeader({ ...base, name, type, size: data.length, mode: type === 'directory' ? 0o755 : 0o644 }), padded])
}

test('a legacy archive holding an 8 GiB file of zeros verifies and restores, as holes', async () => {
  const archive = join(root, 'zeros.tar.gz')
  const manifest = JSON.stringify({ version: '1.0', timestamp: '2026-02-02T10:30:00Z', hostname: 'old-host', molts: [{ name: 'alpha', port: '19001' }] })
  const head = Buffer.concat([member('./manifest.json', 'file', manifest), member('./alpha/', 'directory'), member('./alpha/.molt-info', 'file', 'MOLT_NAME=alpha\n'), member('./alpha/.molt-state/', 'directory'), encodeHeader({ ...base, name: './alpha/.molt-state/zeros.img', type: 'file', size: 8 * GIB })])
  const zeros = gzipSync(Buffer.alloc(64 << 20), { level: 9 })
  const parts: Uint8Array[] = [gzipSync(head)]
  for (let i = 0; i < 128; i++) parts.push(zeros)
  parts.push(gzipSync(Buffer.alloc(10240)))
  writeFileSync(archive, Buffer.concat(parts))
  expect(statSync(archive).size).toBeLessThan(16 << 20)

  const verify = await runCli(['fleet', 'verify', archive], { timeoutMs: 120_000 })
  expect({ code: verify.code, stdout: verify.stdout }).toEqual({ code: 0, stdout: `${archive}: OK (1 molts, 2 files, 8.0 GiB, structure only)\n` })
  const target = join(root, 'fleet')
  mkdirSync(target)
  const restore = await runCli(['fleet', 'restore', '-d', target, '--from', archive, '--yes', '--skip-users'], { timeoutMs: 120_000 })
  expect(restore.stderr).not.toContain('error')
  expect(restore.code).toBe(0)
  const st = statSync(join(target, 'alpha', '.molt-state', 'zeros.img'))
  expect(st.size).toBe(8 * GIB)
  expect(st.blocks).toBe(0)
}, 240_000)

test('GNU tar --sparse of an 8 GiB sparse file: restored sparse, the right size and content', async () => {
  const src = join(root, 'src')
  mkdirSync(join(src, 'alpha', '.molt-state'), { recursive: true })
  writeFileSync(join(src, 'manifest.json'), JSON.stringify({ version: '1.0', timestamp: '2026-02-02T10:30:00Z', molts: [{ name: 'alpha' }] }))
  const img = join(src, 'alpha', '.molt-state', 'disk.img')
  spawnSync('truncate', ['-s', '8G', img])
  spawnSync('sh', ['-c', `printf 'middle' | dd of='${img}' bs=1 seek=${4 * GIB} conv=notrunc status=none; printf 'end' | dd of='${img}' bs=1 seek=${8 * GIB - 3} conv=notrunc status=none`])
  const archive = join(root, 'sparse.tar.gz')
  expect(spawnSync('tar', ['--format=posix', '--sparse', '-czf', archive, '-C', src, './manifest.json', './alpha']).status).toBe(0)
  const target = join(root, 'fleet-sparse')
  mkdirSync(target)
  const restore = await runCli(['fleet', 'restore', '-d', target, '--from', archive, '--yes', '--skip-users'], { timeoutMs: 120_000 })
  expect(restore.code).toBe(0)
  const out = join(target, 'alpha', '.molt-state', 'disk.img')
  const st = statSync(out)
  expect(st.size).toBe(8 * GIB)
  expect(st.blocks * 512).toBeLessThan(1 << 20)
  const read = (at: number, n: number) => spawnSync('dd', [`if=${out}`, 'bs=1', `skip=${at}`, `count=${n}`, 'status=none'], { encoding: 'latin1' }).stdout
  expect(read(4 * GIB, 6)).toBe('middle')
  expect(read(8 * GIB - 3, 3)).toBe('end')
}, 240_000)
