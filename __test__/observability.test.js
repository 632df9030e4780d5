'use strict'
// Observability: every event, the logger (and that no line ever holds a secret), limitInfo per
// org, listeners that throw, STORE_ERROR's cause, and non-JSON options.
const crypto = require('node:crypto')
const express = require('express')
const { Forcelink } = require('..')
const { salesforceRouter } = require('../express')
const { startSimulator, connectForTest, MemoryStore } = require('../testing')

let sim
beforeAll(async () => {
  sim = await startSimulator({ contacts: 60, rotation: true })
})
afterAll(() => sim.close())

function recorder(fl) {
  const seen = []
  for (const n of ['refresh', 'reconnectRequired', 'retry', 'rateLimited', 'apiUsage', 'storeError', 'bulkJob']) fl.on(n, (e) => seen.push([n, e]))
  return seen
}

function memoryLogger() {
  const lines = []
  const log = (level) => (...args) => lines.push([level, JSON.stringify(args)])
  return { lines, logger: { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') } }
}

const tick = () => new Promise((r) => setTimeout(r, 50))

test('events: apiUsage, refresh (rotated), retry, rateLimited, reconnectRequired; the logger never sees a secret', async () => {
  const store = new MemoryStore()
  const { lines, logger } = memoryLogger()
  const stateSecret = 'state-secret-marker-0123456789abcdef-QWERTY'
  const fl = new Forcelink(sim.forcelinkConfig({ store, logger, stateSecret, maxRetries: 1 }))
  const seen = recorder(fl)
  const who = { accountId: 'obs-a', ownerId: 'obs-u' }
  await connectForTest(fl, who)
  const secrets = new Set([sim.clientSecret, stateSecret])
  const collect = async () => {
    for (const r of store.records()) {
      secrets.add(r.token.access_token)
      if (r.token.refresh_token) secrets.add(r.token.refresh_token)
    }
  }
  await collect()

  await fl.query({ ...who, soql: 'SELECT Id FROM Contact LIMIT 1' })
  await tick()
  const usage = seen.find(([n]) => n === 'apiUsage')[1]
  expect(usage).toMatchObject({ connection: who, orgId: expect.stringMatching(/^00D/), used: expect.any(Number), max: expect.any(Number) })
  expect(fl.limitInfo(who)).toEqual({ orgId: usage.orgId, used: expect.any(Number), max: usage.max })

  await sim.control.expireTokens()
  await fl.query({ ...who, soql: 'SELECT Id FROM Contact LIMIT 1' })
  await tick()
  await collect()
  const refresh = seen.find(([n]) => n === 'refresh')[1]
  expect(refresh).toEqual({ connection: who, orgId: usage.orgId, rotated: true, durationMs: expect.any(Number) })

  await sim.control.fail({ status: 503, count: 1 })
  await fl.query({ ...who, soql: 'SELECT Id FROM Contact LIMIT 1' })
  await tick()
  const retry = seen.find(([n]) => n === 'retry')[1]
  expect(retry).toMatchObject({ connection: who, status: 503, attempt: 1, delayMs: expect.any(Number) })

  await sim.control.fail({ errorCode: 'REQUEST_LIMIT_EXCEEDED', count: 1 })
  await expect(fl.query({ ...who, soql: 'SELECT Id FROM Contact' })).rejects.toMatchObject({ code: 'RATE_LIMITED' })
  await tick()
  expect(seen.find(([n]) => n === 'rateLimited')[1]).toMatchObject({ connection: who, orgId: usage.orgId })

  await sim.control.revokeRefreshTokens()
  await sim.control.expireTokens()
  await expect(fl.query({ ...who, soql: 'SELECT Id FROM Contact' })).rejects.toMatchObject({ code: 'RECONNECT_REQUIRED' })
  await tick()
  expect(seen.find(([n]) => n === 'reconnectRequired')[1]).toMatchObject({ connection: who, orgId: usage.orgId })

  // The logger got one structured line per event, at the documented levels.
  const levels = Object.fromEntries(lines.map(([lvl, l]) => [JSON.parse(l)[0].event, lvl]))
  expect(levels).toMatchObject({ apiUsage: 'debug', refresh: 'info', retry: 'warn', rateLimited: 'warn', reconnectRequired: 'warn' })
  expect(JSON.parse(lines.find(([, l]) => l.includes('"refresh"'))[1])[0].msg).toMatch(/refreshed .*rotated/)
  for (const s of secrets) for (const [, l] of lines) expect(l.includes(s)).toBe(false)
})

test('token requests retried on 503 (code exchange, refresh, JWT bearer, client credentials) emit retry and log it', async () => {
  const { publicKey, privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 })
  await sim.control.setConfig({ jwtPublicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }), jwtUsers: ['etl@example.com'] })
  const tokenRetries = (seen) => seen.filter(([n]) => n === 'retry').map(([, e]) => e)
  const retryLines = (lines) => lines.filter(([, l]) => JSON.parse(l)[0].event === 'retry')

  // Code exchange: the callback's token request meets one 503, is retried, and connects.
  const { lines, logger } = memoryLogger()
  const fl = new Forcelink(sim.forcelinkConfig({ logger }))
  const seen = recorder(fl)
  const who = { accountId: 'oauth-retry', ownerId: 'u' }
  await sim.control.fail({ target: 'token', status: 503, count: 1 })
  await connectForTest(fl, who)
  await tick()
  expect(tokenRetries(seen)).toEqual([expect.objectContaining({ connection: who, status: 503, attempt: 1, delayMs: expect.any(Number) })])
  expect(retryLines(lines)).toHaveLength(1)
  expect(retryLines(lines)[0][0]).toBe('warn')

  // Refresh: the org is known by then.
  await fl.query({ ...who, soql: 'SELECT Id FROM Contact LIMIT 1' })
  const { orgId } = fl.limitInfo(who)
  await sim.control.expireTokens()
  await sim.control.fail({ target: 'token', status: 503, count: 1 })
  await fl.query({ ...who, soql: 'SELECT Id FROM Contact LIMIT 1' })
  await tick()
  expect(tokenRetries(seen)).toHaveLength(2)
  expect(tokenRetries(seen)[1]).toMatchObject({ connection: who, orgId, status: 503, attempt: 1 })
  expect(retryLines(lines)).toHaveLength(2)
  await fl.close()

  // The server-to-server grants.
  for (const [name, extra] of [
    ['jwtBearer', { jwtBearer: { username: 'etl@example.com', privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) } }],
    ['clientCredentials', { loginUrl: sim.myDomainUrl, clientCredentials: true }],
  ]) {
    const server = new Forcelink(sim.forcelinkConfig(extra))
    const seenS = recorder(server)
    await sim.control.fail({ target: 'token', status: 503, count: 1 })
    expect((await server.getAccessToken({ connectionId: name })).instanceUrl).toBe(sim.instanceUrl)
    await tick()
    expect(tokenRetries(seenS)).toEqual([expect.objectContaining({ connection: { connectionId: name }, status: 503, attempt: 1 })])
    await server.close()
  }
})

