import { defineCommand } from 'citty'
export default defineCommand({ meta: { name: 'history', description: 'placeholder' } })
