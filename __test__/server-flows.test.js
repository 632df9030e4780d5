'use strict'
const crypto = require('node:crypto')
const { Forcelink } = require('..')
const { startSim, baseConfig, MapStore } = require('./helpers')

const USER = 'integration@example.com'
const { publicKey, privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 })
const PUBLIC_PEM = publicKey.export({ type: 'spki', format: 'pem' })
const PRIVATE_PEM = privateKey.export({ type: 'pkcs8', format: 'pem' })

let sim
beforeAll(async () => {
  sim = await startSim(['--contacts', '3000'])
  await sim.setConfig({ jwtPublicKeyPem: PUBLIC_PEM, jwtUsers: [USER] })
})
afterAll(() => sim.stop())
afterEach(() => sim.clearFaults())

const jwtConfig = (extra = {}) => baseConfig(sim, { jwtBearer: { username: USER, privateKeyPem: PRIVATE_PEM }, ...extra })

describe('JWT bearer', () => {
  test('mints a token on first use, stores it, and exports through it', async () => {
    const store = new MapStore()
    const fl = new Forcelink(jwtConfig({ store }))
    await sim.resetCounts()
    const t = await fl.getAccessToken({ connectionId: 'etl' })
    expect(t.instanceUrl).toBe(sim.instanceUrl)
    const [doc] = [...store.docs.values()]
    expect(doc).toMatchObject({ account_id: 'etl', owner: 'forcelink:server', token: { grant: 'jwt_bearer' } })
    expect(doc.token.refresh_token).toBeUndefined()
    const page = await fl.exportPage({ connectionId: 'etl', type: 'contacts', page: 3, limit: 1000 })
    expect(page.data).toHaveLength(1000)
    let n = 0
    for await (const b of fl.exportAll({ connectionId: 'etl', type: 'contacts' })) n += b.length
    expect(n).toBe(3000)
    expect((await sim.counts()).token.jwt_bearer).toBe(1)
  })

  test('on expiry a new assertion is signed, once for 20 concurrent callers', async () => {
    const fl = new Forcelink(jwtConfig({ store: new MapStore() }))
    await fl.getAccessToken({ connectionId: 'etl' })
    await sim.expireAccessTokens()
    await sim.resetCounts()
    const rs = await Promise.all(Array.from({ length: 20 }, () => fl.query({ connectionId: 'etl', soql: 'SELECT Id FROM Contact LIMIT 1' })))
    expect(rs.every((r) => r.records.length === 1)).toBe(true)
    expect((await sim.counts()).token.jwt_bearer).toBe(1)
  })

  test("Salesforce's refusals come back as OAUTH_ERROR with its description", async () => {
    const stranger = new Forcelink(baseConfig(sim, { store: new MapStore(), jwtBearer: { username: 'nobody@example.com', privateKeyPem: PRIVATE_PEM } }))
    await expect(stranger.getAccessToken({ connectionId: 'x' })).rejects.toMatchObject({
      code: 'OAUTH_ERROR',
      salesforceCode: 'invalid_grant',
      message: expect.stringContaining("user hasn't approved this consumer"),
    })
    const otherKey = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' })
    const forger = new Forcelink(baseConfig(sim, { store: new MapStore(), jwtBearer: { username: USER, privateKeyPem: otherKey } }))
    await expect(forger.getAccessToken({ connectionId: 'x' })).rejects.toMatchObject({ message: expect.stringContaining('invalid assertion') })
    const wrongAud = new Forcelink(baseConfig(sim, { store: new MapStore(), jwtBearer: { username: USER, privateKeyPem: PRIVATE_PEM, audience: 'https://elsewhere.example.com' } }))
    await expect(wrongAud.getAccessToken({ connectionId: 'x' })).rejects.toMatchObject({ message: expect.stringContaining('audience is invalid') })
  })

  test('configuration is checked up front', () => {
    expect(() => new Forcelink(baseConfig(sim, { jwtBearer: { username: USER, privateKeyPem: 'not a key' } }))).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID', field: 'jwtBearer.privateKeyPem' }),
    )
    expect(() => new Forcelink(baseConfig(sim, { jwtBearer: { username: USER, privateKeyPem: PRIVATE_PEM }, clientCredentials: true }))).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID' }),
    )
    const fl = new Forcelink(baseConfig(sim, { store: new MapStore() }))
    return expect(fl.getAccessToken({ connectionId: 'x' })).rejects.toMatchObject({ code: 'CONFIG_INVALID' })
  })
})

describe('client credentials', () => {
  test('works against the My Domain host', async () => {
    const store = new MapStore()
    const fl = new Forcelink(baseConfig(sim, { loginUrl: sim.myDomainUrl, clientCredentials: true, store }))
    const t = await fl.getAccessToken({ connectionId: 'svc' })
    expect(t.instanceUrl).toBe(sim.instanceUrl)
    expect([...store.docs.values()][0].token.grant).toBe('client_credentials')
    const r = await fl.exportPage({ connectionId: 'svc', type: 'contacts', page: 1, limit: 5 })
    expect(r.data).toHaveLength(5)
  })

  test('the generic login host is refused with an explanation', async () => {
    expect(() => new Forcelink(baseConfig(sim, { loginUrl: 'https://login.salesforce.com', clientCredentials: true }))).toThrow(
      expect.objectContaining({ code: 'CONFIG_INVALID', field: 'loginUrl', message: expect.stringContaining('My Domain') }),
    )
    const fl = new Forcelink(baseConfig(sim, { clientCredentials: true, store: new MapStore() }))
    await expect(fl.getAccessToken({ connectionId: 'svc' })).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
      message: expect.stringContaining('My Domain'),
    })
  })
})
