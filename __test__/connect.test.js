'use strict'
const crypto = require('node:crypto')
const { Forcelink } = require('..')
const { startSim, tmpDb, baseConfig, MapStore, authorize, connect, STATE_SECRET, CLIENT_SECRET } = require('./helpers')

let sim
beforeAll(async () => {
  sim = await startSim()
})
afterAll(() => sim.stop())

const newFl = (extra) => new Forcelink(baseConfig(sim, { storePath: tmpDb('connect'), ...extra }))

function hs256(claims, secret = STATE_SECRET) {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url')
  const body = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims)}`
  return `${body}.${crypto.createHmac('sha256', secret).update(body).digest('base64url')}`
}

describe('beginLogin', () => {
  test('builds the authorize URL with PKCE S256 and a signed state', async () => {
    const fl = newFl()
    const r = await fl.beginLogin({ accountId: 'a1', ownerId: 'u1', forwardUrl: '/done' })
    expect(r.alreadyConnected).toBe(false)
    const u = new URL(r.redirectUrl)
    expect(u.origin).toBe(sim.loginUrl)
    expect(u.pathname).toBe('/services/oauth2/authorize')
    const p = Object.fromEntries(u.searchParams)
    expect(p).toMatchObject({ response_type: 'code', client_id: 'test-client-id', scope: 'api id web refresh_token', code_challenge_method: 'S256' })
    expect(p.redirect_uri).toMatch(/auth\/callback$/)
    expect(p.code_challenge).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(p.state.split('.')).toHaveLength(3)
    const claims = JSON.parse(Buffer.from(p.state.split('.')[1], 'base64url'))
    expect(claims).toMatchObject({ aid: 'a1', uid: 'u1', forward_url: '/done' })
    expect(claims.exp - claims.iat).toBe(3600)
    expect(typeof claims.nonce).toBe('string')
    // The verifier is never in the URL: nothing but the challenge relates to it.
    expect(r.redirectUrl).not.toMatch(/code_verifier/)
  })

  test('forward_url is required and allow-listed', async () => {
    const fl = newFl()
    await expect(fl.beginLogin({ accountId: 'a', ownerId: 'u' })).rejects.toMatchObject({ code: 'FORWARD_URL_REQUIRED', status: 400 })
    for (const bad of ['https://evil.example.org/x', '//evil.example.org', 'javascript:alert(1)', 'https://app.example.com.evil.org/']) {
      await expect(fl.beginLogin({ accountId: 'a', ownerId: 'u', forwardUrl: bad })).rejects.toMatchObject({
        code: 'FORWARD_URL_NOT_ALLOWED',
        status: 400,
      })
    }
    await expect(fl.beginLogin({ accountId: 'a', ownerId: 'u', forwardUrl: 'https://app.example.com/ok?x=1' })).resolves.toMatchObject({
      alreadyConnected: false,
    })
  })

  test('missing account or owner is INVALID_INPUT', async () => {
    const fl = newFl()
    await expect(fl.beginLogin({ accountId: '', ownerId: 'u', forwardUrl: '/' })).rejects.toMatchObject({ code: 'INVALID_INPUT', status: 400 })
  })
})

describe('the connect journey', () => {
  test('connects, reports alreadyConnected, disconnects with revoke', async () => {
    const fl = newFl()
    const done = await connect(fl, 'acc', 'usr', 'https://app.example.com/integrations?tab=crm')
    expect(done.redirectUrl).toBe('https://app.example.com/integrations?tab=crm&status=success&integration=salesforce')
    const again = await fl.beginLogin({ accountId: 'acc', ownerId: 'usr', forwardUrl: '/back' })
    expect(again).toEqual({ alreadyConnected: true, redirectUrl: '/back?status=success&integration=salesforce' })
    const tok = await fl.getAccessToken({ accountId: 'acc', ownerId: 'usr' })
    expect(tok.instanceUrl).toBe(sim.instanceUrl)
    expect(tok.instanceUrl).not.toBe(sim.loginUrl)
    expect(tok.accessToken).toMatch(/^00D\w+!/)
    await sim.resetCounts()
    await expect(fl.disconnect({ accountId: 'acc', ownerId: 'usr' })).resolves.toEqual({ revoked: true })
    expect((await sim.counts()).revoke).toBe(1)
    await expect(fl.disconnect({ accountId: 'acc', ownerId: 'usr' })).rejects.toMatchObject({ code: 'TOKEN_NOT_FOUND', status: 404 })
    await expect(fl.getAccessToken({ accountId: 'acc', ownerId: 'usr' })).rejects.toMatchObject({ code: 'TOKEN_NOT_FOUND' })
  })

  test('stores the host document shape through a custom store', async () => {
    const store = new MapStore()
    const fl = newFl({ store })
    await connect(fl, 42, 'u-42')
    const [doc] = [...store.docs.values()]
    expect(doc).toMatchObject({ account_id: '42', owner: 'u-42', token_invalidated: false })
    expect(Object.keys(doc.token).sort()).toEqual(['access_token', 'id', 'instance_url', 'issued_at', 'refresh_token', 'scope'])
    expect(doc.token.issued_at).toMatch(/^\d{13}$/)
  })

  test('a second use of the same state is INVALID_STATE and Salesforce is not called', async () => {
    const fl = newFl()
    const start = await fl.beginLogin({ accountId: 'r', ownerId: 'r', forwardUrl: '/x' })
    const q = await authorize(start.redirectUrl)
    await fl.handleCallback({ code: q.code, state: q.state, binding: start.binding })
    await sim.resetCounts()
    await expect(fl.handleCallback({ code: q.code, state: q.state, binding: start.binding })).rejects.toMatchObject({ code: 'INVALID_STATE', status: 400 })
    expect((await sim.counts()).token.total).toBe(0)
  })

  test('single use holds across processes sharing the embedded store (consumeNonce)', async () => {
    const storePath = tmpDb('nonce')
    const a = newFl({ storePath })
    const b = newFl({ storePath })
    const start = await a.beginLogin({ accountId: 'n', ownerId: 'n', forwardUrl: '/x' })
    const q = await authorize(start.redirectUrl)
    // The callback may land on another instance: the PKCE verifier is derived, not remembered.
    await expect(b.handleCallback({ code: q.code, state: q.state, binding: start.binding })).resolves.toMatchObject({ redirectUrl: '/x?status=success&integration=salesforce' })
    await expect(a.handleCallback({ code: q.code, state: q.state, binding: start.binding })).rejects.toMatchObject({ code: 'INVALID_STATE' })
  })

  test('tampered, foreign-key, expired and garbage states are rejected without calling Salesforce', async () => {
    const fl = newFl()
    const start = await fl.beginLogin({ accountId: 't', ownerId: 't', forwardUrl: '/x' })
    const q = await authorize(start.redirectUrl)
    await sim.resetCounts()
    const [h, p, s] = q.state.split('.')
    const claims = JSON.parse(Buffer.from(p, 'base64url'))
    const evil = Buffer.from(JSON.stringify({ ...claims, forward_url: 'https://evil.example.org' })).toString('base64url')
    const now = Math.floor(Date.now() / 1000)
    const states = [
      `${h}.${evil}.${s}`,
      hs256({ ...claims, nonce: 'other' }, 'a-completely-different-secret-0123456789'),
      hs256({ ...claims, nonce: 'expired', iat: now - 7200, exp: now - 3600 }),
      'garbage',
      '',
    ]
    for (const state of states) {
      await expect(fl.handleCallback({ code: q.code, state, binding: start.binding })).rejects.toMatchObject({ status: 400 })
    }
    expect((await sim.counts()).token.total).toBe(0)
    // The genuine state still works after all that.
    await expect(fl.handleCallback({ code: q.code, state: q.state, binding: start.binding })).resolves.toMatchObject({
      redirectUrl: '/x?status=success&integration=salesforce',
    })
  })

  test('user denial goes back to forward_url with the reason', async () => {
    const fl = newFl()
    const start = await fl.beginLogin({ accountId: 'd', ownerId: 'd', forwardUrl: 'https://app.example.com/i' })
    const q = await authorize(start.redirectUrl, '&sim_action=deny')
    expect(q.error).toBe('access_denied')
    const r = await fl.handleCallback({ state: q.state, error: q.error, errorDescription: q.error_description, binding: start.binding })
    expect(r.redirectUrl).toBe('https://app.example.com/i?status=error&integration=salesforce&reason=end-user%20denied%20authorization')
  })

  test('a token endpoint error goes back to forward_url with error_description', async () => {
    const fl = newFl()
    const start = await fl.beginLogin({ accountId: 'e', ownerId: 'e', forwardUrl: '/i' })
    const q = await authorize(start.redirectUrl)
    const r = await fl.handleCallback({ code: 'aPrxbogus.code_value==', state: q.state, binding: start.binding })
    expect(r.redirectUrl).toMatch(/^\/i\?status=error&integration=salesforce&reason=/)
    expect(decodeURIComponent(r.redirectUrl.split('reason=')[1])).toMatch(/authorization code/)
  })

  test('no code and no state is AUTH_NOT_INITIATED', async () => {
    const fl = newFl()
    await expect(fl.handleCallback({})).rejects.toMatchObject({ code: 'AUTH_NOT_INITIATED', status: 400 })
  })

  test('an invalidated record is deleted and a new flow starts', async () => {
    const store = new MapStore()
    const fl = newFl({ store })
    await connect(fl, 'inv', 'inv')
    const doc = [...store.docs.values()][0]
    doc.token_invalidated = true
    const r = await fl.beginLogin({ accountId: 'inv', ownerId: 'inv', forwardUrl: '/x' })
    expect(r.alreadyConnected).toBe(false)
    expect(store.docs.size).toBe(0)
    expect(store.calls).toContain('delete')
  })
})

test('no secret, token or code appears in any error message', async () => {
  const store = new MapStore()
  const fl = newFl({ store })
  await connect(fl, 's', 's')
  const doc = [...store.docs.values()][0]
  const secrets = [CLIENT_SECRET, STATE_SECRET, doc.token.access_token, doc.token.refresh_token]
  const errors = []
  const capture = (p) => p.then(() => null, (e) => errors.push(e))
  await capture(fl.handleCallback({ code: 'aPrx.secret_code==', state: 'x' }))
  await capture(fl.query({ accountId: 's', ownerId: 's', soql: 'SELECT Bogus__c FROM Contact' }))
  await sim.revokeRefreshTokens()
  await sim.expireAccessTokens()
  await capture(fl.getAccessToken({ accountId: 's', ownerId: 's', forceRefresh: true }))
  store.failOn = 'find'
  await capture(fl.getAccessToken({ accountId: 'zz', ownerId: 's' }))
  try {
    new Forcelink({ ...baseConfig(sim), clientSecret: CLIENT_SECRET, stateSecret: 'short' })
  } catch (e) {
    errors.push(e)
  }
  expect(errors.length).toBe(5)
  for (const e of errors) {
    const text = `${e.message} ${JSON.stringify(e)} ${e.stack}`
    for (const s of secrets) expect(text).not.toContain(s)
    expect(text).not.toContain('secret_code')
  }
})
