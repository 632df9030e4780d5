'use strict'
// forcelink/testing: the simulator launcher, its controls, MemoryStore, connectForTest and
// forcelinkError, as a host's tests use them; and the README's testing example kept verbatim.
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync } = require('node:child_process')
const { Forcelink, ForcelinkError } = require('..')
const { startSimulator, connectForTest, MemoryStore, forcelinkError } = require('../testing')

const root = path.join(__dirname, '..')

test("the README's testing example is __test__/readme-testing.test.js, byte for byte", () => {
  const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8')
  const at = readme.indexOf('<!-- testing-example')
  expect(at).toBeGreaterThan(-1)
  const block = /```js\n([\s\S]*?)```/.exec(readme.slice(at))[1]
  expect(block).toBe(fs.readFileSync(path.join(__dirname, 'readme-testing.test.js'), 'utf8'))
})

test('forcelink/testing is not loaded by the main entry points', () => {
  const out = execFileSync(
    process.execPath,
    ['-e', "require('./index.js'); require('./express.js'); console.log(Object.keys(require.cache).some((f) => f.includes(require('path').sep + 'testing' + require('path').sep)))"],
    { cwd: root, encoding: 'utf8' },
  )
  expect(out.trim()).toBe('false')
})

describe('with a simulator', () => {
  let sim
  beforeAll(async () => {
    sim = await startSimulator({ contacts: 30, deals: 12, notes: 4, consent: true, rotation: true })
  })
  afterAll(() => sim.close())

  test('describes itself', () => {
    expect(sim.loginUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(sim.instanceUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(sim.instanceUrl).not.toBe(sim.loginUrl)
    expect(sim.redirectUris).toHaveLength(1)
    expect(typeof sim.clientId).toBe('string')
    expect(sim.clientSecret.length).toBeGreaterThanOrEqual(32)
  })

  test('connectForTest answers the consent page and stores the connection', async () => {
    const store = new MemoryStore()
    const fl = new Forcelink(sim.forcelinkConfig({ store }))
    const before = await sim.control.counts()
    const res = await connectForTest(fl, { accountId: 'a1', ownerId: 'u1' })
    expect(res.redirectUrl).toBeDefined()
    expect(store.size).toBe(1)
    expect(store.records()[0]).toMatchObject({ account_id: 'a1', owner: 'u1' })
    expect((await sim.control.counts()).token.authorization_code).toBe(before.token.authorization_code + 1)
    // Connected already: the flow short-circuits.
    expect((await connectForTest(fl, { accountId: 'a1', ownerId: 'u1' })).alreadyConnected).toBe(true)
  })

  test('control: expireTokens, revokeRefreshTokens, fail, counts, records', async () => {
    const fl = new Forcelink(sim.forcelinkConfig({ maxRetries: 0 }))
    const who = { accountId: 'a2', ownerId: 'u2' }
    await connectForTest(fl, who)

    const recs = await sim.control.records('deals')
    expect(recs).toHaveLength(12)
    expect(recs[0].Id).toMatch(/^006/)
    expect(recs[0].attributes).toBeUndefined()
    expect(await sim.control.records('Contact')).toHaveLength(30)

    await sim.control.resetCounts()
    await sim.control.expireTokens()
    await fl.exportPage({ ...who, type: 'contacts', page: 1, limit: 5 })
    expect((await sim.control.counts()).token.refresh_token).toBe(1)

    await sim.control.fail({ errorCode: 'REQUEST_LIMIT_EXCEEDED', count: 1 })
    await expect(fl.query({ ...who, soql: 'SELECT Id FROM Contact' })).rejects.toMatchObject({ code: 'RATE_LIMITED', status: 429 })
    await sim.control.fail({ status: 503, count: 1 })
    await expect(fl.query({ ...who, soql: 'SELECT Id FROM Contact' })).rejects.toMatchObject({ code: 'SALESFORCE_UNAVAILABLE', status: 503 })
    await sim.control.fail({ status: 503, count: 5 })
    await sim.control.clearFailures()
    expect((await fl.query({ ...who, soql: 'SELECT Id FROM Contact' })).totalSize).toBe(30)
    expect(() => sim.control.fail({ status: 418 })).toThrow(TypeError)

    await sim.control.setLatency(150)
    const t0 = Date.now()
    await fl.query({ ...who, soql: 'SELECT Id FROM Contact LIMIT 1' })
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140)
    await sim.control.setLatency(0)

    await sim.control.revokeRefreshTokens()
    await sim.control.expireTokens()
    await expect(fl.query({ ...who, soql: 'SELECT Id FROM Contact' })).rejects.toMatchObject({ code: 'RECONNECT_REQUIRED' })
  })

  test("storePath ':memory:' gives each Forcelink its own store and writes no file", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'forcelink-mem-'))
    const cwd = process.cwd()
    process.chdir(dir)
    try {
      const a = new Forcelink(sim.forcelinkConfig())
      const b = new Forcelink(sim.forcelinkConfig())
      await connectForTest(a, { accountId: 'm', ownerId: 'm' })
      expect((await a.getAccessToken({ accountId: 'm', ownerId: 'm' })).accessToken).toBeTruthy()
      await expect(b.getAccessToken({ accountId: 'm', ownerId: 'm' })).rejects.toMatchObject({ code: 'TOKEN_NOT_FOUND' })
      expect(fs.readdirSync(dir)).toEqual([])
    } finally {
      process.chdir(cwd)
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})

test('two simulators run side by side (parallel Jest workers)', async () => {
  const [s1, s2] = await Promise.all([startSimulator({ contacts: 3 }), startSimulator({ contacts: 7 })])
  try {
    expect(s1.loginUrl).not.toBe(s2.loginUrl)
    expect(await s1.control.records('contacts')).toHaveLength(3)
    expect(await s2.control.records('contacts')).toHaveLength(7)
  } finally {
    await Promise.all([s1.close(), s2.close()])
  }
  await s1.close() // idempotent
})

test('explicit records seed the org exactly, and export through forcelink as given', async () => {
  const sim = await startSimulator({ contacts: [{ LastName: 'Lovelace', Email: 'ada@example.org' }, { LastName: 'Hopper' }], deals: 0 })
  const fl = new Forcelink(sim.forcelinkConfig())
  try {
    const names = (await sim.control.records('contacts')).map((r) => r.LastName).sort()
    expect(names).toEqual(['Hopper', 'Lovelace'])
    expect(await sim.control.records('deals')).toHaveLength(0)
    await connectForTest(fl, { accountId: 'x', ownerId: 'y' })
    const { data } = await fl.exportPage({ accountId: 'x', ownerId: 'y', type: 'contacts', page: 1, limit: 10 })
    expect(data).toHaveLength(2)
    expect(data.map((r) => r.Email)).toContain('ada@example.org')
    await expect(startSimulator({ contacts: ['not a record'] })).rejects.toThrow(/must be an object/)
  } finally {
    await fl.close()
    await sim.close()
  }
})

describe('MemoryStore (TokenStore contract v2)', () => {
  const rec = (v) => ({ account_id: 'a', owner: 'o', token: { access_token: 'x' }, version: v })

  test('versioned saves are fenced; a missing record is a mismatch', async () => {
    const s = new MemoryStore()
    expect(await s.save(rec(1), { expectedVersion: 0 })).toBe(false)
    expect(await s.save(rec(1))).toBe(true)
    expect(await s.save(rec(2), { expectedVersion: 0 })).toBe(false)
    expect(await s.save(rec(2), { expectedVersion: 1 })).toBe(true)
    expect((await s.find('a', 'o')).version).toBe(2)
    const found = await s.find('a', 'o')
    found.token.access_token = 'mutated'
    expect((await s.find('a', 'o')).token.access_token).toBe('x')
    expect(await s.delete('a', 'o')).toBe(true)
    expect(await s.delete('a', 'o')).toBe(false)
    expect(await s.find('a', 'o')).toBeNull()
    await s.save({ account_id: 'a', owner: 'o', token: {} })
    expect(await s.save(rec(1), { expectedVersion: 0 })).toBe(true) // a missing version counts as 0
  })

  test('leases: exclusive, renewable, released only by their holder, expire', async () => {
    const s = new MemoryStore()
    const t1 = await s.acquireLease('a', 'o', 60_000)
    expect(typeof t1).toBe('string')
    expect(await s.acquireLease('a', 'o', 60_000)).toBeNull()
    expect(await s.acquireLease('a', 'other', 60_000)).not.toBeNull()
    expect(await s.renewLease('a', 'o', t1, 60_000)).toBe(true)
    expect(await s.renewLease('a', 'o', 'not-mine', 60_000)).toBe(false)
    await s.releaseLease('a', 'o', 'not-mine')
    expect(await s.acquireLease('a', 'o', 60_000)).toBeNull()
    await s.releaseLease('a', 'o', t1)
    const t2 = await s.acquireLease('a', 'o', 20)
    expect(t2).not.toBe(t1)
    await new Promise((r) => setTimeout(r, 40))
    expect(await s.renewLease('a', 'o', t2, 60_000)).toBe(false)
    const t3 = await s.acquireLease('a', 'o', 60_000)
    expect(t3).not.toBeNull()
    await s.releaseLease('a', 'o', t2) // an expired holder never drops the next one's lease
    expect(await s.acquireLease('a', 'o', 60_000)).toBeNull()
  })

  test('nonces are single use', async () => {
    const s = new MemoryStore()
    expect(await s.consumeNonce('n1', Date.now() + 60_000)).toBe(true)
    expect(await s.consumeNonce('n1', Date.now() + 60_000)).toBe(false)
    expect(await s.consumeNonce('n2', Date.now() + 60_000)).toBe(true)
  })
})

test('forcelinkError builds a correctly shaped ForcelinkError', () => {
  const e = forcelinkError('RECONNECT_REQUIRED')
  expect(e).toBeInstanceOf(ForcelinkError)
  expect(e).toBeInstanceOf(Error)
  expect(e).toMatchObject({ name: 'ForcelinkError', code: 'RECONNECT_REQUIRED', status: 401 })
  expect(typeof e.message).toBe('string')
  const cause = new Error('db down')
  const s = forcelinkError('STORE_ERROR', { message: 'Token store unavailable', cause })
  expect(s).toMatchObject({ code: 'STORE_ERROR', status: 500, message: 'Token store unavailable' })
  expect(s.cause).toBe(cause)
  expect(forcelinkError('SALESFORCE_ERROR', { status: 400, salesforceCode: 'INVALID_FIELD', fields: ['Foo'] })).toMatchObject({
    status: 400,
    salesforceCode: 'INVALID_FIELD',
    fields: ['Foo'],
  })
  expect(forcelinkError('RATE_LIMITED').status).toBe(429)
  expect(forcelinkError('SALESFORCE_UNAVAILABLE').status).toBe(503)
  expect(() => forcelinkError('NOPE')).toThrow(TypeError)
})
