'use strict'
// Incremental sync against the simulator: a consumer keeps a copy (apply upserts, apply deletes)
// and must equal the simulator's ground truth after every round of random mutations, after
// crashes at random points, and across late commits, shared stamps and QUERY_TIMEOUT splits.
const path = require('node:path')
const { fork } = require('node:child_process')
const fs = require('node:fs')
const { Forcelink } = require('..')
const { startSim, tmpDb, baseConfig, connect } = require('./helpers')

let sim, fl, cfg
const conn = { accountId: 'sync-acc', ownerId: 'sync-usr' }

beforeAll(async () => {
  sim = await startSim(['--contacts', '1500', '--deals', '300', '--notes', '50'])
  cfg = baseConfig(sim, { storePath: tmpDb('sync'), bulkThreshold: 100000 })
  fl = new Forcelink(cfg)
  await connect(fl, conn.accountId, conn.ownerId)
})
afterAll(() => sim.stop())
afterEach(async () => {
  await sim.clearFaults()
  await sim.setConfig({ queryTimeoutRows: 0 })
})

const mutate = (body) => sim.control('mutate', { object: 'Contact', ...body })
const truth = async (object = 'Contact') => (await sim.control(`truth?object=${object}`)).records

/** Applies every step of one run to `copy`; returns the last checkpoint and the steps seen. */
async function syncInto(copy, checkpoint, extra = {}) {
  let steps = 0
  for await (const step of fl.sync({ ...conn, type: 'contacts', checkpoint, ...extra })) {
    for (const r of step.upserts) copy.set(r.Id, r)
    for (const d of step.deletes) copy.delete(d.Id)
    checkpoint = step.checkpoint
    steps++
  }
  return { checkpoint, steps }
}

function expectConverged(copy, t) {
  const want = Object.keys(t).sort()
  const have = [...copy.keys()].sort()
  expect(have.length).toBe(want.length)
  expect(have).toEqual(want)
  for (const id of want) {
    const r = copy.get(id)
    if (r.SystemModstamp !== t[id].SystemModstamp || r.Title !== t[id].Title) {
      throw new Error(`record ${id} differs: have ${r.SystemModstamp} ${r.Title}, want ${JSON.stringify(t[id])}`)
    }
  }
}

test('smoke: full sync then incremental after mutations converges', async () => {
  const copy = new Map()
  let { checkpoint } = await syncInto(copy)
  expectConverged(copy, await truth())
  await mutate({ count: 300, seed: 1 })
  ;({ checkpoint } = await syncInto(copy, checkpoint))
  expectConverged(copy, await truth())
})
