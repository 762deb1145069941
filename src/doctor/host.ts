import { closeSync, existsSync, openSync, statfsSync, statSync, unlinkSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { formatBytes } from '../archive/format.ts'
import { defaultBackupDir } from '../archive/list.ts'
import { REGISTRY_FILE, type BaseDirRule } from '../fleet/base-dir.ts'
import { EXPECT_BIND, type DoctorContext } from './context.ts'
import { resourceChecks } from './resources.ts'
import { fail, few, octal, ok, skip, warn, type Finding } from './types.ts'

/** Host: what runs the checks, where the fleet is, its registry and config, room and rights for backups. */
export function hostChecks(ctx: DoctorContext): Finding[] {
  return [versionCheck(ctx), baseDirCheck(ctx), registryCheck(ctx), configCheck(ctx), diskCheck(ctx), ...resourceChecks(ctx), backupsWritableCheck(ctx)]
}

function versionCheck(ctx: DoctorContext): Finding {
  const compiled = import.meta.dir.startsWith('/$bunfs/') ? ' (compiled binary)' : ''
  return ok('host.version', 'clmnt', `${ctx.version}${compiled}, Bun ${Bun.version}, ${process.platform}/${process.arch}`)
}

const RULES: Record<BaseDirRule, string> = {
  flag: 'from --base-dir',
  env: 'from $CLMNT_BASE_DIR',
  registry: 'the nearest folder with molts.json, from the current folder up',
  cwd: 'the current folder: no molts.json here or above',
}

function baseDirCheck(ctx: DoctorContext): Finding {
  const title = 'base dir'
  if (!ctx.baseDir) return fail('host.base-dir', title, ctx.baseDirError ?? 'not found', 'pass an existing fleet folder with -d <dir>, or fix $CLMNT_BASE_DIR')
  const { dir, rule } = ctx.baseDir
  const detail = `${dir} (${RULES[rule]})`
  if (rule === 'cwd' && !ctx.fleet?.molts.length) return warn('host.base-dir', title, `${detail}; no molts in it`, 'run from the fleet folder, or pass -d <dir> / set CLMNT_BASE_DIR')
  return ok('host.base-dir', title, detail)
}

function registryCheck(ctx: DoctorContext): Finding {
  const id = 'host.registry'
  const title = REGISTRY_FILE
  if (!ctx.baseDir || !ctx.fleet) return skip(id, title, 'no base dir')
  const path = join(ctx.baseDir.dir, REGISTRY_FILE)
  if (ctx.registryWarning) return fail(id, title, ctx.registryWarning, `fix ${path} or put back a good copy (every backup holds one under global/)`)
  const molts = ctx.fleet.molts
  if (!ctx.registry) {
    const found = `no ${REGISTRY_FILE}; ${molts.length} molt(s) found by their folders (.molt-info)`
    return ok(id, title, found)
  }
  const entries = ctx.registry.molts
  const problems: string[] = []
  const skipped = ctx.fleet.warnings.filter((w) => /skipping (entry|folder)/.test(w)).map((w) => /"([^"]*)"/.exec(w)?.[0] ?? w)
  if (skipped.length) problems.push(`invalid molt names ${few(skipped)}`)
  const noFolder = molts.filter((m) => m.inRegistry && !existsSync(m.home)).map((m) => m.name)
  if (noFolder.length) problems.push(`entries without a folder: ${few(noFolder)}`)
  const noEntry = molts.filter((m) => !m.inRegistry).map((m) => m.name)
  if (noEntry.length) problems.push(`folders without an entry: ${few(noEntry)}`)
  const ports = molts.filter((m) => {
    const listed = entries[m.name]?.port
    return m.inRegistry && listed != null && m.port !== null && m.portSource !== 'registry' && listed !== m.port
  })
  if (ports.length) problems.push(`port differs from the molt's own: ${few(ports.map((m) => `${m.name} ${entries[m.name]!.port} vs ${m.port}`))}`)
  const names = Object.entries(entries).filter(([key, e]) => e.name && e.name !== key).map(([key]) => key)
  if (names.length) problems.push(`"name" differs from the key: ${few(names)}`)
  const count = `${Object.keys(entries).length} entries`
  if (!problems.length) return ok(id, title, `${count}, consistent with the molt folders`)
  return warn(id, title, `${count}; ${problems.join('; ')}`, `make ${path} and the molt folders agree (each molt: one entry, one folder with .molt-info)`)
}

