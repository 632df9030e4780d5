'use strict'
// A host app built from the README's Express quick start, verbatim: the code block after the
// `host-mount-snippet` marker (README.md) runs as written, with the host's
// environment, token store and auth middleware supplied the way a real host would.
const fs = require('node:fs')
const path = require('node:path')
const { startSim, MapStore, authorize, CLIENT_ID, CLIENT_SECRET, STATE_SECRET, REDIRECT_URI } = require('./helpers')

const MARKER = '<!-- host-mount-snippet'

function snippet() {
  for (const doc of ['README.md', path.join('docs', 'express.md')]) {
    const file = path.join(__dirname, '..', doc)
    if (!fs.existsSync(file)) continue
    const text = fs.readFileSync(file, 'utf8')
    const at = text.indexOf(MARKER)
    if (at === -1) continue
    const block = /```js\n([\s\S]*?)```/.exec(text.slice(at))
    if (block) return { doc, code: block[1] }
  }
  throw new Error(`no code block after "${MARKER}" in README.md`)
}

/** Runs the snippet as a module of a host that depends on `forcelink` and `express`. */
function buildHostApp({ env, tokenStore, authMiddleware }) {
  const modules = { express: require('express'), forcelink: require('..'), 'forcelink/express': require('../express') }
  const hostRequire = (name) => {
    if (!(name in modules)) throw new Error(`the snippet requires an unexpected module: ${name}`)
    return modules[name]
  }
  const { code } = snippet()
  const run = new Function('require', 'process', 'tokenStore', 'authMiddleware', `${code}\nreturn { app, forcelink }`)
  return run(hostRequire, { env }, tokenStore, authMiddleware)
}

let sim
let server
let base
const tokenStore = new MapStore()
beforeAll(async () => {
  sim = await startSim(['--contacts', '120'])
  const env = {
    SALESFORCE_CLIENT_ID: CLIENT_ID,
    SALESFORCE_SECRET_ID: CLIENT_SECRET,
    SALESFORCE_REDIRECT_URL: REDIRECT_URI,
    FORCELINK_STATE_SECRET: STATE_SECRET,
    SALESFORCE_LOGIN_URL: sim.loginUrl,
  }
  // The host's JWT middleware, reduced to a header.
  const authMiddleware = (req, _res, next) => {
    const token = req.get('authorization')
    if (token === 'Bearer jwt-for-u1') req.auth = { account_id: 'acct-1', uid: 'u1' }
    next()
  }
  const { app } = buildHostApp({ env, tokenStore, authMiddleware })
  server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s))
  })
  base = `http://127.0.0.1:${server.address().port}/v1/integrations/salesforce`
})
afterAll(async () => {
  if (server) await new Promise((r) => server.close(r))
  if (sim) await sim.stop()
})

const authed = { authorization: 'Bearer jwt-for-u1' }
const get = (p, headers = authed, method = 'GET') => fetch(base + p, { method, headers, redirect: 'manual' })

