/**
 * An OpenAI-compatible model endpoint on 127.0.0.1 for a real OpenClaw commander: without a model
 * its agent turns end in an error after admission, and nothing would show that the alert reached
 * the agent. With this one configured as the agent's model (`models.providers.<id>.baseUrl`), the
 * turn runs for real and every prompt the agent sends is kept, so a test can see the alert text
 * arrive, once. It answers every chat completion (streamed or not) with a short fixed reply.
 */
export interface ModelStandIn {
  port: number
  baseUrl: string
  /** the JSON bodies of every POST /v1/chat/completions, in order */
  requests: { messages?: { role: string; content: unknown }[]; stream?: boolean; model?: string }[]
  /** every message text of every request, flattened: what the agent saw */
  texts(): string[]
  /** how many requests hold a message whose text matches */
  count(match: (text: string) => boolean): number
  stop(): void
}

export const MODEL_REPLY = 'Noted. NO_REPLY'

function textsOf(request: ModelStandIn['requests'][number]): string[] {
  return (request.messages ?? []).map((m) => (typeof m.content === 'string' ? m.content : Array.isArray(m.content) ? m.content.map((p: { text?: string }) => p.text ?? '').join('') : ''))
}

export function startModelStandIn(): ModelStandIn {
  const requests: ModelStandIn['requests'] = []
  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    async fetch(request) {
      const path = new URL(request.url).pathname.replace(/\/+$/, '')
      if (request.method === 'GET' && path.endsWith('/models')) return Response.json({ object: 'list', data: [{ id: 'stand-in', object: 'model', owned_by: 'clmnt-tests' }] })
      if (request.method !== 'POST' || !path.endsWith('/chat/completions')) return new Response('not found', { status: 404 })
      const body = (await request.json()) as ModelStandIn['requests'][number]
      requests.push(body)
      const id = `chatcmpl-${requests.length}`
      const created = Math.floor(Date.now() / 1000)
      const usage = { prompt_tokens: 10, completion_tokens: 3, total_tokens: 13 }
      if (!body.stream) {
        return Response.json({ id, object: 'chat.completion', created, model: body.model ?? 'stand-in', choices: [{ index: 0, message: { role: 'assistant', content: MODEL_REPLY }, finish_reason: 'stop' }], usage })
      }
      const chunk = (delta: object, finish: string | null, extra: object = {}) =>
        `data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model: body.model ?? 'stand-in', choices: [{ index: 0, delta, finish_reason: finish }], ...extra })}\n\n`
      const text = chunk({ role: 'assistant', content: MODEL_REPLY }, null) + chunk({}, 'stop', { usage }) + 'data: [DONE]\n\n'
      return new Response(text, { headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' } })
    },
  })
  return {
    port: server.port!,
    baseUrl: `http://127.0.0.1:${server.port}/v1`,
    requests,
    texts: () => requests.flatMap(textsOf),
    count: (match) => requests.filter((r) => textsOf(r).some(match)).length,
    stop: () => server.stop(true),
  }
}
