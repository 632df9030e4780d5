'use strict'
// Token lifecycle edges (issue 10), each against the simulator: rotated tokens survive failed
// saves and cancelled callers, single flight shares outcomes, one retry budget per call, bounded
// store calls, fenced leases, disconnect wins, unrefreshable connections are marked, per-org caches.
const path = require('node:path')
const { spawn } = require('node:child_process')
const { Forcelink } = require('..')
const { startSim, tmpDb, baseConfig, MapStore, connect } = require('./helpers')

let sim
beforeAll(async () => {
  sim = await startSim(['--deals', '300'])
})
afterAll(() => sim.stop())
afterEach(async () => {
  await sim.setConfig({ rotation: false, tokenDelayMs: 0, accessTokenTtlMs: 0, connectOrg: 1 })
  await sim.clearFaults()
})

const SOQL = 'SELECT Id, Name FROM Contact ORDER BY Id LIMIT 5'
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
let n = 0
const nextConn = () => ({ accountId: `acc-${++n}`, ownerId: `usr-${n}` })

/** MapStore plus the v2 contract: leases with tokens and fenced saves. */
class V2Store extends MapStore {
  constructor() {
    super()
    this.leases = new Map()
    this.saveOpts = []
  }
  async save(rec, opts) {
    this.check('save')
    this.saveOpts.push(opts)
    const k = this.key(rec.account_id, rec.owner)
    if (opts && opts.expectedVersion !== undefined) {
      const cur = this.docs.get(k)
      if (!cur || (cur.version || 0) !== opts.expectedVersion) return false
    }
    this.docs.set(k, structuredClone(rec))
    return true
  }
  async acquireLease(a, o, ttlMs) {
    const k = this.key(a, o)
    const l = this.leases.get(k)
    if (l && l.exp > Date.now()) return null
    const token = `lease-${Math.random()}`
    this.leases.set(k, { token, exp: Date.now() + ttlMs })
    return token
  }
  async renewLease(a, o, token, ttlMs) {
    const l = this.leases.get(this.key(a, o))
    if (!l || l.token !== token || l.exp <= Date.now()) return false
    l.exp = Date.now() + ttlMs
    return true
  }
  async releaseLease(a, o, token) {
    const k = this.key(a, o)
    if (this.leases.get(k)?.token === token) this.leases.delete(k)
  }
}

const doc = (store, c) => store.docs.get(store.key(c.accountId, c.ownerId))

async function connected(store = new MapStore(), extra = {}) {
  const c = nextConn()
  const fl = new Forcelink(baseConfig(sim, { store, ...extra }))
  await connect(fl, c.accountId, c.ownerId)
  return { fl, store, c }
}

async function eventually(fn, ms = 5000) {
  const end = Date.now() + ms
  for (;;) {
    if (await fn()) return true
    if (Date.now() > end) return false
    await sleep(50)
  }
}

describe('1. a rotated refresh token is never lost', () => {
  test.each(['throws', 'rejects', 'times out'])('when the save after a rotation %s', async (how) => {
    await sim.setConfig({ rotation: true })
    const store = new MapStore()
    const { fl, c } = await connected(store, { storeTimeoutMs: 300 })
    const before = doc(store, c).token.refresh_token
    const realSave = store.save.bind(store)
    let failures = 1
    store.save = async (rec, opts) => {
      if (failures-- > 0) {
        if (how === 'throws') throw new Error('db down')
        if (how === 'rejects') return Promise.reject(new Error('db down'))
        return new Promise(() => {}) // never settles
      }
      return realSave(rec, opts)
    }
    await sim.expireAccessTokens()
    // The call that hit the failed save still gets its records (the token is in memory).
    await expect(fl.query({ ...c, soql: SOQL })).resolves.toMatchObject({ totalSize: 5 })
    // The background save lands the rotated token.
    expect(await eventually(() => doc(store, c).token.refresh_token !== before)).toBe(true)
    // The old token was never sent again, and the connection keeps refreshing.
    await sim.expireAccessTokens()
    await expect(fl.query({ ...c, soql: SOQL })).resolves.toMatchObject({ totalSize: 5 })
    await fl.getAccessToken({ ...c, forceRefresh: true })
    expect((await sim.control('reuses')).count).toBe(0)
    expect(doc(store, c).token_invalidated).toBe(false)
  })

  test('while the store stays down the in-memory token keeps the connection alive', async () => {
    await sim.setConfig({ rotation: true })
    const store = new MapStore()
    const { fl, c } = await connected(store)
    store.failOn = 'save'
    for (let i = 0; i < 3; i++) {
      await fl.getAccessToken({ ...c, forceRefresh: true })
    }
    await sim.expireAccessTokens()
    await expect(fl.query({ ...c, soql: SOQL })).resolves.toMatchObject({ totalSize: 5 })
    expect((await sim.control('reuses')).count).toBe(0)
    store.failOn = null
    const live = (await fl.getAccessToken(c)).accessToken
    expect(await eventually(() => doc(store, c).token.access_token === live, 8000)).toBe(true)
  })

  test('an unsaved rotated token is not evicted from a full cache', async () => {
    await sim.setConfig({ rotation: true })
    const store = new MapStore()
    const fl = new Forcelink(baseConfig(sim, { store, maxCachedConnections: 1 }))
    const [a, b] = [nextConn(), nextConn()]
    await connect(fl, a.accountId, a.ownerId)
    await connect(fl, b.accountId, b.ownerId)
    store.failOn = 'save'
    await fl.getAccessToken({ ...a, forceRefresh: true }) // rotated, unsaved
    store.failOn = null
    await fl.getAccessToken(b) // fills the one cache slot
    await fl.getAccessToken({ ...a, forceRefresh: true })
    expect((await sim.control('reuses')).count).toBe(0)
    await expect(fl.query({ ...a, soql: SOQL })).resolves.toMatchObject({ totalSize: 5 })
  })
})

