'use strict'
// Smoke test of `sync({ live: true })`: after the polling catch-up, a create, an update and a delete
// made through REST reach the consumer as stream steps, the copy (upserts merged, deletes removed)
// equals the simulator's records, and aborting the signal ends the iteration cleanly. A second run
// resumes from the live checkpoint without polling. Then each stream failure the simulator can
// inject is recovered from with the copy still equal to the org.
const { Forcelink } = require('..')
const { startSim, tmpDb, baseConfig, connect, simRest } = require('./helpers')

let sim, fl
const conn = { accountId: 'live-acc', ownerId: 'live-usr' }
const events = []

beforeAll(async () => {
  sim = await startSim(['--contacts', '40'])
  fl = new Forcelink(baseConfig(sim, { storePath: tmpDb('live'), pubsubUrl: sim.pubsubUrl }))
  fl.on('changeStream', (e) => events.push(e))
  await connect(fl, conn.accountId, conn.ownerId)
})
afterAll(async () => {
  await fl.close()
  await sim.stop()
})

const truth = async () => (await sim.control('truth?object=Contact')).records

function apply(copy, step) {
  for (const r of step.upserts) copy.set(r.Id, { ...(copy.get(r.Id) || {}), ...r })
  for (const d of step.deletes) copy.delete(d.Id)
}

async function until(pred, ms = 15000) {
  const end = Date.now() + ms
  while (Date.now() < end) {
    if (await pred()) return true
    await new Promise((r) => setTimeout(r, 50))
  }
  return false
}

function converged(copy, t) {
  const want = Object.keys(t).sort()
  const have = [...copy.keys()].sort()
  if (JSON.stringify(want) !== JSON.stringify(have)) return false
  return want.every((id) => copy.get(id).SystemModstamp === t[id].SystemModstamp && copy.get(id).Title === t[id].Title)
}

/** Runs a live sync in the background, applying steps to `copy`. */
function liveRun(copy, checkpoint, extra = {}) {
  const ac = new AbortController()
  const steps = []
  const state = { checkpoint, error: null }
  const done = (async () => {
    try {
      for await (const step of fl.sync({ ...conn, type: 'contacts', checkpoint, live: true, signal: ac.signal, ...extra })) {
        apply(copy, step)
        steps.push(step)
        state.checkpoint = step.checkpoint
      }
    } catch (e) {
      state.error = e
    }
  })()
  return { ac, steps, state, done }
}

test('create, update and delete reach a live sync as stream steps', async () => {
  const copy = new Map()
  const run = liveRun(copy)
  expect(await until(() => run.steps.some((s) => s.meta && s.meta.source === 'poll'))).toBe(true)
  expect(await until(async () => converged(copy, await truth()))).toBe(true)

  const token = (await fl.getAccessToken(conn)).accessToken
  const api = (method, path, body) => simRest(sim.instanceUrl, token, method, path, body)
  const { id } = await api('POST', '/sobjects/Contact', { LastName: 'Live', Title: 'Created' })
  await api('PATCH', `/sobjects/Contact/${id}`, { Title: 'Updated' })
  const victim = [...copy.keys()].find((k) => k !== id)
  await api('DELETE', `/sobjects/Contact/${victim}`)

  const types = () => run.steps.filter((s) => s.meta.source === 'stream').flatMap((s) => s.meta.changeTypes)
  expect(await until(() => ['CREATE', 'UPDATE', 'DELETE'].every((t) => types().includes(t)))).toBe(true)
  expect(await until(async () => converged(copy, await truth()))).toBe(true)
  expect(copy.get(id).Title).toBe('Updated')
  expect(copy.has(victim)).toBe(false)

  const stream = run.steps.filter((s) => s.meta.source === 'stream' && !s.meta.keepalive)
  for (const s of stream) expect(typeof s.meta.lagMs).toBe('number')
  const update = stream.find((s) => s.meta.changeTypes.includes('UPDATE') && !s.meta.changeTypes.includes('CREATE'))
  if (update) {
    expect(update.meta.partial).toBe(true)
    const patch = update.upserts.find((r) => r.Id === id)
    expect(patch.Title).toBe('Updated')
    // A patch holds only changed fields: the unchanged email is not reported as null.
    expect('Email' in patch).toBe(false)
  }
  const del = stream.find((s) => s.meta.changeTypes.includes('DELETE'))
  expect(del.deletes[0]).toEqual({ Id: victim, deletedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) })
  expect(events.some((e) => e.kind === 'subscribed' && e.type === 'contacts')).toBe(true)

  run.ac.abort()
  await run.done
  expect(run.state.error).toBeNull()

  // Resume from the live checkpoint: the stream picks up where it left (no polling).
  const before = run.steps.length
  const again = liveRun(copy, run.state.checkpoint)
  await api('PATCH', `/sobjects/Contact/${id}`, { Title: 'Resumed' })
  expect(await until(() => copy.get(id).Title === 'Resumed')).toBe(true)
  expect(again.steps.every((s) => s.meta.source === 'stream')).toBe(true)
  again.ac.abort()
  await again.done
  expect(again.state.error).toBeNull()
  expect(before).toBeGreaterThan(0)
}, 60000)

