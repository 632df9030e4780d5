'use strict'
// Every case of README's Express case table over real HTTP, against Express 4 and Express 5.
const { Forcelink } = require('..')
const { createSalesforceController, salesforceRouter } = require('../express')
const { startSim, tmpDb, baseConfig, MapStore, CookieJar, authorize } = require('./helpers')

const SEED = { contacts: 37, deals: 12, notes: 5 }

let sim
beforeAll(async () => {
  sim = await startSim(['--contacts', String(SEED.contacts), '--deals', String(SEED.deals), '--notes', String(SEED.notes)])
})
afterAll(() => sim && sim.stop())

/** Host-style app: auth from test headers (absent → no req.auth), the router, an error handler. */
async function startApp(express, fl, options = {}) {
  const app = express()
  const seen = { errors: [], reported: [] }
  app.use((req, _res, next) => {
    const aid = req.get('x-account')
    if (aid) req.auth = { account_id: aid, uid: req.get('x-user') || 'u1' }
    next()
  })
  app.use('/sf', salesforceRouter(fl, { express, onError: (e) => seen.reported.push(e.code), ...options }))
  app.use((err, _req, res, _next) => {
    seen.errors.push(err)
    res.status(500).json({ host: 'error-middleware', message: err.message })
  })
  const server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s))
  })
  const base = `http://127.0.0.1:${server.address().port}/sf`
  // One browser by default (its cookies kept); pass `jar` to act as another one.
  const browser = new CookieJar()
  const call = async (path, { account, user, method = 'GET', signal, jar = browser } = {}) => {
    const headers = account ? { 'x-account': account, 'x-user': user || 'u1' } : {}
    const cookie = jar && jar.header(`/sf${path.split('?')[0]}`)
    if (cookie) headers.cookie = cookie
    const res = await fetch(base + path, { method, signal, redirect: 'manual', headers })
    return jar ? jar.take(res) : res
  }
  return { base, call, seen, close: () => new Promise((r) => server.close(r)) }
}

const json = async (res) => ({ status: res.status, body: await res.json() })

/** The browser's side of the connect flow, through the app's own routes. */
async function connectHttp(call, account, forward = '/back') {
  const start = await call(`/auth/login?forward_url=${encodeURIComponent(forward)}`, { account })
  expect(start.status).toBe(302)
  const q = await authorize(start.headers.get('location'))
  const cb = await call(`/auth/callback?${new URLSearchParams(q)}`)
  expect(cb.status).toBe(302)
  return cb.headers.get('location')
}

/** A state the app really issued, and the callback query Salesforce would send with it. */
async function issuedState(call, account, forward = '/back') {
  const start = await call(`/auth/login?forward_url=${encodeURIComponent(forward)}`, { account })
  return new URL(start.headers.get('location')).searchParams.get('state')
}

/** RFC 4180 record count (quoted fields may hold newlines). */
function csvRecords(text) {
  let rows = 0
  let quoted = false
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (c === '"') quoted = !quoted
    else if (c === '\n' && !quoted) rows++
  }
  return rows
}

