// forcelink.test.js: a host's own Jest suite against the simulator that ships with forcelink.
const express = require('express')
const { Forcelink } = require('forcelink')
const { salesforceRouter } = require('forcelink/express')
const { startSimulator, connectForTest, MemoryStore } = require('forcelink/testing')

const user = { accountId: 'acct-1', ownerId: 'user-1' }
/** @type {import('forcelink/testing').Simulator} */ let sim
/** @type {Forcelink} */ let forcelink
/** @type {import('node:http').Server} */ let server
let base = ''

beforeAll(async () => {
  sim = await startSimulator({ contacts: 250, rotation: true })
  // forcelinkConfig(): this simulator's client and loginUrl, a random stateSecret, and
  // storePath ':memory:' (parallel Jest workers never share a store). Pass your own store instead:
  forcelink = new Forcelink(sim.forcelinkConfig({ store: new MemoryStore(), maxRetries: 1 }))
  await connectForTest(forcelink, user)

  const app = express()
  app.use('/salesforce', salesforceRouter(forcelink, { getAuth: () => ({ account_id: user.accountId, uid: user.ownerId }) }))
  server = app.listen(0, '127.0.0.1')
  await new Promise((resolve) => server.once('listening', resolve))
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address())
  base = `http://127.0.0.1:${port}/salesforce`
})

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve))
  await forcelink.close() // stops background work; later calls reject with CLOSED
  await sim.close()
})

test('exports a page of contacts', async () => {
  const page = await forcelink.exportPage({ ...user, type: 'contacts', page: 1, limit: 100 })
  expect(page.data).toHaveLength(100)
  expect(page.pagination.total).toBe(250)
})

test('refreshes an access token that expired mid-test', async () => {
  const before = (await sim.control.counts()).token.refresh_token
  await sim.control.expireTokens()
  const page = await forcelink.exportPage({ ...user, type: 'contacts', page: 2, limit: 100 })
  expect(page.data).toHaveLength(100)
  expect((await sim.control.counts()).token.refresh_token).toBe(before + 1)
})

test('a Salesforce outage is answered 503 by the Express route', async () => {
  await sim.control.fail({ status: 503, count: 100 }) // every call, retries included, until cleared
  const res = await fetch(`${base}/export/contacts?page=1&limit=10`)
  expect(res.status).toBe(503)
  expect(await res.json()).toMatchObject({ success: false, code: 'SALESFORCE_UNAVAILABLE' })

  await sim.control.clearFailures()
  const again = await fetch(`${base}/export/contacts?page=1&limit=10`)
  expect(again.status).toBe(200)
})
