'use strict'
// Issue 20: connections that survive today's Salesforce policies — the refresh-token idle lifetime
// (keepAlive, listConnections, refreshed_at), reasons on RECONNECT_REQUIRED, JWT-based access
// tokens refreshed ahead of `exp`. Against the simulator's virtual clock, through forcelink/testing.
const os = require('node:os')
const path = require('node:path')
const crypto = require('node:crypto')
const express = require('express')
const { Forcelink } = require('..')
const { salesforceRouter } = require('../express')
const { startSimulator, connectForTest, MemoryStore } = require('../testing')

const DAY = 86_400_000
const SOQL = 'SELECT Id FROM Contact LIMIT 1'
let sim
const open = []

beforeAll(async () => {
  sim = await startSimulator({ contacts: 3, deals: 0, notes: 0, refreshTokenIdleTtlMs: 30 * DAY })
})
afterEach(async () => {
  for (const fl of open.splice(0)) await fl.close()
  await sim.control.refuseRefresh(null)
  await sim.control.setConfig({ rotation: false })
})
afterAll(() => sim.close())

const tmpDb = () => path.join(os.tmpdir(), `fl-keepalive-${process.pid}-${crypto.randomUUID()}.db`)

function make(extra = {}) {
  const fl = new Forcelink(sim.forcelinkConfig(extra))
  open.push(fl)
  return fl
}

async function connected(n, extra = {}) {
  const fl = make(extra)
  const who = []
  for (let i = 0; i < n; i++) {
    const c = { accountId: `acc-${String(i).padStart(3, '0')}`, ownerId: 'usr' }
    await connectForTest(fl, c)
    who.push(c)
  }
  // A sweep with olderThanMs 0 lists grants made before its millisecond, not in it.
  await new Promise((r) => setTimeout(r, 5))
  return { fl, who }
}

