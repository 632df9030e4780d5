'use strict'
// Incremental sync against the simulator: a consumer keeps a copy (apply upserts, apply deletes)
// and must equal the simulator's ground truth after every round of random mutations, after
// crashes at random points, and across late commits, shared stamps and QUERY_TIMEOUT splits.
const path = require('node:path')
const { fork } = require('node:child_process')
const fs = require('node:fs')
const { Forcelink } = require('..')
const crypto = require('node:crypto')
const { startSim, tmpDb, baseConfig, connect, STATE_SECRET } = require('./helpers')

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

function expectConverged(copy, t, field = 'Title') {
  const want = Object.keys(t).sort()
  const have = [...copy.keys()].sort()
  expect(have.length).toBe(want.length)
  expect(have).toEqual(want)
  for (const id of want) {
    const r = copy.get(id)
    if (r.SystemModstamp !== t[id].SystemModstamp || r[field] !== t[id][field]) {
      throw new Error(`record ${id} differs: have ${r.SystemModstamp} ${r.Title}, want ${JSON.stringify(t[id])}`)
    }
  }
}

test('smoke: full sync then incremental after mutations converges', async () => {
  const copy = new Map()
  const { checkpoint } = await syncInto(copy)
  expectConverged(copy, await truth())
  await mutate({ count: 300, seed: 1 })
  await syncInto(copy, checkpoint)
  expectConverged(copy, await truth())
})

test('convergence: 20 rounds of 500 random mutations (late commits, shared stamps), a sync after each', async () => {
  const copy = new Map()
  let { checkpoint } = await syncInto(copy)
  for (let round = 0; round < 20; round++) {
    // Every fourth round gives all 500 changes one SystemModstamp; the others back-date a fifth
    // of them by up to a minute, as transactions that commit late do.
    await mutate({ count: 500, seed: 1000 + round, sameStamp: round % 4 === 3, lateMs: round % 4 === 3 ? 0 : 60000 })
    ;({ checkpoint } = await syncInto(copy, checkpoint, { batchSize: round % 2 ? 2000 : 150 }))
    expectConverged(copy, await truth())
  }
})

test('a step repeats nothing already delivered: resuming from the final checkpoint yields no records', async () => {
  const copy = new Map()
  const initial = await syncInto(copy)
  await mutate({ count: 200, seed: 77 })
  const { checkpoint } = await syncInto(copy, initial.checkpoint)
  let upserts = 0
  let deletes = 0
  for await (const step of fl.sync({ ...conn, type: 'contacts', checkpoint })) {
    upserts += step.upserts.length
    deletes += step.deletes.length
  }
  expect(upserts).toBe(0)
  expect(deletes).toBe(0)
})

test('crash and resume: stopped by signal at random points (mid-step too), resumed from the stored checkpoint', async () => {
  // Notes (their own history, and a type that lists IsDeleted itself).
  const notes = { type: 'notes' }
  const copy = new Map()
  let stored
  ;({ checkpoint: stored } = await syncInto(copy, undefined, notes))
  let rng = 12345
  const rand = (n) => {
    rng = (rng * 1103515245 + 12345) % 2147483648
    return rng % n
  }
  let cancelled = 0
  for (let round = 0; round < 4; round++) {
    await mutate({ object: 'Note', count: 250, seed: 5000 + round, lateMs: 30000 })
    // Up to three interrupted attempts, each aborted after a random number of steps, either
    // between steps (the step is never applied) or while a request is in flight.
    for (let attempt = 0; attempt < 3; attempt++) {
      const ac = new AbortController()
      const stopAfter = rand(6)
      const midStep = rand(2) === 0
      let steps = 0
      try {
        for await (const step of fl.sync({ ...conn, ...notes, checkpoint: stored, batchSize: 40, signal: ac.signal })) {
          if (steps === stopAfter) {
            if (midStep) setImmediate(() => ac.abort())
            else {
              ac.abort()
              continue // dropped: never applied, checkpoint not stored
            }
          }
          for (const r of step.upserts) copy.set(r.Id, r)
          for (const d of step.deletes) copy.delete(d.Id)
          stored = step.checkpoint
          steps++
        }
      } catch (e) {
        expect(e.code).toBe('CANCELLED')
        cancelled++
      }
    }
    ;({ checkpoint: stored } = await syncInto(copy, stored, notes))
    expectConverged(copy, await truth('Note'))
    expect([...copy.values()].every((r) => r.IsDeleted === false)).toBe(true)
  }
  expect(cancelled).toBeGreaterThan(3)
})

