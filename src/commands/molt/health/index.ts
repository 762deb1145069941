import { defineCommand } from 'citty'

export default defineCommand({
  meta: { name: 'health', description: "Check molt gateways and read their health records" },
  subCommands: {
    check: () => import('./check.ts').then((m) => m.default),
    status: () => import('./status.ts').then((m) => m.default),
    history: () => import('./history.ts').then((m) => m.default),
    logs: () => import('./logs.ts').then((m) => m.default),
    watch: () => import('./watch.ts').then((m) => m.default),
    setup: () => import('./setup.ts').then((m) => m.default),
    silence: () => import('./silence.ts').then((m) => m.default),
  },
})