describe('2. a refresh survives its callers', () => {
  test.each(['AbortSignal', 'closed download', 'dropped promise'])('cancelled by %s while a slow refresh is in flight', async (how) => {
    await sim.setConfig({ rotation: true })
    const { fl, store, c } = await connected()
    const before = doc(store, c).token.refresh_token
    await sim.expireAccessTokens()
    await sim.setConfig({ tokenDelayMs: 800 })
    await sim.resetCounts()
    if (how === 'AbortSignal') {
      const ac = new AbortController()
      setTimeout(() => ac.abort(), 300)
      await expect(
        (async () => {
          for await (const _ of fl.exportAll({ ...c, type: 'deals', signal: ac.signal })) void _
        })(),
      ).rejects.toMatchObject({ code: 'CANCELLED' })
    } else if (how === 'closed download') {
      const s = fl.exportStream({ ...c, type: 'deals', format: 'csv' })
      s.on('error', () => {})
      s.resume()
      await sleep(300)
      s.destroy()
    } else {
      void fl.query({ ...c, soql: SOQL }).catch(() => {})
      await sleep(300)
    }
    // The token request was sent; its answer is saved although nobody waits for it.
    expect(await eventually(() => doc(store, c).token.refresh_token !== before)).toBe(true)
    await sim.setConfig({ tokenDelayMs: 0 })
    await expect(fl.query({ ...c, soql: SOQL })).resolves.toMatchObject({ totalSize: 5 })
    expect((await sim.counts()).token.refresh_token).toBe(1)
    expect((await sim.control('reuses')).count).toBe(0)
  })
})

test('3. 50 callers during a token-endpoint outage: at most maxRetries + 1 token requests, all fail fast', async () => {
  const { fl, c } = await connected(new MapStore(), { maxRetries: 3 })
  await sim.expireAccessTokens()
  await sim.resetCounts()
  await sim.fault({ target: 'token', kind: 503, count: 1000 })
  const t0 = Date.now()
  const results = await Promise.allSettled(Array.from({ length: 50 }, () => fl.query({ ...c, soql: SOQL })))
  const elapsed = Date.now() - t0
  for (const r of results) expect(r).toMatchObject({ status: 'rejected', reason: { code: 'SALESFORCE_UNAVAILABLE', status: 503 } })
  expect((await sim.counts()).token.refresh_token).toBeLessThanOrEqual(4)
  expect(elapsed).toBeLessThan(5000)
  // Once Salesforce is back, the connection refreshes normally.
  await sim.clearFaults()
  await sleep(1100)
  await expect(fl.query({ ...c, soql: SOQL })).resolves.toMatchObject({ totalSize: 5 })
})

describe('4. one retry budget per call', () => {
  test('a failing request is attempted at most maxRetries + 1 times', async () => {
    const { fl, c } = await connected(new MapStore(), { maxRetries: 2 })
    await sim.resetCounts()
    await sim.fault({ target: 'query', kind: 503, count: 100 })
    await expect(fl.query({ ...c, soql: SOQL })).rejects.toMatchObject({ code: 'SALESFORCE_UNAVAILABLE' })
    expect((await sim.counts()).query).toBe(3)
  })

  test('repeated 401s cause at most one refresh per call', async () => {
    const { fl, c } = await connected(new MapStore(), { maxRetries: 3 })
    await sim.resetCounts()
    await sim.fault({ target: 'query', kind: 'invalid_session', count: 100 })
    await expect(fl.query({ ...c, soql: SOQL })).rejects.toMatchObject({ code: 'SALESFORCE_ERROR' })
    const counts = await sim.counts()
    expect(counts.token.refresh_token).toBe(1)
    expect(counts.query).toBeLessThanOrEqual(4)
  })
})

