import { join } from 'node:path'

export const CLI = join(import.meta.dir, '..', '..', 'src', 'cli.ts')

export interface CliResult {
  code: number
  stdout: string
  stderr: string
}

/** Run the real CLI as a child process (`bun src/cli.ts …`), the way an operator or cron does. */
export async function runCli(args: string[], options: { cwd?: string; env?: Record<string, string | undefined>; timeoutMs?: number } = {}): Promise<CliResult> {
  const env: Record<string, string | undefined> = { ...process.env, NO_COLOR: '1', CLMNT_BASE_DIR: undefined, CLMNT_DIGEST_WAIT: 'off', ...options.env }
  const proc = Bun.spawn([process.execPath, CLI, ...args], {
    cwd: options.cwd ?? process.cwd(),
    env: env as Record<string, string>,
    stdout: 'pipe',
    stderr: 'pipe',
    stdin: 'ignore',
  })
  const timer = setTimeout(() => proc.kill('SIGKILL'), options.timeoutMs ?? 20_000)
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited])
  clearTimeout(timer)
  return { code, stdout, stderr }
}