describe.each([
  ['Express 4', require('express')],
  ['Express 5', require('express5')],
])('%s', (_name, express) => {
  let fl
  let app
  let n = 0
  const acct = () => `acc-${++n}`
  beforeAll(async () => {
    fl = new Forcelink(baseConfig(sim, { storePath: tmpDb('express'), maxRetries: 0 }))
    app = await startApp(express, fl)
  })
  afterAll(() => app.close())
  afterEach(() => sim.clearFaults())

  describe('GET /auth/login', () => {
    test('missing forward_url → 400 (checked before auth, like the incumbent)', async () => {
      const expected = { success: false, errno: 400, message: 'Please provide forward_url', code: 'FORWARD_URL_REQUIRED' }
      expect(await json(await app.call('/auth/login', { account: acct() }))).toEqual({ status: 400, body: expected })
      expect(await json(await app.call('/auth/login'))).toEqual({ status: 400, body: expected })
      expect(await json(await app.call('/auth/login?forward_url=%20', { account: acct() }))).toEqual({ status: 400, body: expected })
    })

    test('no req.auth → 400 Unauthorized User', async () => {
      expect(await json(await app.call('/auth/login?forward_url=/x'))).toEqual({
        status: 400,
        body: { success: false, errno: 400, message: 'Unauthorized User' },
      })
    })

    test('forward_url outside the allowlist → 400 FORWARD_URL_NOT_ALLOWED', async () => {
      for (const bad of ['https://evil.example.org/x', '//evil.example.org', 'javascript:alert(1)']) {
        const r = await json(await app.call(`/auth/login?forward_url=${encodeURIComponent(bad)}`, { account: acct() }))
        expect(r.status).toBe(400)
        expect(r.body).toMatchObject({ success: false, errno: 400, code: 'FORWARD_URL_NOT_ALLOWED' })
      }
    })

    test('repeated or nested forward_url → 400', async () => {
      const r = await json(await app.call('/auth/login?forward_url=/a&forward_url=/b', { account: acct() }))
      expect(r).toMatchObject({ status: 400, body: { success: false, errno: 400, code: 'INVALID_INPUT' } })
      // Express 4's qs parser makes an object of this; Express 5's simple parser a different key.
      const nested = await json(await app.call('/auth/login?forward_url[x]=/a', { account: acct() }))
      expect(nested.status).toBe(400)
      expect(['INVALID_INPUT', 'FORWARD_URL_REQUIRED']).toContain(nested.body.code)
    })

    test('not connected → 302 to the Salesforce authorize URL with a signed state and PKCE', async () => {
      const r = await app.call('/auth/login?forward_url=/back', { account: acct() })
      expect(r.status).toBe(302)
      const u = new URL(r.headers.get('location'))
      expect(`${u.origin}${u.pathname}`).toBe(`${sim.loginUrl}/services/oauth2/authorize`)
      expect(u.searchParams.get('client_id')).toBe('test-client-id')
      expect(u.searchParams.get('state').split('.')).toHaveLength(3)
      expect(u.searchParams.get('code_challenge_method')).toBe('S256')
    })

    test('already connected → 302 to forward_url?status=success', async () => {
      const a = acct()
      await connectHttp(app.call, a)
      const r = await app.call(`/auth/login?forward_url=${encodeURIComponent('https://app.example.com/i?tab=crm')}`, { account: a })
      expect(r.status).toBe(302)
      expect(r.headers.get('location')).toBe('https://app.example.com/i?tab=crm&status=success&integration=salesforce')
    })
  })

  describe('GET /auth/callback', () => {
    test('no code and no state → the incumbent relative redirect', async () => {
      const r = await app.call('/auth/callback')
      expect(r.status).toBe(302)
      expect(r.headers.get('location')).toBe('?status=error&integration=salesforce&reason=Authentication%20not%20initiated')
    })

    test('code without state, or a forged state → 400 Invalid State', async () => {
      const body = { success: false, errno: 400, message: 'Invalid State', code: 'INVALID_STATE' }
      for (const q of ['code=abc', 'code=abc&state=not.a.jwt', 'state=eyJhbGciOiJIUzI1NiJ9.e30.AAAA', 'error=access_denied']) {
        expect(await json(await app.call(`/auth/callback?${q}`))).toEqual({ status: 400, body })
      }
    })

    test('valid code and state → 302 forward_url?status=success; the state is single-use', async () => {
      const a = acct()
      const start = await app.call('/auth/login?forward_url=/settings%3Ftab%3Dsf', { account: a })
      const q = await authorize(start.headers.get('location'))
      const cb = await app.call(`/auth/callback?${new URLSearchParams(q)}`)
      expect(cb.status).toBe(302)
      expect(cb.headers.get('location')).toBe('/settings?tab=sf&status=success&integration=salesforce')
      const replay = await json(await app.call(`/auth/callback?${new URLSearchParams(q)}`))
      expect(replay).toEqual({ status: 400, body: { success: false, errno: 400, message: 'Invalid State', code: 'INVALID_STATE' } })
    })

    test('?error= from Salesforce → 302 to forward_url with the reason', async () => {
      const state = await issuedState(app.call, acct())
      const r = await app.call(`/auth/callback?error=access_denied&error_description=end-user+denied+authorization&state=${state}`)
      expect(r.status).toBe(302)
      expect(r.headers.get('location')).toBe('/back?status=error&integration=salesforce&reason=end-user%20denied%20authorization')
    })

    test('valid state but no code → 302 forward_url with "Authentication not initiated"', async () => {
      const state = await issuedState(app.call, acct())
      const r = await app.call(`/auth/callback?state=${state}`)
      expect(r.headers.get('location')).toBe('/back?status=error&integration=salesforce&reason=Authentication%20not%20initiated')
    })

    test('code Salesforce rejects → 302 forward_url with its error_description', async () => {
      const state = await issuedState(app.call, acct())
      const r = await app.call(`/auth/callback?code=bogus&state=${state}`)
      expect(r.status).toBe(302)
      const loc = new URL(r.headers.get('location'), 'http://x')
      expect(loc.pathname).toBe('/back')
      expect(loc.searchParams.get('status')).toBe('error')
      expect(loc.searchParams.get('reason')).toBeTruthy()
    })

    test('Salesforce unavailable during the code exchange → 302 forward_url with the reason', async () => {
      const a = acct()
      const start = await app.call('/auth/login?forward_url=/back', { account: a })
      const q = await authorize(start.headers.get('location'))
      await sim.fault({ target: 'token', kind: '503', count: 4 })
      const r = await app.call(`/auth/callback?${new URLSearchParams(q)}`)
      expect(r.status).toBe(302)
      const loc = new URL(r.headers.get('location'), 'http://x')
      expect(loc.pathname).toBe('/back')
      expect(loc.searchParams.get('status')).toBe('error')
      expect(loc.searchParams.get('reason')).toMatch(/^Salesforce is unavailable/)
    })

    test('repeated code → 400 INVALID_INPUT', async () => {
      const r = await json(await app.call('/auth/callback?code=a&code=b&state=x'))
      expect(r.status).toBe(400)
      expect(r.body.code).toBe('INVALID_INPUT')
    })
  })

  describe('DELETE /auth', () => {
    test('no req.auth → 400 Unauthorized User', async () => {
      expect(await json(await app.call('/auth', { method: 'DELETE' }))).toEqual({
        status: 400,
        body: { success: false, errno: 400, message: 'Unauthorized User' },
      })
    })

    test('not connected → 404 Access Token Not Found', async () => {
      expect(await json(await app.call('/auth/', { method: 'DELETE', account: acct() }))).toEqual({
        status: 404,
        body: { success: false, errno: 404, message: 'Access Token Not Found', code: 'TOKEN_NOT_FOUND' },
      })
    })

    test('connected → 200 SUCCESS, revoked at Salesforce, on /auth and /auth/', async () => {
      for (const path of ['/auth', '/auth/']) {
        const a = acct()
        await connectHttp(app.call, a)
        await sim.resetCounts()
        expect(await json(await app.call(path, { method: 'DELETE', account: a }))).toEqual({
          status: 200,
          body: { success: true, message: 'SUCCESS', revoked: true },
        })
        expect((await sim.counts()).revoke).toBe(1)
        expect((await app.call(`/export/contacts?limit=1`, { account: a })).status).toBe(400)
      }
    })
  })

  describe('GET /export/:type', () => {
    let a
    beforeAll(async () => {
      a = acct()
      await connectHttp(app.call, a)
    })

    test('no req.auth → 401 Unauthorized User', async () => {
      expect(await json(await app.call('/export/contacts'))).toEqual({
        status: 401,
        body: { success: false, errno: 401, message: 'Unauthorized User' },
      })
    })

    test('unknown type → 400 with the incumbent message', async () => {
      for (const t of ['accounts', 'Contacts', '%20', '..%2F..']) {
        expect(await json(await app.call(`/export/${t}`, { account: a }))).toEqual({
          status: 400,
          body: { success: false, errno: 400, message: 'Please provide valid type. Example contacts and deals', code: 'INVALID_TYPE' },
        })
      }
    })

    test('not connected → 400 Api Token Not Found (the incumbent status)', async () => {
      expect(await json(await app.call('/export/contacts', { account: acct() }))).toEqual({
        status: 400,
        body: { success: false, errno: 400, message: 'Api Token Not Found', code: 'TOKEN_NOT_FOUND' },
      })
    })

    test('a page → 200 SUCCESS with data and the incumbent pagination', async () => {
      const r = await json(await app.call('/export/contacts?page=2&limit=10', { account: a }))
      expect(r.status).toBe(200)
      expect(r.body).toMatchObject({ success: true, message: 'SUCCESS' })
      expect(r.body.data).toHaveLength(10)
      expect(r.body.data[0].attributes.type).toBe('Contact')
      expect(r.body.pagination).toEqual({ page: 2, per_page: 10, total: 37, total_pages: 4, next_page: 3, prev_page: 1, offsetValue: 10 })
    })

    test('every page reachable, the last one partial', async () => {
      const r = await json(await app.call('/export/contacts?page=4&limit=10', { account: a }))
      expect(r.body.data).toHaveLength(7)
      expect(r.body.pagination).toMatchObject({ next_page: null, offsetValue: 30 })
    })

    test('deals and notes', async () => {
      const d = await json(await app.call('/export/deals?limit=5', { account: a }))
      expect(d.body.data[0].attributes.type).toBe('Opportunity')
      expect(d.body.pagination.total).toBe(12)
      const nt = await json(await app.call('/export/notes', { account: a }))
      expect(nt.body.data).toHaveLength(5)
      expect(nt.body.data[0].attributes.type).toBe('Note')
    })

    test('no limit → every record on one page', async () => {
      const r = await json(await app.call('/export/contacts', { account: a }))
      expect(r.body.data).toHaveLength(37)
      expect(r.body.pagination).toMatchObject({ page: 1, per_page: 37, total_pages: 1 })
    })

    test('page past the end → 200 with an empty list', async () => {
      const r = await json(await app.call('/export/contacts?page=99&limit=10', { account: a }))
      expect(r.status).toBe(200)
      expect(r.body.data).toEqual([])
      expect(r.body.pagination).toMatchObject({ page: 99, total_pages: 4, prev_page: 98, offsetValue: 0 })
    })

    test('junk page/limit read the incumbent way (parseInt, else defaults), never a 5xx', async () => {
      const r = await json(await app.call('/export/contacts?page=abc&limit=-5', { account: a }))
      expect(r.status).toBe(200)
      expect(r.body.pagination).toMatchObject({ page: 1, per_page: 37 })
      const r2 = await json(await app.call('/export/contacts?page=2x&limit=20abc', { account: a }))
      expect(r2.body.pagination).toMatchObject({ page: 2, per_page: 20 })
      const r3 = await json(await app.call('/export/contacts?page=99999999999999999999999&limit=99999999999999999999', { account: a }))
      expect(r3.status).toBeLessThan(500)
    })

    test('repeated page/limit → 400 INVALID_INPUT', async () => {
      for (const q of ['page=1&page=2', 'limit=1&limit=2', 'download=csv&download=ndjson']) {
        const r = await json(await app.call(`/export/contacts?${q}`, { account: a }))
        expect(r.status).toBe(400)
        expect(r.body.code).toBe('INVALID_INPUT')
      }
    })

    test('expired access token → refreshed and retried, 200', async () => {
      await sim.resetCounts()
      await sim.expireAccessTokens()
      const r = await json(await app.call('/export/contacts?limit=5', { account: a }))
      expect(r.status).toBe(200)
      expect(r.body.data).toHaveLength(5)
      expect((await sim.counts()).token.refresh_token).toBe(1)
    })

    test('a page past OFFSET 2,000 → 200 with the page', async () => {
      await sim.seed({ contacts: 4500 })
      try {
        const r = await json(await app.call('/export/contacts?page=30&limit=100', { account: a }))
        expect(r.status).toBe(200)
        expect(r.body.data).toHaveLength(100)
        expect(r.body.pagination).toMatchObject({ page: 30, total: 4500, offsetValue: 2900, next_page: 31 })
      } finally {
        await sim.seed({ contacts: SEED.contacts })
      }
    })

    test('REQUEST_LIMIT_EXCEEDED → 429 RATE_LIMITED', async () => {
      await sim.fault({ target: 'query', kind: 'rate_limit', count: 2 })
      const r = await json(await app.call('/export/deals?limit=5', { account: a }))
      expect(r).toMatchObject({ status: 429, body: { success: false, errno: 429, code: 'RATE_LIMITED' } })
    })

    test('a field the org does not have → 400 SALESFORCE_ERROR with Salesforce\'s message', async () => {
      const cfl = new Forcelink(
        baseConfig(sim, { storePath: tmpDb('express-fields'), exportTypes: { contacts: { object: 'Contact', fields: ['Name', 'No_Such_Field__c'] } } }),
      )
      const s = await startApp(express, cfl)
      try {
        const b = acct()
        await connectHttp(s.call, b)
        const r = await json(await s.call('/export/contacts?limit=5', { account: b }))
        expect(r.status).toBe(400)
        expect(r.body).toMatchObject({ success: false, errno: 400, code: 'SALESFORCE_ERROR' })
        expect(r.body.message).toMatch(/No_Such_Field__c/)
      } finally {
        await s.close()
      }
    })

    test('Salesforce down → its status and code, not a 500', async () => {
      await sim.fault({ target: 'query', kind: '503', count: 4 })
      const r = await json(await app.call('/export/contacts?limit=5', { account: a }))
      expect(r.status).toBe(503)
      expect(r.body).toMatchObject({ success: false, errno: 503, code: 'SALESFORCE_UNAVAILABLE' })
    })

    test('refresh token revoked → 401 RECONNECT_REQUIRED', async () => {
      const b = acct()
      await connectHttp(app.call, b)
      await sim.revokeRefreshTokens()
      await sim.expireAccessTokens()
      const r = await json(await app.call('/export/contacts?limit=5', { account: b }))
      expect(r.status).toBe(401)
      expect(r.body).toMatchObject({ success: false, errno: 401, code: 'RECONNECT_REQUIRED' })
      // The connection is marked invalid, so the next login starts the flow over.
      const again = await app.call('/auth/login?forward_url=/back', { account: b })
      expect(again.headers.get('location')).toMatch(/\/services\/oauth2\/authorize\?/)
      // A fresh connection for the remaining tests.
      await connectHttp(app.call, (a = acct()))
    })

    describe('?download=', () => {
      test('csv → the whole type streamed with headers for a download', async () => {
        const r = await app.call('/export/contacts?download=csv', { account: a })
        expect(r.status).toBe(200)
        expect(r.headers.get('content-type')).toMatch(/^text\/csv/)
        expect(r.headers.get('content-disposition')).toBe('attachment; filename="contacts.csv"')
        expect(r.headers.get('x-total-count')).toBe('37')
        expect(r.headers.get('access-control-expose-headers')).toMatch(/X-Total-Count/)
        const text = await r.text()
        expect(text.split('\n')[0]).toMatch(/Name/i)
        expect(csvRecords(text)).toBe(37 + 1)
      })

      test('ndjson → one record a line', async () => {
        const r = await app.call('/export/deals?download=ndjson', { account: a })
        expect(r.headers.get('content-type')).toMatch(/^application\/x-ndjson/)
        expect(r.headers.get('content-disposition')).toBe('attachment; filename="deals.ndjson"')
        const lines = (await r.text()).trim().split('\n')
        expect(lines).toHaveLength(12)
        expect(JSON.parse(lines[0]).attributes.type).toBe('Opportunity')
      })

      test('unknown format → 400; unknown type → 400; not connected → 400; no auth → 401', async () => {
        expect((await json(await app.call('/export/contacts?download=xml', { account: a }))).body).toMatchObject({ errno: 400, code: 'INVALID_INPUT' })
        expect((await json(await app.call('/export/contacts?download=__proto__', { account: a }))).status).toBe(400)
        expect((await json(await app.call('/export/things?download=csv', { account: a }))).body).toMatchObject({ errno: 400, code: 'INVALID_TYPE' })
        expect((await json(await app.call('/export/contacts?download=csv', { account: acct() }))).body).toMatchObject({
          errno: 400,
          message: 'Api Token Not Found',
        })
        expect((await app.call('/export/contacts?download=csv')).status).toBe(401)
      })

      test('Salesforce down after the first batch → the connection is cut, not a short file', async () => {
        await sim.seed({ contacts: 4500 })
        try {
          // The first round passes (first page and largest Id: 1 ms "slow" faults consumed), the next pages fail.
          await sim.fault({ target: 'query', kind: 'slow', delayMs: 1, count: 2 })
          await sim.fault({ target: 'query', kind: '503', count: 4 })
          const r = await app.call('/export/contacts?download=ndjson', { account: a })
          expect(r.status).toBe(200)
          expect(r.headers.get('x-total-count')).toBe('4500')
          await expect(r.text()).rejects.toThrow()
        } finally {
          await sim.seed({ contacts: SEED.contacts })
        }
      })

      test('a client that goes away stops the export', async () => {
        await sim.seed({ contacts: 40000 })
        try {
          await sim.fault({ target: 'query', kind: 'slow', delayMs: 150, count: 100 })
          await sim.resetCounts()
          const ctrl = new AbortController()
          const r = await app.call('/export/contacts?download=ndjson', { account: a, signal: ctrl.signal })
          expect(r.headers.get('x-total-count')).toBe('40000')
          await r.body.getReader().read()
          ctrl.abort()
          await new Promise((done) => setTimeout(done, 1500))
          const c = await sim.counts()
          // 20 batches in all; only the ones in flight or buffered when the client left are fetched:
          // the first round (first page + largest Id), and a round of 4 Id ranges or two (read-ahead).
          expect(c.query + c.queryMore).toBeLessThanOrEqual(2 + 4 + 4)
        } finally {
          await sim.clearFaults()
          await sim.seed({ contacts: SEED.contacts })
        }
      })

      test('Salesforce down before the first byte → a JSON error, not a broken download', async () => {
        await sim.fault({ target: 'query', kind: '503', count: 4 })
        const r = await json(await app.call('/export/notes?download=csv', { account: a }))
        expect(r).toMatchObject({ status: 503, body: { success: false, code: 'SALESFORCE_UNAVAILABLE' } })
      })
    })
  })

  describe('errors that are not the integration\'s', () => {
    test('a failing host store → 500 STORE_ERROR with a sanitized message; onError sees it', async () => {
      const store = new MapStore()
      const sfl = new Forcelink(baseConfig(sim, { store }))
      const s = await startApp(express, sfl)
      try {
        store.failOn = 'find'
        const expected = { status: 500, body: { success: false, errno: 500, message: 'Token store unavailable', code: 'STORE_ERROR' } }
        expect(await json(await s.call('/export/contacts', { account: 'x' }))).toEqual(expected)
        expect(await json(await s.call('/auth/login?forward_url=/x', { account: 'x' }))).toEqual(expected)
        expect(await json(await s.call('/auth', { method: 'DELETE', account: 'x' }))).toEqual(expected)
        expect(s.seen.reported).toContain('STORE_ERROR')
      } finally {
        await s.close()
      }
    })

    test('an invalidated stored token is deleted and login starts over', async () => {
      const store = new MapStore()
      const sfl = new Forcelink(baseConfig(sim, { store }))
      const s = await startApp(express, sfl)
      try {
        await store.save({ account_id: 'inv', owner: 'u1', token: { access_token: 'old', refresh_token: 'old' }, token_invalidated: true })
        const r = await s.call('/auth/login?forward_url=/back', { account: 'inv' })
        expect(r.status).toBe(302)
        expect(r.headers.get('location')).toMatch(/\/services\/oauth2\/authorize\?/)
        expect(store.docs.size).toBe(0)
      } finally {
        await s.close()
      }
    })

    test('a non-Forcelink error goes to next(err)', async () => {
      const boom = new TypeError('boom')
      const fake = {
        beginLogin: async () => {
          throw boom
        },
        exportPage: async () => {
          throw boom
        },
      }
      const s = await startApp(express, fake)
      try {
        expect(await json(await s.call('/auth/login?forward_url=/x', { account: 'a' }))).toEqual({
          status: 500,
          body: { host: 'error-middleware', message: 'boom' },
        })
        expect((await s.call('/export/contacts', { account: 'a' })).status).toBe(500)
        expect(s.seen.errors).toEqual([boom, boom])
      } finally {
        await s.close()
      }
    })

    test('a custom getAuth and forwardUrlParam', async () => {
      const e = express()
      const c = createSalesforceController(fl, { getAuth: (req) => req.user, forwardUrlParam: 'next' })
      e.get('/login', (req, _res, nx) => ((req.user = { account_id: 7, uid: 8 }), nx()), c.getLogin)
      const server = await new Promise((r) => {
        const sv = e.listen(0, '127.0.0.1', () => r(sv))
      })
      try {
        const r = await fetch(`http://127.0.0.1:${server.address().port}/login?next=/n`, { redirect: 'manual' })
        expect(r.status).toBe(302)
        const state = new URL(r.headers.get('location')).searchParams.get('state')
        const claims = JSON.parse(Buffer.from(state.split('.')[1], 'base64url'))
        expect(claims).toMatchObject({ aid: '7', uid: '8', forward_url: '/n' })
      } finally {
        await new Promise((r) => server.close(r))
      }
    })
  })
})

test('createSalesforceController rejects a missing Forcelink', () => {
  expect(() => createSalesforceController(undefined)).toThrow(TypeError)
})

test('the ESM entry exports the same functions', () => {
  // Jest's CJS runtime cannot import() without a VM flag: check in a plain Node process.
  const { execFileSync } = require('node:child_process')
  const out = execFileSync(
    process.execPath,
    ['--input-type=module', '-e', "import d, { salesforceRouter as s, createSalesforceController as c } from 'forcelink/express'; console.log(typeof s, typeof c, d.salesforceRouter === s)"],
    { cwd: require('node:path').join(__dirname, '..'), encoding: 'utf8' },
  )
  expect(out.trim()).toBe('function function true')
})