describe('5. store calls are bounded', () => {
  test('a find that never settles fails the call with STORE_ERROR within storeTimeoutMs', async () => {
    const store = { find: () => new Promise(() => {}), save() {}, delete: () => true }
    const fl = new Forcelink(baseConfig(sim, { store, storeTimeoutMs: 300 }))
    const t0 = Date.now()
    await expect(fl.getAccessToken(nextConn())).rejects.toMatchObject({ code: 'STORE_ERROR', status: 500, message: expect.stringContaining('storeTimeoutMs') })
    expect(Date.now() - t0).toBeLessThan(3000)
  })

  test('a hung save during a refresh holds no lock: other callers settle too', async () => {
    const store = new MapStore()
    const { fl, c } = await connected(store, { storeTimeoutMs: 300 })
    const realFind = store.find.bind(store)
    store.find = () => new Promise(() => {})
    await sim.expireAccessTokens()
    const t0 = Date.now()
    const results = await Promise.allSettled(Array.from({ length: 10 }, () => fl.getAccessToken({ ...c, forceRefresh: true })))
    expect(Date.now() - t0).toBeLessThan(5000)
    for (const r of results) expect(r.status === 'fulfilled' || r.reason.code === 'STORE_ERROR').toBe(true)
    store.find = realFind
    await expect(fl.getAccessToken({ ...c, forceRefresh: true })).resolves.toMatchObject({ instanceUrl: sim.instanceUrl })
  })

  test('storeTimeoutMs, maxCachedConnections and tokenCacheTtlMs are validated', () => {
    for (const [k, v] of [['storeTimeoutMs', 0], ['storeTimeoutMs', 'x'], ['maxCachedConnections', 0], ['tokenCacheTtlMs', -1]]) {
      expect(() => new Forcelink(baseConfig(sim, { [k]: v }))).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID', field: k }))
    }
  })
})

describe('6. fenced leases (TokenStore contract v2)', () => {
  test('the lease token and expectedVersion reach the store; versions grow', async () => {
    const store = new V2Store()
    const { fl, c } = await connected(store)
    const v0 = doc(store, c).version
    expect(v0).toBeGreaterThan(0)
    const calls = []
    for (const m of ['acquireLease', 'renewLease', 'releaseLease']) {
      const orig = store[m].bind(store)
      store[m] = async (...a) => {
        const r = await orig(...a)
        calls.push([m, a, r])
        return r
      }
    }
    await fl.getAccessToken({ ...c, forceRefresh: true })
    const acquired = calls.find(([m, , r]) => m === 'acquireLease' && typeof r === 'string')
    expect(acquired).toBeTruthy()
    const release = calls.find(([m]) => m === 'releaseLease')
    expect(release[1]).toEqual([c.accountId, c.ownerId, acquired[2]])
    expect(store.saveOpts.at(-1)).toEqual({ expectedVersion: v0 })
    expect(doc(store, c).version).toBeGreaterThan(v0)
  })

  test('a refresher that lost the race adopts the newer record instead of overwriting it', async () => {
    const store = new V2Store()
    const { fl, c } = await connected(store)
    await sim.setConfig({ tokenDelayMs: 600 })
    const pending = fl.getAccessToken({ ...c, forceRefresh: true })
    await sleep(200)
    // Another writer (e.g. a new connect in another process) lands a newer record meanwhile.
    const newer = structuredClone(doc(store, c))
    newer.token.access_token = doc(store, c).token.access_token // stays valid at the simulator
    newer.version = doc(store, c).version + 1000
    newer.marker = 'winner'
    store.docs.set(store.key(c.accountId, c.ownerId), newer)
    const got = await pending
    expect(doc(store, c).marker).toBe('winner')
    expect(got.accessToken).toBe(newer.token.access_token)
  })

  test('a lease works before any record exists (server flows minting their first token)', async () => {
    const store = new V2Store()
    expect(typeof (await store.acquireLease('none', 'yet', 1000))).toBe('string')
  })

  test('a SIGKILLed lease holder frees the connection once its request could no longer be running (SQLite, two processes)', async () => {
    const storePath = tmpDb('crash')
    const c = nextConn()
    // The lease taken before the token request lasts the longest a refresh can take: here
    // 1 attempt of 1 s plus 4 store calls of 1 s = 5 s.
    const cfg = baseConfig(sim, { storePath, httpTimeoutMs: 1000, maxRetries: 0, storeTimeoutMs: 1000, leaseWaitMs: 8000 })
    const fl = new Forcelink(cfg)
    await connect(fl, c.accountId, c.ownerId)
    await sim.setConfig({ tokenDelayMs: 900 })
    const worker = path.join(__dirname, 'fixtures', 'query-worker.js')
    const child = spawn(process.execPath, [worker, JSON.stringify({ cfg, conn: c, soql: SOQL, n: 1, forceRefresh: true })], { stdio: 'ignore' })
    await sleep(600) // the child now holds the lease inside its slow refresh
    child.kill('SIGKILL')
    await sim.setConfig({ tokenDelayMs: 0 })
    const t0 = Date.now()
    await fl.getAccessToken({ ...c, forceRefresh: true })
    expect(Date.now() - t0).toBeLessThan(8000)
  })
})

