'use strict'
// forcelink/stores/postgres against a PostgreSQL server started here (Debian's `postgresql`
// package, temp directory, 127.0.0.1): the v2 contract, then the whole lifecycle through it.
const { Forcelink } = require('..')
const { PostgresStore } = require('../stores/postgres')
const { startPostgres } = require('./support/pg-cluster')
const { startSim, baseConfig, connect } = require('./helpers')

let pg, sim
const stores = []
const open = (opts = {}) => {
  const s = new PostgresStore({ connectionString: pg.connectionString, max: 3, ...opts })
  stores.push(s)
  return s
}
beforeAll(async () => {
  ;[pg, sim] = await Promise.all([startPostgres(), startSim()])
})
afterAll(async () => {
  for (const s of stores) await s.close()
  pg.stop()
  await sim.stop()
})

const rec = (version, at = 'x') => ({ account_id: 'a', owner: 'o', token: { access_token: at }, version })

test('contract v2: tables on first use, fenced saves, lease tokens, nonces', async () => {
  const s = open({ tablePrefix: 'contract' })
  expect(await s.find('a', 'o')).toBeNull()
  expect(await s.save(rec(5))).toBe(true)
  expect(await s.save(rec(6, 'y'), { expectedVersion: 4 })).toBe(false)
  expect(await s.save(rec(6, 'y'), { expectedVersion: 5 })).toBe(true)
  expect(await s.find('a', 'o')).toMatchObject({ version: 6, token: { access_token: 'y' } })
  expect(await s.save({ ...rec(1), account_id: 'none' }, { expectedVersion: 0 })).toBe(false)
  // Leases: work without a record, exclude others, release only the holder's.
  const l = await s.acquireLease('no', 'record', 60_000)
  expect(typeof l).toBe('string')
  expect(await open({ tablePrefix: 'contract' }).acquireLease('no', 'record', 60_000)).toBeNull()
  await s.releaseLease('no', 'record', 'someone-else')
  expect(await s.acquireLease('no', 'record', 60_000)).toBeNull()
  expect(await s.renewLease('no', 'record', l, 60_000)).toBe(true)
  await s.releaseLease('no', 'record', l)
  const l2 = await s.acquireLease('no', 'record', 50)
  await new Promise((r) => setTimeout(r, 80))
  expect(await s.renewLease('no', 'record', l2, 1000)).toBe(false)
  expect(typeof (await s.acquireLease('no', 'record', 1000))).toBe('string')
  expect(await s.consumeNonce('n1', Date.now() + 60_000)).toBe(true)
  expect(await s.consumeNonce('n1', Date.now() + 60_000)).toBe(false)
  expect(await s.delete('a', 'o')).toBe(true)
  expect(await s.delete('a', 'o')).toBe(false)
})

test('concurrent first use from several stores creates the tables once', async () => {
  const many = Array.from({ length: 4 }, () => open({ tablePrefix: 'race' }))
  await Promise.all(many.map((s, i) => s.save({ ...rec(1), account_id: `a${i}` })))
  expect(await many[0].find('a3', 'o')).toMatchObject({ version: 1 })
})

test('connect, refresh with rotation, disconnect through the PostgreSQL store', async () => {
  await sim.setConfig({ rotation: true })
  const c = { accountId: 'pg-acc', ownerId: 'pg-user' }
  const store = open()
  const fl = new Forcelink(baseConfig(sim, { store }))
  await connect(fl, c.accountId, c.ownerId)
  const v0 = (await store.find(c.accountId, c.ownerId)).version
  await sim.expireAccessTokens()
  await sim.resetCounts()
  const results = await Promise.all(Array.from({ length: 20 }, () => fl.query({ ...c, soql: 'SELECT Id FROM Contact LIMIT 2' })))
  expect(results.every((r) => r.records.length === 2)).toBe(true)
  expect((await sim.counts()).token.refresh_token).toBe(1)
  expect((await store.find(c.accountId, c.ownerId)).version).toBeGreaterThan(v0)
  await fl.disconnect(c)
  expect(await store.find(c.accountId, c.ownerId)).toBeNull()
  await sim.setConfig({ rotation: false })
})

test('listConnections: one indexed statement per page, live idle records in key order', async () => {
  const s = open({ tablePrefix: 'keepalive' })
  const live = (a, at) => ({ account_id: a, owner: 'o', token: { access_token: 'x', refresh_token: 'r' }, refreshed_at: at, version: 1 })
  for (const a of ['c', 'a', 'e', 'b', 'd']) await s.save(live(a, 100))
  await s.save({ account_id: 'old', owner: 'o', token: { access_token: 'x', refresh_token: 'r' } }) // incumbent: no refreshed_at
  await s.save(live('fresh', 10_000))
  await s.save({ account_id: 'none', owner: 'o', token: { access_token: 'x' }, refreshed_at: 1 })
  await s.save({ ...live('dead', 1), token_invalidated: true })
  const seen = []
  let after
  for (;;) {
    const page = await s.listConnections({ refreshedBefore: 1000, after, limit: 2 })
    expect(page.connections.length).toBeLessThanOrEqual(2)
    seen.push(...page.connections.map((c) => c.accountId))
    if (page.next === null) break
    after = page.next
  }
  expect(seen).toEqual(['a', 'b', 'c', 'd', 'e', 'old'])
  // The listing's partial index exists beside the table (EXPLAIN on 100,000 rows: BENCHMARKS.md).
  const idx = await s.pool.query(`SELECT indexdef FROM pg_indexes WHERE indexname = 'keepalive_tokens_keepalive'`)
  expect(idx.rows[0].indexdef).toContain('WHERE')
})

test('keepAlive through the PostgreSQL store', async () => {
  const store = open({ tablePrefix: 'keepalive_flow' })
  const fl = new Forcelink(baseConfig(sim, { store }))
  try {
    await connect(fl, 'ka1', 'u')
    await connect(fl, 'ka2', 'u')
    expect(await fl.keepAlive()).toEqual({ refreshed: 0, skipped: 0, failed: [] })
    expect(await fl.keepAlive({ olderThanMs: 0 })).toEqual({ refreshed: 2, skipped: 0, failed: [] })
    expect((await store.find('ka1', 'u')).refreshed_at).toBeGreaterThan(Date.now() - 60_000)
  } finally {
    await fl.close()
  }
})
