'use strict'
// Conformance: salesforce-pubsub-api-client (npm), a Pub/Sub API client nobody here wrote, against the
// simulator's Pub/Sub listener over TLS under its throwaway CA: a token from the simulator's OAuth
// flow, a subscription to /data/ContactChangeEvent, and the decoded change events of a create, an
// update and a delete made through REST.
const crypto = require('node:crypto')
const PubSubApiClient = require('salesforce-pubsub-api-client').default
const { startSimulator } = require('../testing')
const { simRest } = require('./helpers')

const quiet = { debug() {}, info() {}, warn() {}, error() {} }
const b64url = (b) => b.toString('base64url')

async function oauthToken(sim) {
  const verifier = b64url(crypto.randomBytes(48))
  const challenge = b64url(crypto.createHash('sha256').update(verifier).digest())
  const authorize = new URL('/services/oauth2/authorize', sim.loginUrl)
  authorize.search = new URLSearchParams({
    response_type: 'code',
    client_id: sim.clientId,
    redirect_uri: sim.redirectUris[0],
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state: 's',
  }).toString()
  const res = await fetch(authorize, { redirect: 'manual' })
  const code = new URL(res.headers.get('location')).searchParams.get('code')
  const tok = await fetch(new URL('/services/oauth2/token', sim.loginUrl), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      client_id: sim.clientId,
      client_secret: sim.clientSecret,
      redirect_uri: sim.redirectUris[0],
      code_verifier: verifier,
    }),
  }).then((r) => r.json())
  const orgId = new URL(tok.id).pathname.split('/')[2]
  return { accessToken: tok.access_token, instanceUrl: tok.instance_url, orgId }
}

const rest = (sim, token, method, path, body) => simRest(sim.instanceUrl, token, method, path, body)

let sim
beforeAll(async () => {
  sim = await startSimulator({ contacts: 20, pubsubTls: true })
})
afterAll(() => sim.close())

