import { defineCommand } from 'citty'

export default defineCommand({
  meta: { name: 'self', description: 'Install clmnt on this host (binary, completions, man page) and upgrade it' },
  subCommands: {
    install: () => import('./install.ts').then((m) => m.default),
    upgrade: () => import('./upgrade.ts').then((m) => m.default),
  },
})