function configCheck(ctx: DoctorContext): Finding {
  const id = 'host.config'
  const title = 'clmnt.json'
  if (ctx.configError) return fail(id, title, ctx.configError, 'fix the key it names (see the README for clmnt.json)')
  if (!ctx.config) return skip(id, title, 'no base dir')
  if (!ctx.config.found) return ok(id, title, 'none: defaults apply (alerts need --alert-email in the schedule)')
  const c = ctx.config.config
  const expect = c.expect_bind
  if (expect !== undefined && !(EXPECT_BIND as readonly unknown[]).includes(expect)) {
    return warn(id, title, `expect_bind ${JSON.stringify(expect)} is not one of ${EXPECT_BIND.join(', ')}: ignored`, `set "expect_bind" to "lan" or "loopback", or remove it`)
  }
  const said = [`mailer ${c.mailer ?? 'auto'}`, `${c.alert_emails?.length ?? 0} alert address(es)`]
  if (c.smtp_url) said.push('smtp_url set')
  if (c.notify_molt) said.push(`notify_molt ${c.notify_molt}`)
  if (ctx.config.warnings.length) return warn(id, title, ctx.config.warnings[0]!, `chmod 600 ${ctx.config.path}`)
  return ok(id, title, said.join(', '))
}

/** The backups folder, or the nearest folder above it that exists (a first backup creates it). */
function existingAncestor(path: string): string {
  let at = path
  while (!existsSync(at) && dirname(at) !== at) at = dirname(at)
  return at
}

function diskCheck(ctx: DoctorContext): Finding {
  const id = 'host.disk'
  const title = 'free space for backups'
  if (!ctx.baseDir) return skip(id, title, 'no base dir')
  const dir = defaultBackupDir(ctx.baseDir.dir)
  let free: number
  try {
    const fs = statfsSync(existingAncestor(dir))
    free = Number(fs.bavail) * Number(fs.bsize)
  } catch (error) {
    return warn(id, title, `cannot tell: ${(error as Error).message}`, `check with: df -h ${dir}`)
  }
  const last = ctx.backups.find((b) => b.status !== 'incomplete')
  if (!last) return ok(id, title, `${formatBytes(free)} free in ${dir} (no backup yet to compare with)`)
  const detail = `${formatBytes(free)} free in ${dir}; the last backup is ${formatBytes(last.size_bytes)}`
  if (free < last.size_bytes) return fail(id, title, `${detail}: the next one will not fit`, 'free space there, or back up elsewhere with --output')
  if (free < 2 * last.size_bytes) return warn(id, title, `${detail}: room for one more at most`, 'free space there, or prune old archives (fleet backup --keep N)')
  return ok(id, title, detail)
}

function backupsWritableCheck(ctx: DoctorContext): Finding {
  const id = 'host.backups-writable'
  const title = 'backups/ writable'
  if (!ctx.baseDir) return skip(id, title, 'no base dir')
  const dir = defaultBackupDir(ctx.baseDir.dir)
  let st: ReturnType<typeof statSync> | null = null
  try {
    st = statSync(dir)
  } catch {}
  if (st && !st.isDirectory()) return fail(id, title, `${dir} is not a folder`, `move it away: fleet backup writes its archives into ${dir}/`)
  // a real write tells what access(2) cannot: read-only mounts, root-squashed NFS, a full disk
  const where = st ? dir : ctx.baseDir.dir
  const error = probeWrite(where)
  if (error) return fail(id, title, `cannot create a file in ${where}: ${error}`, st ? `chmod u+w ${dir} (or back up elsewhere with --output)` : `make ${where} writable, or create ${dir} yourself`)
  if (!st) return ok(id, title, `${dir} does not exist yet; the first backup creates it (the base dir is writable)`)
  if (st.mode & 0o077) return warn(id, title, `writable, but mode ${octal(st.mode)}: other users can list the archives, which hold secrets`, `chmod 700 ${dir}`)
  return ok(id, title, `${dir}, mode ${octal(st.mode)}`)
}

function probeWrite(dir: string): string | null {
  const path = join(dir, `.clmnt-doctor-${process.pid}-${Date.now()}.probe`)
  try {
    closeSync(openSync(path, 'wx', 0o600))
    unlinkSync(path)
    return null
  } catch (error) {
    return (error as NodeJS.ErrnoException).code ?? (error as Error).message
  }
}
