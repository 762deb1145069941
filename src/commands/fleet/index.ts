import { defineCommand } from 'citty'

export default defineCommand({
  meta: { name: 'fleet', description: 'Back up, list, verify and restore the whole fleet' },
  subCommands: {
    backup: () => import('./backup.ts').then((m) => m.default),
    'list-backups': () => import('./list-backups.ts').then((m) => m.default),
    verify: () => import('./verify.ts').then((m) => m.default),
    restore: () => import('./restore.ts').then((m) => m.default),
  },
})
