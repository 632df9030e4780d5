'use strict'
const path = require('node:path')
const { spawn } = require('node:child_process')
const { Forcelink } = require('..')
const { startSim, tmpDb, baseConfig, MapStore, connect } = require('./helpers')

let sim
beforeAll(async () => {
  sim = await startSim()
})
afterAll(() => sim.stop())
afterEach(() => sim.setConfig({ rotation: false }))

const conn = { accountId: 'acc', ownerId: 'usr' }
const SOQL = 'SELECT Id, Name FROM Contact ORDER BY Id LIMIT 5'

async function connected(extra = {}) {
  const store = extra.store === undefined ? new MapStore() : extra.store
  const fl = new Forcelink(baseConfig(sim, { storePath: tmpDb('refresh'), ...extra, store: store || undefined }))
  await connect(fl, conn.accountId, conn.ownerId)
  return { fl, store }
}

test('an expired access token is refreshed once and the query retried', async () => {
  const { fl, store } = await connected()
  const before = [...store.docs.values()][0].token
  await sim.expireAccessTokens()
  await sim.resetCounts()
  const r = await fl.query({ ...conn, soql: SOQL })
  expect(r.records).toHaveLength(5)
  const c = await sim.counts()
  expect(c.token.refresh_token).toBe(1)
  const after = [...store.docs.values()][0].token
  expect(after.access_token).not.toBe(before.access_token)
  expect(after.refresh_token).toBe(before.refresh_token) // no rotation: kept
  expect(Number(after.issued_at)).toBeGreaterThanOrEqual(Number(before.issued_at))
})

test('with rotation the new refresh token is stored', async () => {
  await sim.setConfig({ rotation: true })
  const { fl, store } = await connected()
  const before = [...store.docs.values()][0].token.refresh_token
  await fl.getAccessToken({ ...conn, forceRefresh: true })
  const after = [...store.docs.values()][0].token.refresh_token
  expect(after).toBeTruthy()
  expect(after).not.toBe(before)
  // The rotated token keeps working for the next refresh.
  await fl.getAccessToken({ ...conn, forceRefresh: true })
  expect([...store.docs.values()][0].token_invalidated).toBe(false)
})

test('invalid_grant marks the record invalidated and answers RECONNECT_REQUIRED', async () => {
  const { fl, store } = await connected()
  await sim.revokeRefreshTokens()
  await expect(fl.getAccessToken({ ...conn, forceRefresh: true })).rejects.toMatchObject({
    code: 'RECONNECT_REQUIRED',
    status: 401,
  })
  expect([...store.docs.values()][0].token_invalidated).toBe(true)
  await expect(fl.query({ ...conn, soql: SOQL })).rejects.toMatchObject({ code: 'RECONNECT_REQUIRED' })
  const again = await fl.beginLogin({ ...conn, forwardUrl: '/x' })
  expect(again.alreadyConnected).toBe(false)
})

test('50 concurrent callers on an expired token make exactly 1 token request', async () => {
  for (const rotation of [false, true]) {
    await sim.setConfig({ rotation })
    const { fl } = await connected()
    await sim.expireAccessTokens()
    await sim.resetCounts()
    const results = await Promise.all(Array.from({ length: 50 }, () => fl.query({ ...conn, soql: SOQL })))
    expect(results.every((r) => r.records.length === 5)).toBe(true)
    expect((await sim.counts()).token.refresh_token).toBe(1)
  }
})

test('a record written by the incumbent (no instance_url) gets one from a refresh', async () => {
  const { store } = await connected()
  const doc = [...store.docs.values()][0]
  delete doc.token.instance_url
  const fresh = new Forcelink(baseConfig(sim, { store }))
  await sim.resetCounts()
  const t = await fresh.getAccessToken(conn)
  expect(t.instanceUrl).toBe(sim.instanceUrl)
  expect((await sim.counts()).token.refresh_token).toBe(1)
  expect([...store.docs.values()][0].token.instance_url).toBe(sim.instanceUrl)
})

describe('store failures', () => {
  test.each(['find', 'save'])('a store whose %s throws gives STORE_ERROR with its message', async (op) => {
    const store = new MapStore()
    const fl = new Forcelink(baseConfig(sim, { store }))
    if (op === 'save') {
      store.failOn = 'save'
      const start = await fl.beginLogin({ ...conn, forwardUrl: '/x' })
      const { authorize } = require('./helpers')
      const q = await authorize(start.redirectUrl)
      await expect(fl.handleCallback({ code: q.code, state: q.state, binding: start.binding })).rejects.toMatchObject({
        code: 'STORE_ERROR',
        status: 500,
        message: expect.stringContaining('db down during save'),
      })
      expect(store.docs.size).toBe(0)
    } else {
      store.failOn = 'find'
      await expect(fl.beginLogin({ ...conn, forwardUrl: '/x' })).rejects.toMatchObject({
        code: 'STORE_ERROR',
        message: expect.stringContaining('db down during find'),
      })
    }
  })

  test('sync throws, rejections with non-errors and junk values are all STORE_ERROR', async () => {
    const variants = [
      { find() { throw new Error('sync boom') } },
      { find: () => Promise.reject('just a string') },
      { find: () => 42 },
      { find: () => ({ account_id: 'a' }) },
    ]
    for (const v of variants) {
      const store = { save() {}, delete() { return true }, ...v }
      const fl = new Forcelink(baseConfig(sim, { store }))
      await expect(fl.getAccessToken(conn)).rejects.toMatchObject({ code: 'STORE_ERROR' })
    }
  })

  test('sync stores returning plain values work, and this is bound', async () => {
    class SyncStore {
      constructor() { this.m = new Map() }
      find(a, o) { return this.m.get(`${a}/${o}`) || null }
      save(r) { this.m.set(`${r.account_id}/${r.owner}`, r); return true }
      delete(a, o) { return this.m.delete(`${a}/${o}`) }
    }
    const fl = new Forcelink(baseConfig(sim, { store: new SyncStore() }))
    await connect(fl, conn.accountId, conn.ownerId)
    await expect(fl.getAccessToken(conn)).resolves.toMatchObject({ instanceUrl: sim.instanceUrl })
  })

  test('a store missing a required method is CONFIG_INVALID', () => {
    expect(() => new Forcelink(baseConfig(sim, { store: { find() {}, save() {} } }))).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID', field: 'store' }),
    )
  })
})

test('two Node processes sharing the SQLite store make 1 token request', async () => {
  const storePath = tmpDb('shared')
  const cfg = baseConfig(sim, { storePath })
  const setup = new Forcelink(cfg)
  await connect(setup, conn.accountId, conn.ownerId)
  await sim.expireAccessTokens()
  await sim.resetCounts()
  const worker = path.join(__dirname, 'fixtures', 'query-worker.js')
  const run = () =>
    new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [worker, JSON.stringify({ cfg, conn, soql: SOQL, n: 20 })], { stdio: ['ignore', 'pipe', 'inherit'] })
      let out = ''
      child.stdout.on('data', (d) => (out += d))
      child.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`worker exit ${code}: ${out}`))))
    })
  const [a, b] = await Promise.all([run(), run()])
  expect(a.ok + b.ok).toBe(40)
  expect((await sim.counts()).token.refresh_token).toBe(1)
})