test('a keepalive advances the checkpoint with an empty stream step', async () => {
  await sim.control('pubsub', { keepaliveMs: 150 })
  try {
    const copy = new Map()
    const run = liveRun(copy)
    expect(await until(() => run.steps.some((s) => s.meta.keepalive === true))).toBe(true)
    const ka = run.steps.find((s) => s.meta.keepalive === true)
    expect(ka.upserts).toEqual([])
    expect(ka.deletes).toEqual([])
    expect(ka.meta.source).toBe('stream')
    run.ac.abort()
    await run.done
    expect(run.state.error).toBeNull()
  } finally {
    await sim.control('pubsub', { keepaliveMs: 270000 })
  }
})

test('bad live options are typed errors', async () => {
  const first = (opts) => fl.sync({ ...conn, type: 'contacts', ...opts }).next()
  await expect(first({ live: 'yes' })).rejects.toMatchObject({ code: 'INVALID_INPUT' })
  await expect(first({ live: true, liveStallMs: 5 })).rejects.toMatchObject({ code: 'INVALID_INPUT' })
  expect(() => new Forcelink(baseConfig(sim, { pubsubUrl: 'http://pubsub.example.com:7443' }))).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }))
  expect(() => new Forcelink(baseConfig(sim, { pubsubUrl: 'ftp://x' }))).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }))
})

test('the stream recovers from a reset, a gap, an overflow, a stall, an expired token and an expired replay id', async () => {
  const mutate = (count, seed) => sim.control('mutate', { object: 'Contact', count, seed })
  const ok = async (copy) => expect(await until(async () => converged(copy, await truth()))).toBe(true)
  const kinds = () => events.map((e) => `${e.kind}${e.reason ? `:${e.reason}` : ''}`)
  const copy = new Map()
  const run = liveRun(copy, undefined, { liveStallMs: 1000 })
  await ok(copy)
  await sim.control('pubsub/reset', {})
  await mutate(8, 11)
  await ok(copy)
  expect(kinds()).toContain('resubscribed:reset')
  await sim.control('pubsub/gap', { count: 3 })
  await mutate(5, 12)
  await ok(copy)
  expect(events.find((e) => e.kind === 'gap').recordIds.length).toBeGreaterThan(0)
  await sim.control('pubsub/overflow', { count: 4 })
  await mutate(6, 13)
  await ok(copy)
  expect(kinds()).toContain('overflow')
  await sim.control('pubsub/stall', { ms: 2500 })
  await mutate(4, 14)
  await ok(copy)
  expect(kinds()).toContain('resubscribed:stall')
  await sim.control('expire-access-tokens', {})
  await mutate(4, 15)
  await ok(copy)
  expect(kinds()).toContain('resubscribed:auth')
  run.ac.abort()
  await run.done
  expect(run.state.error).toBeNull()

  // Changes while no one listens, then every stored event expires: the resumed run polls
  // from the checkpoint's modstamp, then streams again.
  await mutate(6, 16)
  await sim.control('pubsub/expire', {})
  const again = liveRun(copy, run.state.checkpoint)
  await ok(copy)
  expect(kinds()).toContain('replayExpired')
  await mutate(6, 17)
  await ok(copy)
  again.ac.abort()
  await again.done
  expect(again.state.error).toBeNull()
}, 60000)