describe('idle refresh-token lifetime', () => {
  test('a connection idle past the TTL comes back RECONNECT_REQUIRED (reason, idleMs, stored reason)', async () => {
    const store = new MemoryStore()
    const { fl, who } = await connected(1, { store })
    const events = []
    fl.on('reconnectRequired', (e) => events.push(e))
    await sim.control.advanceClock(31 * DAY)
    await sim.control.expireTokens()
    const err = await fl.query({ ...who[0], soql: SOQL }).catch((e) => e)
    expect(err).toMatchObject({ code: 'RECONNECT_REQUIRED', status: 401, reason: 'expired_or_revoked' })
    expect(typeof err.idleMs).toBe('number')
    expect(err.idleMs).toBeGreaterThanOrEqual(0)
    expect(err.message).toContain('expired_or_revoked')
    expect(events).toEqual([expect.objectContaining({ connection: who[0], reason: 'expired_or_revoked', idleMs: expect.any(Number) })])
    const [doc] = store.records()
    expect(doc).toMatchObject({ token_invalidated: true, invalidated_reason: 'expired_or_revoked' })
    // The stored reason is answered later too, without asking Salesforce again.
    await sim.control.resetCounts()
    await expect(fl.query({ ...who[0], soql: SOQL })).rejects.toMatchObject({ code: 'RECONNECT_REQUIRED', reason: 'expired_or_revoked' })
    expect((await sim.control.counts()).token.total).toBe(0)
  })

  test('keepAlive keeps it alive through several idle lifetimes (embedded SQLite store)', async () => {
    const { fl, who } = await connected(3, { storePath: tmpDb() })
    for (let sweep = 0; sweep < 4; sweep++) {
      await sim.control.advanceClock(20 * DAY)
      await sim.control.resetCounts()
      // Forcelink's clock has not moved: olderThanMs 0 makes every connection due.
      const r = await fl.keepAlive({ olderThanMs: 0 })
      expect(r).toEqual({ refreshed: 3, skipped: 0, failed: [] })
      expect((await sim.control.counts()).token).toMatchObject({ refresh_token: 3, total: 3 })
    }
    await sim.control.expireTokens()
    for (const c of who) expect((await fl.query({ ...c, soql: SOQL })).records).toHaveLength(1)
  })

  test('refreshed_at is written by every grant; keepAlive skips fresh connections', async () => {
    const store = new MemoryStore()
    const { fl, who } = await connected(2, { store })
    const t0 = Date.now()
    for (const d of store.records()) expect(d.refreshed_at).toBeGreaterThan(t0 - 60_000)
    await sim.control.resetCounts()
    expect(await fl.keepAlive()).toEqual({ refreshed: 0, skipped: 0, failed: [] })
    expect((await sim.control.counts()).token.total).toBe(0)
    const before = store.records()[0].refreshed_at
    await new Promise((r) => setTimeout(r, 5))
    await fl.getAccessToken({ ...who[0], forceRefresh: true })
    expect(store.records()[0].refreshed_at).toBeGreaterThan(before)
  })

  test('an incumbent record without refreshed_at counts as old and gets it', async () => {
    const store = new MemoryStore()
    const { fl } = await connected(1, { store })
    const [doc] = store.records()
    delete doc.refreshed_at
    await store.save(doc)
    const r = await fl.keepAlive({ olderThanMs: DAY })
    expect(r.refreshed).toBe(1)
    expect(store.records()[0].refreshed_at).toEqual(expect.any(Number))
  })

  test('failures are listed with code and reason; the sweep goes on', async () => {
    const store = new MemoryStore()
    const { fl, who } = await connected(3, { store })
    // One connection's grant dies (idle past TTL at the org) before the sweep.
    const victim = store.records().find((d) => d.account_id === who[1].accountId)
    await store.save({ ...victim, token: { ...victim.token, refresh_token: '5Aep861unknownTokenThatWasRevoked==' } })
    // olderThanMs 0 means granted before this millisecond: a grant in the same one is fresh.
    const tick = () => new Promise((r) => setTimeout(r, 5))
    await tick()
    const r = await fl.keepAlive({ olderThanMs: 0 })
    expect(r.refreshed).toBe(2)
    expect(r.failed).toEqual([expect.objectContaining({ connection: who[1], code: 'RECONNECT_REQUIRED', reason: 'expired_or_revoked' })])
    expect(JSON.stringify(r)).not.toContain('5Aep861')
    // Invalidated now: the next sweep leaves it out.
    await tick()
    expect(await fl.keepAlive({ olderThanMs: 0 })).toMatchObject({ refreshed: 2, failed: [] })
  })

  test('limit, concurrency and a store without listConnections', async () => {
    const { fl } = await connected(4, { store: new MemoryStore() })
    expect(await fl.keepAlive({ olderThanMs: 0, limit: 3, concurrency: 1 })).toMatchObject({ refreshed: 3 })
    await expect(fl.keepAlive({ concurrency: 0 })).rejects.toMatchObject({ code: 'INVALID_INPUT', field: 'concurrency' })
    await expect(fl.keepAlive({ olderThanMs: -1 })).rejects.toMatchObject({ code: 'INVALID_INPUT', field: 'olderThanMs' })
    await expect(fl.keepAlive({ limit: 'x' })).rejects.toMatchObject({ code: 'INVALID_INPUT', field: 'limit' })
    const bare = new MemoryStore()
    bare.listConnections = undefined
    const fl2 = make({ store: bare })
    const err = await fl2.keepAlive().catch((e) => e)
    expect(err).toMatchObject({ code: 'UNSUPPORTED', method: 'listConnections' })
    expect(err.message).toContain('listConnections')
  })

  test('signal stops a sweep promptly (CANCELLED)', async () => {
    const { fl } = await connected(6, { store: new MemoryStore() })
    await sim.control.setConfig({ tokenDelayMs: 300 })
    try {
      const ac = new AbortController()
      const started = Date.now()
      const p = fl.keepAlive({ olderThanMs: 0, concurrency: 1, signal: ac.signal })
      setTimeout(() => ac.abort(new Error('shutdown')), 100)
      await expect(p).rejects.toMatchObject({ code: 'CANCELLED' })
      expect(Date.now() - started).toBeLessThan(1500)
      const pre = new AbortController()
      pre.abort()
      await expect(fl.keepAlive({ signal: pre.signal })).rejects.toMatchObject({ code: 'CANCELLED' })
    } finally {
      await sim.control.setConfig({ tokenDelayMs: 0 })
    }
  })

  test('MemoryStore.listConnections pages by key and leaves out dead records', async () => {
    const s = new MemoryStore()
    const tok = (rt) => ({ access_token: 'a', ...(rt ? { refresh_token: 'r' } : {}) })
    for (const a of ['b', 'a', 'd', 'c', 'e']) await s.save({ account_id: a, owner: 'o', token: tok(true), refreshed_at: 10 })
    await s.save({ account_id: 'f', owner: 'o', token: tok(true), refreshed_at: 1000 })
    await s.save({ account_id: 'g', owner: 'o', token: tok(false) })
    await s.save({ account_id: 'h', owner: 'o', token: tok(true), token_invalidated: true })
    await s.save({ account_id: 'i', owner: 'o', token: tok(true) })
    const seen = []
    let after
    for (;;) {
      const page = await s.listConnections({ refreshedBefore: 500, after, limit: 2 })
      seen.push(...page.connections.map((c) => c.accountId))
      if (page.next === null) break
      after = page.next
    }
    expect(seen).toEqual(['a', 'b', 'c', 'd', 'e', 'i'])
  })
})