test('bulkJob events follow the job; storeError and STORE_ERROR keep the host error as cause, and Express onError gets it', async () => {
  const fl = new Forcelink(sim.forcelinkConfig())
  const seen = recorder(fl)
  const who = { accountId: 'bulk-a', ownerId: 'bulk-u' }
  await connectForTest(fl, who)
  let n = 0
  for await (const batch of fl.exportAll({ ...who, type: 'contacts', engine: 'bulk' })) n += batch.length
  expect(n).toBe(60)
  await tick()
  const states = seen.filter(([e]) => e === 'bulkJob').map(([, e]) => e.state)
  expect(states[states.length - 1]).toBe('JobComplete')
  const orgId = fl.limitInfo(who).orgId
  expect(orgId).toMatch(/^00D/)
  for (const [e, ev] of seen) if (e === 'bulkJob') expect(ev).toMatchObject({ connection: who, orgId, jobId: expect.any(String) })

  const hostError = new Error('mongo: connection pool closed')
  const broken = { find: async () => { throw hostError }, save: async () => true, delete: async () => true }
  const fb = new Forcelink(sim.forcelinkConfig({ store: broken }))
  const seenB = recorder(fb)
  const err = await fb.query({ accountId: 'x', ownerId: 'y', soql: 'SELECT Id FROM Contact' }).catch((e) => e)
  expect(err).toMatchObject({ code: 'STORE_ERROR', status: 500 })
  expect(err.cause).toBe(hostError)
  expect(err.cause.stack).toBe(hostError.stack)
  await tick()
  expect(seenB.find(([e]) => e === 'storeError')[1]).toMatchObject({ op: 'find', timedOut: false })

  const got = []
  const app = express()
  app.use('/sf', salesforceRouter(fb, { getAuth: () => ({ account_id: 'x', uid: 'y' }), onError: (e) => got.push(e) }))
  const server = app.listen(0, '127.0.0.1')
  await new Promise((r) => server.once('listening', r))
  try {
    const res = await fetch(`http://127.0.0.1:${server.address().port}/sf/export/contacts?page=1&limit=5`)
    expect(res.status).toBe(500)
    expect(got[0]).toMatchObject({ code: 'STORE_ERROR' })
    expect(got[0].cause).toBe(hostError)
  } finally {
    await new Promise((r) => server.close(r))
  }
})