test('crash and resume: a consumer process killed at random points resumes from its stored checkpoint', async () => {
  const statePath = path.join(path.dirname(tmpDb('x')), 'replica.json')
  const run = (killAfterSteps) =>
    new Promise((resolve, reject) => {
      const child = fork(path.join(__dirname, 'fixtures', 'sync-child.js'), [JSON.stringify(cfg), JSON.stringify(conn), statePath], {
        stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      })
      let steps = 0
      child.on('message', (m) => {
        if (m === 'step' && ++steps === killAfterSteps) child.kill('SIGKILL')
      })
      child.on('exit', (code, signal) => (code === 0 || signal === 'SIGKILL' ? resolve({ code, signal }) : reject(new Error(`child exited ${code}`))))
    })
  // First run killed early in the initial sync, the next ones after mutations.
  const first = await run(3)
  expect(first.signal).toBe('SIGKILL')
  for (let round = 0; round < 3; round++) {
    await mutate({ count: 300, seed: 9000 + round, lateMs: 20000 })
    await run(1 + ((round * 7) % 5))
  }
  const done = await run(0)
  expect(done.code).toBe(0)
  const state = JSON.parse(fs.readFileSync(statePath, 'utf8'))
  expectConverged(new Map(state.copy), await truth())
})

test('QUERY_TIMEOUT splits the window (never the same size again) and the sync still converges', async () => {
  // Deals: 300 records a minute apart, no more than 40 per window.
  await sim.resetCounts()
  await sim.setConfig({ queryTimeoutRows: 40 })
  const copy = new Map()
  const deals = { type: 'deals', engine: 'rest' }
  const { checkpoint } = await syncInto(copy, undefined, deals)
  expectConverged(copy, await truth('Opportunity'), 'Name')
  const timeouts = (await sim.counts()).queryTimeout
  expect(timeouts).toBeGreaterThan(0)
  await mutate({ object: 'Opportunity', count: 30, seed: 31 })
  await syncInto(copy, checkpoint, deals)
  expectConverged(copy, await truth('Opportunity'), 'Name')
})

test('a window that times out even at the smallest size fails with the Salesforce error, not a loop', async () => {
  // 500 records share one stamp: no time window can hold fewer than 500 rows.
  const copy = new Map()
  const { checkpoint } = await syncInto(copy)
  await mutate({ count: 500, seed: 4242, sameStamp: true })
  await sim.setConfig({ queryTimeoutRows: 50 })
  await expect(syncInto(copy, checkpoint)).rejects.toMatchObject({ code: 'SALESFORCE_ERROR', salesforceCode: 'QUERY_TIMEOUT' })
})

test('initial sync through Bulk API 2.0, interrupted and resumed on the same job, then incremental', async () => {
  const copy = new Map()
  let stored
  let steps = 0
  for await (const step of fl.sync({ ...conn, type: 'contacts', engine: 'bulk', batchSize: 500 })) {
    for (const r of step.upserts) copy.set(r.Id, r)
    stored = step.checkpoint
    if (++steps === 2) break // a crash after two steps
  }
  const jobs = (await sim.control('jobs')).length
  let seenAgain = 0
  for await (const step of fl.sync({ ...conn, type: 'contacts', checkpoint: stored, batchSize: 500 })) {
    for (const r of step.upserts) {
      if (copy.has(r.Id)) seenAgain++
      copy.set(r.Id, r)
    }
    for (const d of step.deletes) copy.delete(d.Id)
    stored = step.checkpoint
  }
  expect((await sim.control('jobs')).length).toBe(jobs) // read on from the same job
  expect(seenAgain).toBe(0)
  const { checkpoint } = await syncInto(copy, stored)
  expectConverged(copy, await truth())
  await mutate({ count: 300, seed: 606 })
  await syncInto(copy, checkpoint)
  expectConverged(copy, await truth())
})

