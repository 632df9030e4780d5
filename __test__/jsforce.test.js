'use strict'
// Conformance: jsforce 3, the most used Node Salesforce client, against the simulator that
// forcelink/testing ships: its own OAuth web-server flow with PKCE, query + autoFetch, describe,
// writes, a refresh after expired tokens, a Bulk 2.0 query, limits and revoke.
const jsforce = require('jsforce')
const { startSimulator } = require('../testing')

let sim
beforeAll(async () => {
  sim = await startSimulator({ contacts: 4500 })
})
afterAll(() => sim.close())

test('jsforce 3 speaks to the simulator', async () => {
  const oauth2 = new jsforce.OAuth2({
    loginUrl: sim.loginUrl,
    clientId: sim.clientId,
    clientSecret: sim.clientSecret,
    redirectUri: sim.redirectUris[0],
    useVerifier: true,
  })
  const authUrl = oauth2.getAuthorizationUrl({ scope: 'api refresh_token', state: 's1' })
  const u = new URL(authUrl)
  expect(u.searchParams.get('code_challenge')).toBeTruthy()
  expect(oauth2.codeVerifier.length).toBeGreaterThan(128) // jsforce's 171 characters
  const res = await fetch(authUrl, { redirect: 'manual' })
  expect(res.status).toBe(302)
  const cb = new URL(res.headers.get('location'))
  expect(cb.searchParams.get('state')).toBe('s1')

  const conn = new jsforce.Connection({ oauth2, version: '62.0' })
  const userInfo = await conn.authorize(cb.searchParams.get('code'))
  expect(userInfo.organizationId).toMatch(/^00D/)
  expect(conn.instanceUrl).toBe(sim.instanceUrl)
  expect(conn.refreshToken).toBeTruthy()

  // query + autoFetch past one 2,000-record batch
  const all = await conn.query('SELECT Id, LastName FROM Contact', { autoFetch: true, maxFetch: 10000 })
  expect(all.totalSize).toBe(4500)
  expect(all.records).toHaveLength(4500)
  expect(new Set(all.records.map((r) => r.Id)).size).toBe(4500)

  const d = await conn.sobject('Contact').describe()
  expect(d.name).toBe('Contact')
  expect(d.fields.some((f) => f.name === 'LastName')).toBe(true)

  const created = await conn.sobject('Contact').create({ LastName: 'Jsforce', Email: 'jsforce-conformance@example.org' })
  expect(created.success).toBe(true)
  await conn.sobject('Contact').update({ Id: created.id, FirstName: 'Via' })
  const got = await conn.sobject('Contact').retrieve(created.id)
  expect(got).toMatchObject({ Id: created.id, FirstName: 'Via', LastName: 'Jsforce' })

  // An expired access token: jsforce refreshes on INVALID_SESSION_ID and retries.
  const refreshed = new Promise((resolve) => conn.once('refresh', resolve))
  const before = (await sim.control.counts()).token.refresh_token
  await sim.control.expireTokens()
  const one = await conn.query('SELECT Id FROM Contact LIMIT 1')
  expect(one.records).toHaveLength(1)
  await refreshed
  expect((await sim.control.counts()).token.refresh_token).toBe(before + 1)

  const bulkRecords = await conn.bulk2.query('SELECT Id, LastName FROM Contact', { pollInterval: 100, pollTimeout: 60_000 })
  const rows = []
  for await (const r of bulkRecords) rows.push(r)
  expect(rows).toHaveLength(4501)

  const limits = await conn.limits()
  expect(limits.DailyApiRequests.Max).toBeGreaterThan(0)
  expect(limits.DailyApiRequests.Remaining).toBeLessThan(limits.DailyApiRequests.Max)

  const refreshToken = conn.refreshToken
  await oauth2.revokeToken(refreshToken)
  await expect(oauth2.refreshToken(refreshToken)).rejects.toThrow(/expired|invalid/i)
})
