/**
 * The login form: the only page served without the token. It posts the token once; the server
 * answers with an HttpOnly SameSite=Strict session cookie. No script; its style is allowed by hash.
 */

const STYLE = `
:root{color-scheme:light dark;--bg:#f4f5f7;--card:#fff;--text:#1c2128;--muted:#5b6470;--border:#dde1e6;--accent:#2f5fd0;--on-accent:#fff;--bad:#a3141b;--bad-bg:#fde2e1}
@media (prefers-color-scheme:dark){:root{--bg:#0e1116;--card:#171b22;--text:#e5e8ec;--muted:#9aa4b1;--border:#2b323c;--accent:#7aa2ff;--on-accent:#0b1020;--bad:#ff9a95;--bad-bg:#431618}}
*{box-sizing:border-box}
body{margin:0;min-height:100vh;display:grid;place-items:center;background:var(--bg);color:var(--text);font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;padding:1rem}
main{width:min(24rem,100%);background:var(--card);border:1px solid var(--border);border-radius:12px;padding:1.5rem}
h1{margin:0 0 .2rem;font-size:1.2rem}
p{margin:.2rem 0 1rem;color:var(--muted);font-size:.92rem}
label{display:block;font-weight:600;margin-bottom:.35rem}
input{width:100%;font:inherit;padding:.55rem .7rem;border:1px solid var(--border);border-radius:8px;background:var(--bg);color:var(--text)}
button{margin-top:1rem;width:100%;font:inherit;font-weight:600;padding:.6rem;border:0;border-radius:8px;background:var(--accent);color:var(--on-accent);cursor:pointer}
:focus-visible{outline:2px solid var(--accent);outline-offset:2px}
.error{color:var(--bad);background:var(--bad-bg);padding:.5rem .7rem;border-radius:8px;font-weight:600}
`

// fixed texts only: nothing a request sent is ever echoed into this page
export type LoginMessage = 'wrong-token' | 'cross-site' | 'too-many' | null
const MESSAGES: Record<Exclude<LoginMessage, null>, string> = {
  'wrong-token': 'That token is not the dashboard token.',
  'cross-site': 'The login form must be sent from this dashboard.',
  'too-many': 'Too many wrong tokens from this address: wait a little, then try again.',
}

export function loginPage(message: LoginMessage): string {
  const error = message ? `<p class="error" role="alert">${MESSAGES[message]}</p>` : ''
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark"><title>clmnt · log in</title><link rel="icon" href="data:,">
<style>${STYLE}</style></head>
<body><main><h1>Claw Mountain</h1><p>This fleet dashboard needs its token: CLMNT_DASHBOARD_TOKEN, dashboard.token in clmnt.json, or the .clmnt-dashboard-token file in the base dir.</p>
${error}<form method="post" action="/login"><input type="text" name="username" value="clmnt dashboard" autocomplete="username" hidden><label for="token">Token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<button type="submit">Log in</button></form></main></body></html>
`
}

/** The Content-Security-Policy source that allows exactly the inline style above. */
export function loginStyleHash(): string {
  const digest = new Bun.CryptoHasher('sha256').update(STYLE).digest('base64')
  return `'sha256-${digest}'`
}
