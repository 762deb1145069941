import { lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, realpathSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ProcessTable } from '../../src/lib/proc.ts'

/**
 * The temp folders of the tests, each with the test file that made it (Bun.main, which bun test sets
 * to the file it is loading or running). temp-dirs.preload.ts removes them once their file is done.
 * One map for the whole run: bun test loads a helper module once for all the files of a process.
 */
const made = new Map<string, string>()

export function makeTempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  made.set(realpathSync(dir), Bun.main)
  return dir
}

/**
 * Remove every folder made by a file other than `current` (every folder without one). A folder a
 * process still works in (its cwd, root, program or an open file is inside) stays, to be tried again
 * later; a mount inside is unmounted first, never removed through. Returns what stays, and why.
 */
export function removeTempDirs(current?: string): string[] {
  const due = [...made].filter(([, file]) => file !== current).map(([dir]) => dir)
  if (due.length === 0) return []
  const open = openPaths()
  const left: string[] = []
  for (const dir of due) {
    const why = removeTempDir(dir, open)
    if (why) left.push(`${dir}: ${why}`)
    else made.delete(dir)
  }
  return left
}

const inside = (path: string, dir: string) => path === dir || path.startsWith(`${dir}/`)

function removeTempDir(dir: string, open: { pid: number; cmdline: string; path: string }[]): string | null {
  try {
    lstatSync(dir)
  } catch {
    return null // its test removed it
  }
  const user = open.find((o) => inside(o.path, dir))
  if (user) return `still used by PID ${user.pid} (${user.cmdline})`
  // innermost first: a mount may sit on another inside the folder
  for (const point of mountsUnder(dir).reverse()) {
    const umount = Bun.spawnSync(['umount', point], { stderr: 'pipe' })
    if (umount.exitCode !== 0) return `cannot unmount ${point}: ${umount.stderr.toString().trim()}`
  }
  if (mountsUnder(dir).length > 0) return 'a mount point inside is still mounted'
  try {
    // rmSync removes a symbolic link as a link: nothing outside the folder is touched
    rmSync(dir, { recursive: true, force: true })
  } catch (error) {
    return (error as Error).message
  }
  return null
}

/** Mount points at or under `dir`, in the order they were mounted (/proc/self/mountinfo, field 5). */
function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => (line.split(' ')[4] ?? '').replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(Number.parseInt(octal, 8))))
    .filter((point) => point !== '' && inside(point, dir))
}

/** Every path a live process has as cwd, root, program or open file (a deleted file is no longer in a folder). */
function openPaths(): { pid: number; cmdline: string; path: string }[] {
  const paths: { pid: number; cmdline: string; path: string }[] = []
  for (const { pid, cmdline } of new ProcessTable().all()) {
    let fds: string[] = []
    try {
      fds = readdirSync(`/proc/${pid}/fd`).map((fd) => `fd/${fd}`)
    } catch {}
    for (const link of ['cwd', 'root', 'exe', ...fds]) {
      try {
        const path = readlinkSync(`/proc/${pid}/${link}`)
        if (!path.endsWith(' (deleted)')) paths.push({ pid, cmdline, path })
      } catch {}
    }
  }
  return paths
}
