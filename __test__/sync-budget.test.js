'use strict'
// Issue 22: a sync that reaches the API budget stops as a success, after the step it was on, with
// `meta: { done: false, reason: 'api_budget' }` and a checkpoint; resuming converges.
const { Forcelink } = require('..')
const { startSim, baseConfig, MapStore, connect } = require('./helpers')

let sim
const conn = { accountId: 'budget', ownerId: 'u' }

beforeAll(async () => {
  sim = await startSim(['--contacts', '400'])
}, 60000)
afterAll(() => sim.stop())

async function run(fl, checkpoint) {
  const steps = []
  for await (const s of fl.sync({ ...conn, type: 'contacts', engine: 'rest', batchSize: 50, checkpoint })) steps.push(s)
  return steps
}

const ids = (steps) => steps.flatMap((s) => s.upserts.map((r) => r.Id))

async function everyId(fl) {
  const out = []
  for await (const b of fl.exportAll({ ...conn, type: 'contacts', engine: 'rest', parallelism: 1 })) out.push(...b.map((r) => r.attributes.url.split('/').pop()))
  return out.sort()
}

test("the org's own limit (REQUEST_LIMIT_EXCEEDED) mid-sync ends the run with a resumable checkpoint", async () => {
  const fl = new Forcelink(baseConfig(sim, { store: new MapStore(), maxRetries: 0 }))
  await connect(fl, conn.accountId, conn.ownerId)
  const all = await everyId(fl)
  const { apiUsage } = await sim.control('config')
  await sim.setConfig({ apiLimit: apiUsage + 5 })
  const first = await run(fl)
  const last = first[first.length - 1]
  expect(last.meta).toEqual({ done: false, reason: 'api_budget' })
  expect(typeof last.checkpoint).toBe('string')
  const got = new Set(ids(first))
  expect(got.size).toBeGreaterThan(0)
  expect(got.size).toBeLessThan(all.length)
  // The next day's budget: the run resumes from the checkpoint and converges.
  await sim.setConfig({ apiLimit: 1_000_000 })
  const second = await run(fl, last.checkpoint)
  expect(second.every((s) => !s.meta || s.meta.reason === undefined)).toBe(true)
  for (const id of ids(second)) got.add(id)
  expect([...got].sort()).toEqual(all)
  await fl.close()
}, 30000)

test('apiUsageCeiling stops the run after the current step, as a success', async () => {
  const fl = new Forcelink(baseConfig(sim, { store: new MapStore(), apiUsageCeiling: 0.5 }))
  await connect(fl, conn.accountId, conn.ownerId)
  const all = await everyId(fl)
  const { apiUsage } = await sim.control('config')
  // Three more calls cross half the limit.
  await sim.setConfig({ apiLimit: (apiUsage + 3) * 2 })
  const first = await run(fl)
  const last = first[first.length - 1]
  expect(last.meta).toMatchObject({ done: false, reason: 'api_budget' })
  const got = new Set(ids(first))
  expect(got.size).toBeLessThan(all.length)
  await sim.setConfig({ apiLimit: 1_000_000 })
  // Usage is known from responses: until one shows the new day's budget, a resumed run stops
  // at once with its checkpoint unchanged.
  const stale = await run(fl, last.checkpoint)
  expect(stale).toEqual([{ upserts: [], deletes: [], checkpoint: last.checkpoint, meta: { done: false, reason: 'api_budget' } }])
  await fl.query({ ...conn, soql: 'SELECT Id FROM Contact LIMIT 1' })
  let checkpoint = last.checkpoint
  for (let i = 0; i < 5; i++) {
    const more = await run(fl, checkpoint)
    for (const id of ids(more)) got.add(id)
    checkpoint = more[more.length - 1].checkpoint
    if (!more.some((s) => s.meta && s.meta.reason)) break
  }
  expect([...got].sort()).toEqual(all)
  await fl.close()
}, 30000)

