import { defineCommand } from 'citty'

// The folder tree under src/commands is the command tree; each group loads its commands lazily.
export default defineCommand({
  meta: { name: 'clmnt', description: "clmnt: the Claw Mountain operator's toolkit (molt health, fleet backup/restore)" },
  subCommands: {
    molt: () => import('./molt/index.ts').then((m) => m.default),
    fleet: () => import('./fleet/index.ts').then((m) => m.default),
    dashboard: () => import('./dashboard.ts').then((m) => m.default),
    doctor: () => import('./doctor.ts').then((m) => m.default),
    completion: () => import('./completion.ts').then((m) => m.default),
    self: () => import('./self/index.ts').then((m) => m.default),
    help: () => import('./help.ts').then((m) => m.default),
    version: () => import('./version.ts').then((m) => m.default),
  },
})