test('tampered and foreign checkpoints are INVALID_INPUT; a checkpoint older than the delete log is FULL_RESYNC_REQUIRED', async () => {
  const copy = new Map()
  const { checkpoint } = await syncInto(copy)
  const flip = (s, i) => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1)
  for (const bad of [flip(checkpoint, 5), flip(checkpoint, checkpoint.length - 2), 'nonsense', checkpoint + 'x']) {
    await expect(syncInto(new Map(), bad)).rejects.toMatchObject({ code: 'INVALID_INPUT', status: 400, field: 'checkpoint' })
  }
  // Another type, another connection.
  const other = fl.sync({ ...conn, type: 'deals', checkpoint })
  await expect(other.next()).rejects.toMatchObject({ code: 'INVALID_INPUT' })
  await connect(fl, 'sync-acc', 'someone-else')
  const foreign = fl.sync({ accountId: 'sync-acc', ownerId: 'someone-else', type: 'contacts', checkpoint })
  await expect(foreign.next()).rejects.toMatchObject({ code: 'INVALID_INPUT' })
  // No request is made for a checkpoint that does not verify.
  await sim.resetCounts()
  await expect(syncInto(new Map(), flip(checkpoint, 9))).rejects.toMatchObject({ code: 'INVALID_INPUT' })
  expect((await sim.counts()).rest).toBe(0)
  // Older than the 15 days Salesforce keeps deletes (re-sealed with the test's stateSecret, as
  // only the server could): refused before anything is delivered.
  const [body] = checkpoint.split('.')
  const payload = JSON.parse(Buffer.from(body, 'base64url'))
  const old = Date.now() - 16 * 86400000
  Object.assign(payload, { deletes_at: old, pos: { ts: old } })
  const oldBody = Buffer.from(JSON.stringify(payload)).toString('base64url')
  const mac = crypto.createHmac('sha256', STATE_SECRET).update('forcelink.sync.checkpoint.v1\0').update(oldBody).digest('base64url')
  await expect(syncInto(new Map(), `${oldBody}.${mac}`)).rejects.toMatchObject({ code: 'FULL_RESYNC_REQUIRED', status: 409 })
  // The recycle bin is emptied after the checkpoint: deletes since it may be gone.
  await mutate({ count: 50, seed: 7 })
  await sim.control('purge', { object: 'Contact' })
  await expect(syncInto(copy, checkpoint)).rejects.toMatchObject({ code: 'FULL_RESYNC_REQUIRED', status: 409 })
  // A full resync then converges and its checkpoint works again.
  const fresh = new Map()
  const again = await syncInto(fresh)
  expectConverged(fresh, await truth())
  await mutate({ count: 50, seed: 8 })
  await syncInto(fresh, again.checkpoint)
  expectConverged(fresh, await truth())
})

test('bad options are INVALID_INPUT before any request', async () => {
  for (const opts of [{ batchSize: 0 }, { batchSize: 2.5 }, { lookbackMs: -1 }, { engine: 'fast' }, { checkpoint: 42 }, { checkpoint: '' }]) {
    await expect(fl.sync({ ...conn, type: 'contacts', ...opts }).next()).rejects.toMatchObject({ code: 'INVALID_INPUT' })
  }
  await expect(fl.sync({ ...conn, type: 'nope' }).next()).rejects.toMatchObject({ code: 'INVALID_TYPE' })
})

test('same token lifecycle and retries: an access token expiring mid-sync is refreshed once; a 503 is retried', async () => {
  const copy = new Map()
  const { checkpoint } = await syncInto(copy)
  await mutate({ count: 300, seed: 99 })
  await sim.resetCounts()
  await sim.fault({ target: 'query', kind: 503, count: 1 })
  let steps = 0
  for await (const step of fl.sync({ ...conn, type: 'contacts', checkpoint, batchSize: 50 })) {
    for (const r of step.upserts) copy.set(r.Id, r)
    for (const d of step.deletes) copy.delete(d.Id)
    if (++steps === 2) await sim.expireAccessTokens()
  }
  expectConverged(copy, await truth())
  expect((await sim.counts()).token.refresh_token).toBe(1)
})
