'use strict'
const { Forcelink } = require('..')
const { startSim, baseConfig, MapStore, connect } = require('./helpers')

let sim, fl, store
const conn = { accountId: 'b', ownerId: 'b' }
const idOf = (r) => r.attributes.url.split('/').pop()

beforeAll(async () => {
  sim = await startSim(['--contacts', '6000', '--deals', '2500'])
  await sim.setConfig({ bulkJobMs: 200 })
  store = new MapStore()
  fl = new Forcelink(baseConfig(sim, { store }))
  await connect(fl, conn.accountId, conn.ownerId)
})
afterAll(() => sim.stop())

async function collect(opts) {
  const out = []
  for await (const b of fl.exportAll({ ...conn, ...opts })) out.push(...b)
  return out
}

test('bulk batches have exactly the REST record shape', async () => {
  for (const type of ['contacts', 'deals', 'notes']) {
    const rest = await collect({ type })
    const bulk = await collect({ type, engine: 'bulk' })
    expect(bulk.length).toBe(rest.length)
    const byId = new Map(rest.map((r) => [idOf(r), r]))
    for (const r of bulk) expect(r).toEqual(byId.get(idOf(r)))
  }
})

test('bulk uses far fewer API calls, streams batches and reports the job', async () => {
  await sim.resetCounts()
  const progress = []
  let n = 0
  for await (const b of fl.exportAll({ ...conn, type: 'contacts', engine: 'bulk', batchSize: 1000, onProgress: (p) => progress.push(p) })) {
    expect(b.length).toBeLessThanOrEqual(1000)
    n += b.length
  }
  expect(n).toBe(6000)
  expect(progress.length).toBe(6)
  expect(progress[0]).toMatchObject({ engine: 'bulk', jobId: expect.stringMatching(/^750/), total: 6000 })
  const c = await sim.counts()
  expect(c.query + c.queryMore).toBe(0)
  expect(c.bulk).toBeLessThan(15)
})

test('auto picks bulk above the threshold and REST below it', async () => {
  const low = new Forcelink(baseConfig(sim, { store, bulkThreshold: 1000 }))
  const high = new Forcelink(baseConfig(sim, { store }))
  const engines = async (f) => {
    const seen = new Set()
    for await (const _ of f.exportAll({ ...conn, type: 'contacts', engine: 'auto', onProgress: (p) => seen.add(p.engine) }));
    return [...seen]
  }
  expect(await engines(low)).toEqual(['bulk'])
  expect(await engines(high)).toEqual(['rest'])
})

test('cancelling mid-job aborts it at Salesforce', async () => {
  await sim.setConfig({ bulkJobMs: 10000 })
  try {
    const ac = new AbortController()
    const it = fl.exportAll({ ...conn, type: 'contacts', engine: 'bulk', signal: ac.signal })
    const pending = it.next()
    await new Promise((r) => setTimeout(r, 600))
    const jobs = await sim.control('jobs')
    const jobId = jobs[jobs.length - 1].id
    ac.abort()
    await expect(pending).rejects.toMatchObject({ code: 'CANCELLED' })
    let state
    for (let i = 0; i < 50 && state !== 'Aborted'; i++) {
      await new Promise((r) => setTimeout(r, 50))
      state = (await sim.control('jobs')).find((j) => j.id === jobId).state
    }
    expect(state).toBe('Aborted')
  } finally {
    await sim.setConfig({ bulkJobMs: 200 })
  }
})

test('a job id resumes an export without creating a new job', async () => {
  let jobId
  let first = 0
  for await (const b of fl.exportAll({ ...conn, type: 'deals', engine: 'bulk', batchSize: 500, onProgress: (p) => (jobId = p.jobId) })) {
    first += b.length
    break // the process "crashes" after one batch
  }
  expect(first).toBe(500)
  const before = (await sim.control('jobs')).length
  const resumed = await collect({ type: 'deals', engine: 'bulk', jobId })
  expect(resumed).toHaveLength(2500)
  expect((await sim.control('jobs')).length).toBe(before)
})

test('a failed job and a missed deadline are reported', async () => {
  await sim.setConfig({ bulkFailNext: true })
  await expect(collect({ type: 'contacts', engine: 'bulk' })).rejects.toMatchObject({ code: 'SALESFORCE_ERROR', salesforceCode: 'BULK_JOB_FAILED' })
  await sim.setConfig({ bulkJobMs: 10000 })
  try {
    const hurried = new Forcelink(baseConfig(sim, { store, bulkDeadlineMs: 1000 }))
    await expect(
      (async () => {
        for await (const _ of hurried.exportAll({ ...conn, type: 'contacts', engine: 'bulk' }));
      })(),
    ).rejects.toMatchObject({ code: 'SALESFORCE_UNAVAILABLE', message: expect.stringContaining('aborted') })
    const jobs = await sim.control('jobs')
    expect(jobs[jobs.length - 1].state).toBe('Aborted')
  } finally {
    await sim.setConfig({ bulkJobMs: 200 })
  }
})

test('bad engine and job id values are INVALID_INPUT', async () => {
  await expect(fl.exportAll({ ...conn, type: 'contacts', engine: 'turbo' }).next()).rejects.toMatchObject({ code: 'INVALID_INPUT', field: 'engine' })
  await expect(fl.exportAll({ ...conn, type: 'contacts', jobId: '../../x' }).next()).rejects.toMatchObject({ code: 'INVALID_INPUT', field: 'jobId' })
})