describe('reasons', () => {
  const cases = [
    ['user_inactive', 'user_inactive'],
    ['org_inactive', 'org_inactive'],
    ['ip_restricted', 'policy_blocked'],
    ['login_hours', 'policy_blocked'],
    ['app_blocked', 'app_blocked'],
  ]
  test.each(cases)('Salesforce refusing a refresh (%s) → reason %s', async (refusal, reason) => {
    const store = new MemoryStore()
    const { fl, who } = await connected(1, { store })
    await sim.control.refuseRefresh(refusal)
    const err = await fl.getAccessToken({ ...who[0], forceRefresh: true }).catch((e) => e)
    expect(err).toMatchObject({ code: 'RECONNECT_REQUIRED', status: 401, reason })
    expect(store.records()[0]).toMatchObject({ token_invalidated: true, invalidated_reason: reason })
  })

  test('a connection without a refresh token → no_refresh_token', async () => {
    const { fl, who } = await connected(1, { store: new MemoryStore(), scopes: ['api', 'id'] })
    await sim.control.expireTokens()
    await expect(fl.query({ ...who[0], soql: SOQL })).rejects.toMatchObject({ code: 'RECONNECT_REQUIRED', reason: 'no_refresh_token' })
  })

  test('the Express adapter answers 401 with reason', async () => {
    const store = new MemoryStore()
    const { fl, who } = await connected(1, { store })
    await sim.control.refuseRefresh('user_inactive')
    await sim.control.expireTokens()
    const app = express()
    app.use('/sf', salesforceRouter(fl, { express, getAuth: () => ({ account_id: who[0].accountId, uid: who[0].ownerId }) }))
    const server = app.listen(0, '127.0.0.1')
    await new Promise((r) => server.once('listening', r))
    try {
      const res = await fetch(`http://127.0.0.1:${server.address().port}/sf/export/contacts`)
      expect(res.status).toBe(401)
      expect(await res.json()).toMatchObject({ success: false, errno: 401, code: 'RECONNECT_REQUIRED', reason: 'user_inactive' })
    } finally {
      server.close()
    }
  })
})