test('a throwing listener or logger never breaks a call', async () => {
  const bad = { debug: () => { throw new Error('x') }, info: () => { throw new Error('x') }, warn: () => { throw new Error('x') }, error: () => { throw new Error('x') } }
  const fl = new Forcelink(sim.forcelinkConfig({ logger: bad }))
  fl.on('apiUsage', () => {
    throw new Error('listener bug')
  })
  const later = []
  fl.on('apiUsage', (e) => later.push(e))
  const who = { accountId: 'throw-a', ownerId: 'throw-u' }
  await connectForTest(fl, who)
  const page = await fl.exportPage({ ...who, type: 'contacts', page: 1, limit: 5 })
  expect(page.data).toHaveLength(5)
  await tick()
  expect(later.length).toBeGreaterThan(0)
})

test('limitInfo answers per org', async () => {
  const fl = new Forcelink(sim.forcelinkConfig())
  const one = { accountId: 'org-a', ownerId: 'u' }
  const two = { accountId: 'org-b', ownerId: 'u' }
  expect(fl.limitInfo(one)).toBeNull()
  await connectForTest(fl, one)
  await sim.control.setConfig({ connectOrg: 2 })
  try {
    await connectForTest(fl, two)
  } finally {
    await sim.control.setConfig({ connectOrg: 1 })
  }
  await fl.query({ ...one, soql: 'SELECT Id FROM Contact LIMIT 1' })
  await fl.query({ ...two, soql: 'SELECT Id FROM Contact LIMIT 1' })
  const a = fl.limitInfo(one)
  const b = fl.limitInfo(two)
  expect(a.orgId).toMatch(/^00D/)
  expect(b.orgId).toMatch(/^00D/)
  expect(a.orgId).not.toBe(b.orgId)
  expect(fl.limitInfo()).toEqual({ used: expect.any(Number), max: expect.any(Number) }) // the last org seen
  expect(() => fl.limitInfo({ accountId: '', ownerId: '' })).toThrow(expect.objectContaining({ code: 'INVALID_INPUT' }))
})

test('options that JSON cannot carry are CONFIG_INVALID; a logger must have the four methods', () => {
  const base = sim.forcelinkConfig()
  const bad = [
    [{ httpTimeoutMs: () => 1000 }, 'httpTimeoutMs'],
    [{ scopes: ['api', Symbol('x')] }, 'scopes[1]'],
    [{ maxRetries: NaN }, 'maxRetries'],
    [{ exportTypes: { contacts: { object: 'Contact', fields: new Set(['Id']) } } }, 'exportTypes.contacts.fields'],
    [{ jwtBearer: new Date() }, 'jwtBearer'],
    [{ logger: console.log }, 'logger'],
    [{ logger: { info() {}, warn() {}, error() {} } }, 'logger'],
  ]
  for (const [extra, field] of bad) {
    let err
    try {
      new Forcelink({ ...base, ...extra })
    } catch (e) {
      err = e
    }
    expect(err).toMatchObject({ code: 'CONFIG_INVALID', field })
  }
  expect(() => new Forcelink({ ...base, logger: console })).not.toThrow()
})
