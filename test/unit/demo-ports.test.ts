import { expect, test } from 'bun:test'
import { readFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { freePort } from '../helpers/fleet.ts'

// A demo molt's port lies below the kernel's ephemeral range: a client socket never takes it, so a
// gateway restarted on it gets it back (a keep-alive connection once held one for a whole test).
test('free ports: below the ephemeral range, never the same twice, free to listen on', async () => {
  const [ephemeral] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number) as [number]
  const ports: number[] = []
  for (let i = 0; i < 50; i++) ports.push(await freePort())
  expect(ports.every((p) => p >= 10_000 && p < ephemeral)).toBe(true)
  expect(new Set(ports).size).toBe(ports.length)
  // each is free: a server listens on it
  const server = createServer()
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(ports.at(-1), '127.0.0.1', resolve)
  })
  server.close()
})
