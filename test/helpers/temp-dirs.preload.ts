import { afterAll, beforeEach } from 'bun:test'
import { removeTempDirs } from './temp-dirs.ts'

// Removes the temp folders a test file made (tempDir() in ./fleet.ts), however its tests ended.
// bun test runs all its files in one process, one after the other, and runs a preload's afterAll once
// for the whole run: no hook runs at the end of each file. So a file's folders go at the first test
// of the next file, when every afterAll of their own file has run (those stop the file's gateways,
// servers and mounts), and the last file's at the end of the run.
let file = ''

beforeEach(() => {
  if (Bun.main === file) return
  file = Bun.main
  // what a process still works in stays: it is tried again at the next file, and reported at the end
  removeTempDirs(file)
})

afterAll(() => {
  for (const line of removeTempDirs()) console.warn(`left ${line}`)
})

// Ctrl-C or a kill stops the run where it is, and no afterAll runs: the folders go all the same, but for
// those a process (a gateway of the interrupted file, say) still works in. Exit as the signal would have.
for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
  process.once(signal, () => {
    for (const line of removeTempDirs()) console.warn(`left ${line}`)
    process.exit(code)
  })
}
