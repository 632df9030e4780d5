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
