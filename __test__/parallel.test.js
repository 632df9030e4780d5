'use strict'
// Parallel REST export (Id ranges) through the binding, against the simulator with a little
// latency switched on: exactly-once delivery, Id order, `parallelism` bounds, early exit.
const { Forcelink } = require('..')
const { startSim, baseConfig, MapStore, connect } = require('./helpers')

let sim, fl
const conn = { accountId: 'par-acc', ownerId: 'par-usr' }
const idOf = (r) => r.attributes.url.split('/').pop()

beforeAll(async () => {
  sim = await startSim(['--contacts', '12000', '--latency-ms', '15'])
  fl = new Forcelink(baseConfig(sim, { store: new MapStore() }))
  await connect(fl, conn.accountId, conn.ownerId)
})
afterAll(() => sim.stop())

async function run(opts) {
  await sim.resetCounts()
  const ids = []
  const progress = []
  const t0 = Date.now()
  for await (const batch of fl.exportAll({ ...conn, type: 'contacts', onProgress: (p) => progress.push(p), ...opts })) {
    expect(batch.length).toBeLessThanOrEqual(opts.batchSize || 2000)
    for (const r of batch) ids.push(idOf(r))
  }
  const c = await sim.counts()
  return { ids, progress, calls: c.query + c.queryMore, ms: Date.now() - t0 }
}

test('default parallelism reads every record once, in Id order, within serial + 2K calls', async () => {
  const serial = await run({ parallelism: 1, batchSize: 500 })
  expect(serial.ids).toHaveLength(12000)
  expect(serial.calls).toBe(24)
  const par = await run({ batchSize: 500 })
  expect(par.ids).toEqual(serial.ids)
  expect(par.calls).toBeLessThanOrEqual(24 + 2 * 4)
  expect(par.progress.at(-1)).toEqual({ fetched: 12000, total: 12000, engine: 'rest' })
  const unordered = await run({ batchSize: 500, parallelism: 10, ordered: false })
  expect(new Set(unordered.ids).size).toBe(12000)
  expect([...unordered.ids].sort()).toEqual(serial.ids)
  expect(unordered.calls).toBeLessThanOrEqual(24 + 2 * 10)
  // Ranges overlap their waits: well under the serial walk (24 requests × 15 ms each, at least).
  console.log(`12,000 contacts at 15 ms/request: serial ${serial.ms} ms, parallelism 4 ${par.ms} ms, 10 unordered ${unordered.ms} ms`)
})

test('exportStream uses the same ranges', async () => {
  const chunks = []
  for await (const c of fl.exportStream({ ...conn, type: 'contacts', format: 'ndjson', parallelism: 3 })) chunks.push(c)
  const lines = Buffer.concat(chunks).toString('utf8').trim().split('\n')
  expect(lines).toHaveLength(12000)
  const ids = lines.map((l) => idOf(JSON.parse(l)))
  expect([...ids].sort()).toEqual(ids)
})

test('parallelism and ordered are checked', async () => {
  for (const parallelism of [0, 11, 2.5, 'x', -1]) {
    await expect(fl.exportAll({ ...conn, type: 'contacts', parallelism }).next()).rejects.toMatchObject({ code: 'INVALID_INPUT', field: 'parallelism' })
  }
  await expect(fl.exportAll({ ...conn, type: 'contacts', ordered: 'yes' }).next()).rejects.toMatchObject({ code: 'INVALID_INPUT', field: 'ordered' })
})

test('breaking out of a parallel export stops its requests', async () => {
  await sim.resetCounts()
  let batches = 0
  for await (const batch of fl.exportAll({ ...conn, type: 'contacts', batchSize: 500, parallelism: 4 })) {
    expect(batch.length).toBeGreaterThan(0)
    if (++batches === 2) break
  }
  await new Promise((r) => setTimeout(r, 200))
  const c = await sim.counts()
  // The first round (2 calls), one round of 4 ranges, at most one more read ahead.
  expect(c.query + c.queryMore).toBeLessThanOrEqual(2 + 4 + 4)
  await new Promise((r) => setTimeout(r, 300))
  const later = await sim.counts()
  expect(later.query + later.queryMore).toBe(c.query + c.queryMore)
})