describe('JWT-based access tokens', () => {
  let jsim
  beforeAll(async () => {
    jsim = await startSimulator({ contacts: 3, deals: 0, notes: 0, jwtAccessTokens: true, accessTokenTtlMs: 4000 })
  })
  afterAll(() => jsim.close())

  test('the simulator signs RS256 access tokens with exp, key at /id/keys', async () => {
    const fl = new Forcelink(jsim.forcelinkConfig())
    open.push(fl)
    await connectForTest(fl, { accountId: 'j', ownerId: 'u' })
    const { accessToken } = await fl.getAccessToken({ accountId: 'j', ownerId: 'u' })
    const [h, p, sig] = accessToken.split('.')
    const header = JSON.parse(Buffer.from(h, 'base64url').toString())
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString())
    expect(header.alg).toBe('RS256')
    expect(claims.exp * 1000).toBeGreaterThan(Date.now())
    const { keys } = await (await fetch(`${jsim.loginUrl}/id/keys`)).json()
    const jwk = keys.find((k) => k.kid === header.kid)
    const key = crypto.createPublicKey({ key: jwk, format: 'jwk' })
    expect(crypto.verify('sha256', Buffer.from(`${h}.${p}`), key, Buffer.from(sig, 'base64url'))).toBe(true)
  })

  test('refreshed ahead of exp on the single-flight path: zero 401s', async () => {
    const fl = new Forcelink(jsim.forcelinkConfig({ refreshAheadMs: 1500 }))
    open.push(fl)
    await connectForTest(fl, { accountId: 'j', ownerId: 'u' })
    // exp is whole seconds, 3 to 4 s away: 2.8 s later every copy is within 1.5 s of it.
    await new Promise((r) => setTimeout(r, 2800))
    await jsim.control.resetCounts()
    const results = await Promise.all(Array.from({ length: 10 }, () => fl.query({ accountId: 'j', ownerId: 'u', soql: SOQL })))
    expect(results.every((r) => r.records.length === 1)).toBe(true)
    const c = await jsim.control.counts()
    expect(c.token.refresh_token).toBe(1)
    expect(c.invalidSession).toBe(0)
  })

  test('opaque tokens behave as today (no refresh before a 401)', async () => {
    await jsim.control.useJwtAccessTokens(false)
    try {
      const fl = new Forcelink(jsim.forcelinkConfig({ refreshAheadMs: 1500 }))
      open.push(fl)
      await connectForTest(fl, { accountId: 'o', ownerId: 'u' })
      await new Promise((r) => setTimeout(r, 2800))
      await jsim.control.resetCounts()
      await fl.query({ accountId: 'o', ownerId: 'u', soql: SOQL })
      expect((await jsim.control.counts()).token.refresh_token).toBe(0)
    } finally {
      await jsim.control.useJwtAccessTokens(true)
    }
  })

  test('a token whose whole life is shorter than refreshAheadMs is not refreshed on every call', async () => {
    const fl = new Forcelink(jsim.forcelinkConfig({ refreshAheadMs: 60_000 }))
    open.push(fl)
    await connectForTest(fl, { accountId: 's', ownerId: 'u' })
    await jsim.control.resetCounts()
    for (let i = 0; i < 5; i++) await fl.query({ accountId: 's', ownerId: 'u', soql: SOQL })
    // Not in the first half of its 4 s life: no refresh yet.
    expect((await jsim.control.counts()).token.refresh_token).toBe(0)
  })

  test('refreshAheadMs is checked', () => {
    expect(() => new Forcelink(jsim.forcelinkConfig({ refreshAheadMs: -5 }))).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', field: 'refreshAheadMs' }))
  })
})

test('a refresh token rotated by an outside writer is adopted; the rotated-out one is never presented', async () => {
  await sim.control.setConfig({ rotation: true })
  const store = new MemoryStore()
  const { fl, who } = await connected(1, { store, tokenCacheTtlMs: 0 })
  const [doc] = store.records()
  // The incumbent (outside forcelink) refreshes with rotation and writes the new token back.
  const res = await fetch(`${sim.loginUrl}/services/oauth2/token`, {
    method: 'POST',
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: doc.token.refresh_token, client_id: sim.clientId, client_secret: sim.clientSecret }),
  })
  const fresh = await res.json()
  await store.save({ ...doc, token: { ...doc.token, access_token: fresh.access_token, refresh_token: fresh.refresh_token } })
  await sim.control.expireTokens()
  await fl.query({ ...who[0], soql: SOQL })
  await fl.keepAlive({ olderThanMs: 0 })
  const reuses = await (await fetch(`${sim.loginUrl}/__sim/reuses`)).json()
  expect(reuses.count).toBe(0)
  expect(store.records()[0].token_invalidated).toBe(false)
})

test('close() stops a running sweep (CANCELLED) and waits for the refreshes under way', async () => {
  const store = new MemoryStore()
  const fl = new Forcelink(sim.forcelinkConfig({ store }))
  for (let i = 0; i < 5; i++) await connectForTest(fl, { accountId: `close-${i}`, ownerId: 'u' })
  await sim.control.setConfig({ tokenDelayMs: 200 })
  try {
    const p = fl.keepAlive({ olderThanMs: 0, concurrency: 1 })
    await new Promise((r) => setTimeout(r, 50))
    await fl.close()
    await expect(p).rejects.toMatchObject({ code: 'CANCELLED' })
    // The refresh that was under way was saved: nothing is left invalidated.
    expect(store.records().every((d) => d.token_invalidated === false)).toBe(true)
  } finally {
    await sim.control.setConfig({ tokenDelayMs: 0 })
  }
})

test('a ForcelinkError for RECONNECT_REQUIRED always has reason and idleMs (test doubles too)', () => {
  const { forcelinkError } = require('../testing')
  expect(forcelinkError('RECONNECT_REQUIRED')).toMatchObject({ reason: 'other', idleMs: null })
  expect(forcelinkError('RECONNECT_REQUIRED', { reason: 'user_inactive', idleMs: 5 })).toMatchObject({ reason: 'user_inactive', idleMs: 5 })
  expect(forcelinkError('TOKEN_NOT_FOUND').reason).toBeUndefined()
})