describe('7. disconnect wins', () => {
  test('a refresh in flight during disconnect never writes the record back', async () => {
    await sim.setConfig({ rotation: true })
    const store = new V2Store()
    const { fl, c } = await connected(store)
    await sim.setConfig({ tokenDelayMs: 700 })
    const refresh = fl.getAccessToken({ ...c, forceRefresh: true }).catch((e) => e)
    await sleep(200)
    await fl.disconnect(c)
    await refresh
    await sleep(1000)
    expect(doc(store, c)).toBeUndefined()
    await expect(fl.getAccessToken(c)).rejects.toMatchObject({ code: 'TOKEN_NOT_FOUND' })
    // The refresh's new token was the one revoked: nothing of the family stays alive.
    const conns = await sim.control('connections')
    expect(conns.at(-1).refreshTokenActive).toBe(false)
  })

  test('another process sees the disconnect within tokenCacheTtlMs', async () => {
    const store = new MapStore()
    const { fl: a, c } = await connected(store, { tokenCacheTtlMs: 300 })
    const b = new Forcelink(baseConfig(sim, { store, tokenCacheTtlMs: 300 }))
    await a.getAccessToken(c)
    await b.disconnect(c)
    await sleep(400)
    await expect(a.getAccessToken(c)).rejects.toMatchObject({ code: 'TOKEN_NOT_FOUND' })
  })
})

test('8. a record without a refresh token that gets 401 is marked token_invalidated', async () => {
  const store = new MapStore()
  const { c } = await connected(store)
  delete doc(store, c).token.refresh_token
  const fresh = new Forcelink(baseConfig(sim, { store }))
  await sim.expireAccessTokens()
  await expect(fresh.query({ ...c, soql: SOQL })).rejects.toMatchObject({ code: 'RECONNECT_REQUIRED', status: 401 })
  expect(doc(store, c).token_invalidated).toBe(true)
  const again = await fresh.beginLogin({ ...c, forwardUrl: 'https://app.example.com/x' })
  expect(again.alreadyConnected).toBe(false)
})

describe('9. caches are per org, bounded and revalidated', () => {
  test('two orgs whose describes differ get their own field types on Bulk rows', async () => {
    const store = new MapStore()
    const fl = new Forcelink(baseConfig(sim, { store }))
    const a = nextConn()
    const b = nextConn()
    await connect(fl, a.accountId, a.ownerId)
    await sim.setConfig({ connectOrg: 2 })
    await connect(fl, b.accountId, b.ownerId)
    const amounts = async (c) => {
      const out = []
      for await (const batch of fl.exportAll({ ...c, type: 'deals', engine: 'bulk' })) out.push(...batch)
      return out.map((r) => r.Amount).filter((v) => v !== null)
    }
    const first = await amounts(a)
    expect(first.length).toBeGreaterThan(0)
    expect(first.every((v) => typeof v === 'number')).toBe(true)
    const second = await amounts(b)
    expect(second.every((v) => typeof v === 'string')).toBe(true)
  })

  test('maxCachedConnections bounds the cache without breaking connections', async () => {
    const store = new MapStore()
    const fl = new Forcelink(baseConfig(sim, { store, maxCachedConnections: 1 }))
    const cs = [nextConn(), nextConn(), nextConn()]
    for (const c of cs) await connect(fl, c.accountId, c.ownerId)
    for (let i = 0; i < 2; i++) for (const c of cs) await expect(fl.query({ ...c, soql: SOQL })).resolves.toMatchObject({ totalSize: 5 })
  })

  test('a refresh made by another process is picked up after tokenCacheTtlMs', async () => {
    const store = new MapStore()
    const { fl: a, c } = await connected(store, { tokenCacheTtlMs: 200 })
    const b = new Forcelink(baseConfig(sim, { store }))
    const first = (await a.getAccessToken(c)).accessToken
    const refreshed = (await b.getAccessToken({ ...c, forceRefresh: true })).accessToken
    expect(refreshed).not.toBe(first)
    await sleep(300)
    expect((await a.getAccessToken(c)).accessToken).toBe(refreshed)
  })
})