describe('verify', () => {
  const vconn = { accountId: 'verify', ownerId: 'u' }
  let fl
  const mismatches = []
  beforeAll(async () => {
    fl = new Forcelink(baseConfig(sim, { store: new MapStore() }))
    fl.on('verifyMismatch', (e) => mismatches.push(e))
    await connect(fl, vconn.accountId, vconn.ownerId)
  })
  afterAll(() => fl.close())

  async function vrun(checkpoint) {
    const steps = []
    for await (const s of fl.sync({ ...vconn, type: 'contacts', engine: 'rest', batchSize: 1000, verify: true, checkpoint })) steps.push(s)
    return steps
  }

  test('a page that drops a record is caught by COUNT() and the window re-read', async () => {
    const clean = await vrun()
    const want = new Set(ids(clean))
    expect(clean.some((s) => s.meta)).toBe(false)
    await sim.dropNextRecord(1)
    const steps = await vrun()
    const got = new Set(ids(steps))
    expect([...got].sort()).toEqual([...want].sort())
    const reread = steps.find((s) => s.meta && s.meta.reread)
    expect(reread.meta.reread).toMatchObject({ expected: want.size, received: want.size - 1 })
    expect(steps.some((s) => s.meta && s.meta.verifyMismatch)).toBe(false)
    expect(mismatches).toHaveLength(0)
  })

  test('a window that still disagrees after its one re-read is reported with both counts', async () => {
    await sim.dropNextRecord(2)
    const steps = await vrun()
    const m = steps.find((s) => s.meta && s.meta.verifyMismatch)
    expect(m.meta.verifyMismatch).toMatchObject({ received: m.meta.verifyMismatch.expected - 1 })
    expect(mismatches).toHaveLength(1)
    expect(mismatches[0]).toMatchObject({ connection: vconn, type: 'contacts', expected: m.meta.verifyMismatch.expected, received: m.meta.verifyMismatch.expected - 1 })
  })
})

describe('verify over an initial load through Bulk', () => {
  const bconn = { accountId: 'verify-bulk', ownerId: 'u' }
  let fl
  const mismatches = []
  beforeAll(async () => {
    await sim.setConfig({ bulkJobMs: 30 })
    // 400 contacts: above this threshold the initial load is a Bulk job.
    fl = new Forcelink(baseConfig(sim, { store: new MapStore(), bulkThreshold: 100 }))
    fl.on('verifyMismatch', (e) => mismatches.push(e))
    await connect(fl, bconn.accountId, bconn.ownerId)
  })
  afterAll(() => fl.close())

  async function brun() {
    const steps = []
    for await (const s of fl.sync({ ...bconn, type: 'contacts', engine: 'auto', batchSize: 1000, verify: true })) steps.push(s)
    return steps
  }

  test("a Bulk job's results missing a record are caught by COUNT() and the job run once more", async () => {
    const clean = await brun()
    const want = ids(clean).sort()
    expect(want.length).toBeGreaterThan(100)
    expect(clean.some((s) => s.meta && (s.meta.reread || s.meta.verifyMismatch))).toBe(false)
    await sim.dropNextRecord(1)
    const steps = await brun()
    // Every record exactly once: the re-read delivers only the one the first job lost.
    expect(ids(steps).sort()).toEqual(want)
    const reread = steps.find((s) => s.meta && s.meta.reread)
    expect(reread.meta.reread).toMatchObject({ expected: want.length, received: want.length - 1 })
    expect(steps.some((s) => s.meta && s.meta.verifyMismatch)).toBe(false)
    expect(mismatches).toHaveLength(0)
  })

  test('a job still short after its one re-read is reported with both counts', async () => {
    await sim.dropNextRecord(2)
    const steps = await brun()
    const m = steps.find((s) => s.meta && s.meta.verifyMismatch)
    expect(m.meta.verifyMismatch).toMatchObject({ received: m.meta.verifyMismatch.expected - 1 })
    expect(mismatches).toHaveLength(1)
    expect(mismatches[0]).toMatchObject({ connection: bconn, type: 'contacts', expected: m.meta.verifyMismatch.expected })
  })
})