test('startSimulator resolves pubsubUrl beside instanceUrl, plaintext by default', async () => {
  const plain = await startSimulator({ contacts: 1 })
  try {
    expect(plain.pubsubUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(plain.pubsubCaPath).toBeUndefined()
  } finally {
    await plain.close()
  }
  expect(sim.pubsubUrl).toMatch(/^https:\/\/localhost:\d+$/)
  expect(require('node:fs').readFileSync(sim.pubsubCaPath, 'utf8')).toMatch(/BEGIN CERTIFICATE/)
})

test('salesforce-pubsub-api-client receives and decodes CDC events of REST writes', async () => {
  const { accessToken, instanceUrl, orgId } = await oauthToken(sim)
  const client = new PubSubApiClient(
    {
      authType: 'user-supplied',
      accessToken,
      // The client accepts only https:// instance URLs; the simulator compares hosts.
      instanceUrl: instanceUrl.replace(/^http:/, 'https:'),
      organizationId: orgId,
      pubSubEndpoint: new URL(sim.pubsubUrl).host,
      // The client trusts only its bundled roots; the simulator's CA is a throwaway one.
      rejectUnauthorizedSsl: false,
    },
    quiet,
  )
  await client.connect()
  const events = []
  const errors = []
  let subscribed
  const ready = new Promise((resolve) => (subscribed = resolve))
  client.subscribe(
    '/data/ContactChangeEvent',
    (info, type, data) => {
      if (type === 'event') events.push(data)
      else if (type === 'error') errors.push(data)
      else if (type === 'lastEvent' || type === 'end') errors.push(new Error(type))
      subscribed()
    },
    10,
  )
  // Keepalives arrive on an idle stream; shorten the window so the subscription shows up fast.
  await fetch(`${sim.loginUrl}/__sim/pubsub`, { method: 'POST', body: JSON.stringify({ keepaliveMs: 100 }) })
  await ready
  try {
    const { id } = await rest(sim, accessToken, 'POST', '/sobjects/Contact/', { LastName: 'Pubsub', Email: 'ps@example.org' })
    await rest(sim, accessToken, 'PATCH', `/sobjects/Contact/${id}`, { Title: 'Engineer' })
    await rest(sim, accessToken, 'DELETE', `/sobjects/Contact/${id}`)
    const deadline = Date.now() + 10000
    while (events.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
    expect(errors).toEqual([])
    expect(events).toHaveLength(3)
    const [c, u, d] = events.map((e) => e.payload)
    for (const e of [c, u, d]) {
      expect(e.ChangeEventHeader.entityName).toBe('Contact')
      expect(e.ChangeEventHeader.recordIds).toEqual([id])
      expect(e.ChangeEventHeader.commitUser).toMatch(/^005/)
    }
    expect([c, u, d].map((e) => e.ChangeEventHeader.changeType)).toEqual(['CREATE', 'UPDATE', 'DELETE'])
    expect(c.LastName).toBe('Pubsub')
    expect(c.Email).toBe('ps@example.org')
    expect(u.Title).toBe('Engineer')
    expect(u.ChangeEventHeader.changedFields).toEqual(expect.arrayContaining(['Title', 'LastModifiedDate']))
    expect(u.LastName).toBeNull()
    expect(events[0].replayId).toBeLessThan(events[2].replayId)
  } finally {
    // End the stream from the server side first (the client's own close leaves an unhandled
    // 'error' on the open call): a reset ends every stream with UNAVAILABLE.
    const before = errors.length
    await fetch(`${sim.loginUrl}/__sim/pubsub/reset`, { method: 'POST' })
    const deadline = Date.now() + 5000
    while (errors.length === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
    client.close()
  }
})

const control = (path, body) =>
  fetch(`${sim.loginUrl}/__sim/${path}`, { method: 'POST', body: JSON.stringify(body || {}) }).then((r) => r.json())

async function client(sim) {
  const { accessToken, instanceUrl, orgId } = await oauthToken(sim)
  const c = new PubSubApiClient(
    {
      authType: 'user-supplied',
      accessToken,
      instanceUrl: instanceUrl.replace(/^http:/, 'https:'),
      organizationId: orgId,
      pubSubEndpoint: new URL(sim.pubsubUrl).host,
      rejectUnauthorizedSsl: false,
    },
    quiet,
  )
  await c.connect()
  return { c, accessToken }
}

/** A subscription collecting what it receives; `until(pred)` polls (bounded) for a condition. */
function collect(c, subscribe) {
  const got = { events: [], errors: [], keepalives: 0 }
  subscribe((info, type, data) => {
    if (type === 'event') got.events.push(data)
    else if (type === 'error') got.errors.push(data)
    else if (type === 'grpcKeepAlive') got.keepalives++
  })
  got.until = async (pred, ms = 5000) => {
    const deadline = Date.now() + ms
    while (!pred() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
    return pred()
  }
  got.close = async () => {
    const n = got.errors.length
    await control('pubsub/reset')
    await got.until(() => got.errors.length > n, 3000)
    c.close()
  }
  return got
}

test('Publish to a change event channel is refused after GetTopic and GetSchema answer', async () => {
  const { c } = await client(sim)
  try {
    await expect(c.publish('/data/ContactChangeEvent', { ChangeEventHeader: null })).rejects.toThrow()
  } finally {
    c.close()
  }
})

test('gap, overflow and multi-record events reach a subscriber', async () => {
  const { c, accessToken } = await client(sim)
  const got = collect(c, (cb) => c.subscribe('/data/ContactChangeEvent', cb, 50))
  await control('pubsub', { keepaliveMs: 50 })
  expect(await got.until(() => got.keepalives > 0)).toBe(true)
  // REST creates: each is exactly one change (a random mutation may change nothing).
  const create = (n) => rest(sim, accessToken, 'POST', '/sobjects/Contact/', { LastName: `Gap${n}` })
  try {
    await control('pubsub/gap', { object: 'Contact', count: 1 })
    await create(0)
    await control('pubsub/overflow', { object: 'Contact', count: 3 })
    for (const n of [1, 2, 3]) await create(n)
    await control('delete-range', { object: 'Contact', from: 10, to: 13 })
    expect(await got.until(() => got.events.length >= 3)).toBe(true)
    const h = got.events.map((e) => e.payload.ChangeEventHeader)
    expect(h[0].changeType).toMatch(/^GAP_(CREATE|UPDATE|DELETE|UNDELETE)$/)
    expect(h[0].recordIds).toHaveLength(1)
    expect(h[1].changeType).toBe('GAP_OVERFLOW')
    expect(h[2].changeType).toBe('DELETE')
    expect(h[2].recordIds).toHaveLength(3)
    expect(got.errors).toEqual([])
  } finally {
    await got.close()
  }
})

test('a retained replay id resumes after it; an expired one is replayid.corrupted', async () => {
  const { c, accessToken } = await client(sim)
  const first = collect(c, (cb) => c.subscribeFromEarliestEvent('/data/AccountChangeEvent', cb, 100))
  const ids = []
  for (const name of ['A1', 'A2', 'A3']) ids.push((await rest(sim, accessToken, 'POST', '/sobjects/Account/', { Name: name })).id)
  expect(await first.until(() => first.events.length >= 3)).toBe(true)
  await first.close()

  const { c: c2 } = await client(sim)
  const resumed = collect(c2, (cb) => c2.subscribeFromReplayId('/data/AccountChangeEvent', cb, 100, first.events[0].replayId))
  expect(await resumed.until(() => resumed.events.length >= 2)).toBe(true)
  expect(resumed.events.map((e) => e.payload.ChangeEventHeader.recordIds[0])).toEqual(ids.slice(1))
  await resumed.close()

  await control('pubsub/expire', {})
  const { c: c3 } = await client(sim)
  const expired = collect(c3, (cb) => c3.subscribeFromReplayId('/data/AccountChangeEvent', cb, 100, first.events[0].replayId))
  expect(await expired.until(() => expired.errors.length > 0)).toBe(true)
  expect(expired.errors[0].code).toBe(3) // INVALID_ARGUMENT
  expect(expired.errors[0].metadata.get('error-code')).toEqual(['sfdc.platform.eventbus.grpc.subscription.fetch.replayid.corrupted'])
  c3.close()
})

test('replay retention runs on the virtual clock: 72 hours later a replay id is corrupted', async () => {
  const { c, accessToken } = await client(sim)
  const first = collect(c, (cb) => c.subscribe('/data/NoteChangeEvent', cb, 10))
  await control('pubsub', { keepaliveMs: 50 })
  expect(await first.until(() => first.keepalives > 0)).toBe(true)
  const parent = (await rest(sim, accessToken, 'POST', '/sobjects/Contact/', { LastName: 'Parent' })).id
  await rest(sim, accessToken, 'POST', '/sobjects/Note/', { Title: 'kept', ParentId: parent })
  expect(await first.until(() => first.events.length >= 1)).toBe(true)
  await first.close()
  const replayId = first.events[0].replayId

  await control('clock', { advanceMs: 71 * 3600 * 1000 })
  const { c: c2 } = await client(sim)
  const kept = collect(c2, (cb) => c2.subscribeFromReplayId('/data/NoteChangeEvent', cb, 10, replayId))
  expect(await kept.until(() => kept.keepalives > 0)).toBe(true)
  expect(kept.errors).toEqual([])
  await kept.close()

  await control('clock', { advanceMs: 2 * 3600 * 1000 })
  const { c: c3 } = await client(sim)
  const gone = collect(c3, (cb) => c3.subscribeFromReplayId('/data/NoteChangeEvent', cb, 10, replayId))
  expect(await gone.until(() => gone.errors.length > 0)).toBe(true)
  expect(gone.errors[0].metadata.get('error-code')).toEqual(['sfdc.platform.eventbus.grpc.subscription.fetch.replayid.corrupted'])
  c3.close()
})

test('an expired token ends an open stream with UNAUTHENTICATED; a stall silences keepalives', async () => {
  const { c } = await client(sim)
  const got = collect(c, (cb) => c.subscribe('/data/OpportunityChangeEvent', cb, 10))
  await control('pubsub', { keepaliveMs: 50 })
  expect(await got.until(() => got.keepalives > 0)).toBe(true)
  await control('pubsub/stall', { ms: 600 })
  await new Promise((r) => setTimeout(r, 100))
  const before = got.keepalives
  await new Promise((r) => setTimeout(r, 300))
  expect(got.keepalives).toBe(before)
  expect(await got.until(() => got.keepalives > before, 3000)).toBe(true)

  await control('expire-access-tokens', {})
  expect(await got.until(() => got.errors.length > 0)).toBe(true)
  expect(got.errors[0].code).toBe(16) // UNAUTHENTICATED
  expect(got.errors[0].metadata.get('error-code')).toEqual(['sfdc.platform.eventbus.grpc.service.auth.error'])
  c.close()
})