test('the snippet is found and mounts at /v1/integrations/salesforce', () => {
  const { code } = snippet()
  expect(code).toMatch(/app\.use\('\/v1\/integrations\/salesforce'/)
  expect(code).toMatch(/require\('forcelink\/express'\)/)
})

test('the incumbent journey through the mounted router', async () => {
  // Not connected yet: export answers as the incumbent did.
  expect(await (await get('/export/contacts?page=1&limit=10')).json()).toEqual({
    success: false,
    errno: 400,
    message: 'Api Token Not Found',
    code: 'TOKEN_NOT_FOUND',
  })

  // Connect: login → Salesforce → callback → forward_url.
  const login = await get(`/auth/login?forward_url=${encodeURIComponent('https://app.example.com/integrations')}`)
  expect(login.status).toBe(302)
  const q = await authorize(login.headers.get('location'))
  // The browser sends back the binding cookie the login set (scoped to the callback path).
  const cookie = login.headers.get('set-cookie').split(';')[0]
  expect(login.headers.get('set-cookie')).toContain('Path=/v1/integrations/salesforce/auth/callback')
  const cb = await get(`/auth/callback?${new URLSearchParams(q)}`, { cookie })
  expect(cb.status).toBe(302)
  expect(cb.headers.get('location')).toBe('https://app.example.com/integrations?status=success&integration=salesforce')

  // The host's store holds the incumbent's document shape.
  const doc = [...tokenStore.docs.values()][0]
  expect(doc).toMatchObject({ account_id: 'acct-1', owner: 'u1', token: { access_token: expect.any(String), refresh_token: expect.any(String) } })

  // Export a page, then every page of 10 in turn.
  const first = await (await get('/export/contacts?page=1&limit=10')).json()
  expect(first).toMatchObject({ success: true, message: 'SUCCESS', pagination: { total: 120, total_pages: 12, next_page: 2 } })
  let seen = first.data.length
  for (let page = first.pagination.next_page; page; ) {
    const r = await (await get(`/export/contacts?page=${page}&limit=10`)).json()
    seen += r.data.length
    page = r.pagination.next_page
  }
  expect(seen).toBe(120)

  // Without the host's auth the router answers the incumbent's "Unauthorized User".
  expect((await get('/export/contacts', {})).status).toBe(401)
  expect((await get('/auth', {}, 'DELETE')).status).toBe(400)

  // Disconnect.
  expect(await (await get('/auth', authed, 'DELETE')).json()).toEqual({ success: true, message: 'SUCCESS', revoked: true })
  expect(tokenStore.docs.size).toBe(0)
})

test('with a strict bearer-token middleware the snippet still lets Salesforce\'s redirect reach the callback', async () => {
  // 401 without the header, as a host's JWT middleware does.
  const strict = (req, res, next) => {
    if (req.get('authorization') !== 'Bearer jwt-for-u2') return res.status(401).json({ message: 'no token' })
    req.auth = { account_id: 'acct-2', uid: 'u2' }
    next()
  }
  const store = new MapStore()
  const env = {
    SALESFORCE_CLIENT_ID: CLIENT_ID,
    SALESFORCE_SECRET_ID: CLIENT_SECRET,
    SALESFORCE_REDIRECT_URL: REDIRECT_URI,
    FORCELINK_STATE_SECRET: STATE_SECRET,
    SALESFORCE_LOGIN_URL: sim.loginUrl,
  }
  const { app } = buildHostApp({ env, tokenStore: store, authMiddleware: strict })
  const s = await new Promise((resolve) => {
    const x = app.listen(0, '127.0.0.1', () => resolve(x))
  })
  try {
    const b = `http://127.0.0.1:${s.address().port}/v1/integrations/salesforce`
    const h = { authorization: 'Bearer jwt-for-u2' }
    expect((await fetch(`${b}/export/contacts`, { redirect: 'manual' })).status).toBe(401)
    const login = await fetch(`${b}/auth/login?forward_url=/done`, { redirect: 'manual', headers: h })
    expect(login.status).toBe(302)
    const q = await authorize(login.headers.get('location'))
    const cookie = login.headers.get('set-cookie').split(';')[0]
    // The browser comes back from Salesforce with its cookies but no Authorization header.
    const cb = await fetch(`${b}/auth/callback?${new URLSearchParams(q)}`, { redirect: 'manual', headers: { cookie } })
    expect(cb.status).toBe(302)
    expect(cb.headers.get('location')).toBe('/done?status=success&integration=salesforce')
    expect([...store.docs.values()][0]).toMatchObject({ account_id: 'acct-2', owner: 'u2' })
  } finally {
    await new Promise((r) => s.close(r))
  }
})

test('routes outside the four fall through to the host', async () => {
  const r = await get('/auth/nothing-here')
  expect(r.status).toBe(404)
})
