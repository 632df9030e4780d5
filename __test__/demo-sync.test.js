'use strict'
// The demo's Sync view API: a run copies everything, an edit in the simulator, and the next run
// brings just the changes; the replica then matches the simulator.
const { startDemo, DEMO_AUTH } = require('../demo/server')
const { startSim, baseConfig, connect } = require('./helpers')

let sim, demo
beforeAll(async () => {
  sim = await startSim(['--contacts', '400', '--deals', '50', '--notes', '20'])
  const { clientId, clientSecret, redirectUri, loginUrl } = baseConfig(sim)
  demo = await startDemo({ port: 0, forcelinkConfig: { clientId, clientSecret, redirectUri, loginUrl }, simControlUrl: `${sim.loginUrl}/__sim` })
  await connect(demo.forcelink, DEMO_AUTH.account_id, DEMO_AUTH.uid, '/')
})
afterAll(async () => {
  if (demo) await demo.close()
  await sim.stop()
})

const post = async (p) => {
  const res = await fetch(`${demo.url}/api/sync${p}`, { method: 'POST' })
  return { status: res.status, body: await res.json() }
}

test('sync now, edit records, sync again: the replica follows the simulator', async () => {
  const first = await post('/run?type=contacts')
  expect(first.status).toBe(200)
  expect(first.body).toMatchObject({ type: 'contacts', records: 400, synced: true, editable: true })
  const edit = await post('/edit?type=contacts')
  expect(edit.status).toBe(200)
  const second = await post('/run?type=contacts')
  expect(second.status).toBe(200)
  const run = second.body.log[0]
  expect(run.steps.reduce((n, s) => n + s.upserts + s.deletes, 0)).toBeGreaterThan(0)
  const truth = await sim.control('truth?object=Contact')
  expect(second.body.records).toBe(truth.count)
  expect((await post('/run?type=nope')).status).toBe(400)
})
