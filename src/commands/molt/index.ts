import { defineCommand } from 'citty'

export default defineCommand({
  meta: { name: 'molt', description: 'List molts and watch their health' },
  subCommands: {
    list: () => import('./list.ts').then((m) => m.default),
    health: () => import('./health/index.ts').then((m) => m.default),
  },
})
