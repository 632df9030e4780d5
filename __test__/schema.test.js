'use strict'
// Issue 22: exports that know the schema. `fields: 'all'` reads every field the connected user can
// see (describe, field-level security), compounds flattened into their components on both engines
// (Bulk refuses compounds) and base64 left out, so REST and Bulk give the same records; the list is
// known before the first record; a sync follows the schema as fields appear and disappear.
const { Forcelink } = require('..')
const { startSim, baseConfig, MapStore, connect } = require('./helpers')

let sim, fl
const alice = { accountId: 'schema', ownerId: 'alice' }
const bob = { accountId: 'schema', ownerId: 'bob' }
const exportTypes = {
  accountsAll: { object: 'Account', fields: 'all', attributes: false },
  nowhere: { object: 'Nowhere__c', fields: 'all' },
}
const events = []
const store = new MapStore()

beforeAll(async () => {
  sim = await startSim(['--contacts', '300', '--deals', '50'])
  await sim.setConfig({ bulkJobMs: 30 })
  fl = new Forcelink(baseConfig(sim, { store, exportTypes, describeTtlMs: 0 }))
  fl.on('schemaChange', (e) => events.push(e))
  await connect(fl, alice.accountId, alice.ownerId)
  await connect(fl, bob.accountId, bob.ownerId)
}, 120000)
afterAll(async () => {
  await fl.close()
  await sim.stop()
})

async function all(opts) {
  const out = []
  const progress = []
  for await (const batch of fl.exportAll({ ...opts, onProgress: (p) => progress.push(p) })) out.push(...batch)
  out.sort((a, b) => (a.Id < b.Id ? -1 : 1))
  return { records: out, progress }
}

async function text(opts) {
  const parts = []
  for await (const c of fl.exportStream(opts)) parts.push(c)
  return Buffer.concat(parts).toString('utf8')
}

test("fields: 'all' gives the same records from REST and Bulk: compounds as components, no base64", async () => {
  const rest = await all({ ...alice, type: 'accountsAll', engine: 'rest' })
  const bulk = await all({ ...alice, type: 'accountsAll', engine: 'bulk' })
  expect(rest.records.length).toBeGreaterThan(0)
  expect(bulk.records).toEqual(rest.records)
  const keys = Object.keys(rest.records[0])
  for (const f of ['Id', 'Name', 'BillingStreet', 'BillingCity', 'BillingPostalCode', 'Location__Latitude__s', 'SystemModstamp']) expect(keys).toContain(f)
  for (const f of ['BillingAddress', 'Location__c', 'Logo__c', 'attributes']) expect(keys).not.toContain(f)
  // The list is known with the first batch, in column order, and is the records' keys.
  expect(rest.progress[0].fields).toEqual(keys)
  expect(bulk.progress[0].fields).toEqual(keys)
})

test("each CSV header is the resolved list, REST and Bulk alike", async () => {
  const { progress } = await all({ ...alice, type: 'accountsAll' })
  const header = progress[0].fields.join(',')
  for (const engine of ['rest', 'bulk']) {
    const csv = await text({ ...alice, type: 'accountsAll', engine, format: 'csv' })
    expect(csv.split('\n')[0]).toBe(header)
  }
})

test("per call: fields: 'all' on a type with a fixed list, and a list of the call's own", async () => {
  const { records, progress } = await all({ ...alice, type: 'contacts', fields: 'all', attributes: false })
  expect(Object.keys(records[0])).toEqual(progress[0].fields)
  expect(progress[0].fields).toContain('Email')
  expect(progress[0].fields).toContain('SystemModstamp')
  const own = await all({ ...alice, type: 'contacts', fields: ['LastName', 'Account.Name'], attributes: false })
  expect(Object.keys(own.records[0])).toEqual(['LastName', 'Account'])
})

test('an unknown field or object is INVALID_INPUT naming it, before any query', async () => {
  const err = await all({ ...alice, type: 'contacts', fields: ['LastName', 'Nope__c'] }).catch((e) => e)
  expect(err).toMatchObject({ code: 'INVALID_INPUT', status: 400, field: 'fields' })
  expect(err.message).toContain('Nope__c')
  const gone = await all({ ...alice, type: 'nowhere' }).catch((e) => e)
  expect(gone).toMatchObject({ code: 'INVALID_INPUT', field: 'type' })
  expect(gone.message).toContain('Nowhere__c')
  await expect(fl.exportAll({ ...alice, type: 'contacts', fields: 'everything' }).next()).rejects.toMatchObject({ code: 'INVALID_INPUT', field: 'fields' })
})

/** A request to the simulator's API with alice's token, as Salesforce sees a client. */
async function raw(method, path, body) {
  const { token } = await store.find(alice.accountId, alice.ownerId)
  const res = await fetch(`${token.instance_url}/services/data/v62.0${path}`, {
    method,
    headers: { authorization: `Bearer ${token.access_token}`, 'content-type': 'application/json' },
    body: body && JSON.stringify(body),
  })
  return { status: res.status, body: await res.json() }
}

test("the simulator answers compounds as Salesforce does: REST objects, Bulk's refusal", async () => {
  const q = encodeURIComponent('SELECT Id, BillingAddress, BillingCity, Location__c FROM Account LIMIT 5')
  const { status, body } = await raw('GET', `/query?q=${q}`)
  expect(status).toBe(200)
  const r = body.records[0]
  expect(Object.keys(r.BillingAddress)).toEqual(['city', 'country', 'geocodeAccuracy', 'latitude', 'longitude', 'postalCode', 'state', 'street'])
  expect(r.BillingAddress.city).toBe(r.BillingCity)
  expect(r.Location__c === null || Object.keys(r.Location__c).join() === 'latitude,longitude').toBe(true)
  // Every component null: the compound is null.
  const { id } = await fl.createRecord({ ...alice, object: 'Account', fields: { Name: 'No Address Ltd' } })
  const bare = await raw('GET', `/query?q=${encodeURIComponent(`SELECT BillingAddress, Location__c FROM Account WHERE Id = '${id}'`)}`)
  expect(bare.body.records[0]).toMatchObject({ BillingAddress: null, Location__c: null })
  // A compound cannot be filtered on (its components can).
  const bad = await raw('GET', `/query?q=${encodeURIComponent("SELECT Id FROM Account WHERE BillingAddress = 'x'")}`)
  expect(bad.status).toBe(400)
  expect(bad.body[0].errorCode).toBe('INVALID_FIELD')
  const job = await raw('POST', '/jobs/query', { operation: 'query', query: 'SELECT Name, BillingAddress FROM Account' })
  expect(job.status).toBe(400)
  expect(job.body[0]).toMatchObject({ errorCode: 'FUNCTIONALITY_NOT_ENABLED' })
  expect(job.body[0].message).toContain('Selecting compound data not supported in Bulk Query')
})

test('a compound named in fields: [...] is read as its components on both engines, field for field', async () => {
  const fields = ['Id', 'Name', 'BillingAddress', 'Location__c']
  const rest = await all({ ...alice, type: 'accountsAll', fields, engine: 'rest', attributes: false })
  const bulk = await all({ ...alice, type: 'accountsAll', fields, engine: 'bulk', attributes: false })
  expect(rest.records.length).toBeGreaterThan(0)
  expect(bulk.records).toEqual(rest.records)
  expect(Object.keys(rest.records[0])).toEqual(['Id', 'Name', 'BillingStreet', 'BillingCity', 'BillingPostalCode', 'BillingCountry', 'Location__Latitude__s', 'Location__Longitude__s'])
  // CSV: the header is the components, REST and Bulk alike.
  for (const engine of ['rest', 'bulk']) {
    const csv = await text({ ...alice, type: 'accountsAll', fields, engine, format: 'csv' })
    expect(csv.split('\n')[0]).toBe('Id,Name,BillingStreet,BillingCity,BillingPostalCode,BillingCountry,Location__Latitude__s,Location__Longitude__s')
  }
  // A sync with a compound in its list reads through Bulk too.
  const steps = []
  for await (const s of fl.sync({ ...alice, type: 'accountsAll', fields, engine: 'bulk' })) steps.push(s)
  const synced = steps.flatMap((s) => s.upserts)
  expect(synced.length).toBe(rest.records.length)
  expect(Object.keys(synced[0])).toContain('BillingCity')
  expect(Object.keys(synced[0])).not.toContain('BillingAddress')
})

test('describe: the normalized field list, per user (field-level security)', async () => {
  const conns = await sim.connections()
  const fields = await fl.describe({ ...alice, type: 'accountsAll' })
  const byName = Object.fromEntries(fields.map((f) => [f.name, f]))
  expect(byName.BillingCity).toMatchObject({ type: 'string', label: 'Billing City', compoundParent: 'BillingAddress', filterable: true, nillable: true, updateable: true, exported: true })
  expect(byName.BillingAddress).toMatchObject({ type: 'address', exported: false })
  expect(byName.Logo__c).toMatchObject({ type: 'base64', exported: false })
  expect(byName.Id).toMatchObject({ type: 'id', nillable: false, updateable: false })
  // The same object named directly.
  expect((await fl.describe({ ...alice, type: 'Account' })).map((f) => f.name)).toEqual(fields.map((f) => f.name))
  await expect(fl.describe({ ...alice, type: 'Nowhere__c' })).rejects.toMatchObject({ code: 'INVALID_INPUT', field: 'type' })
  // Website hidden from bob only: his export leaves it out, alice's keeps it.
  const bobId = conns[conns.length - 1].userId
  await sim.hideField('Account', 'Website', { user: bobId })
  const bobs = await all({ ...bob, type: 'accountsAll' })
  const alices = await all({ ...alice, type: 'accountsAll' })
  expect(bobs.progress[0].fields).not.toContain('Website')
  expect(alices.progress[0].fields).toContain('Website')
  expect(Object.keys(bobs.records[0])).not.toContain('Website')
  expect((await fl.describe({ ...bob, type: 'Account' })).map((f) => f.name)).not.toContain('Website')
})

async function syncRun(checkpoint) {
  const steps = []
  for await (const s of fl.sync({ ...alice, type: 'accountsAll', checkpoint, batchSize: 500 })) steps.push(s)
  return steps
}

test('sync: a field added and one hidden between runs are reported, and never fail the sync', async () => {
  const first = await syncRun()
  const cp1 = first[first.length - 1].checkpoint
  expect(first[0].meta.fields).toContain('Industry')
  expect(first.some((s) => s.meta.schemaChange)).toBe(false)
  events.length = 0
  await sim.addField('Account', 'Tier__c')
  await sim.hideField('Account', 'Industry')
  const second = await syncRun(cp1)
  expect(second[0].meta.schemaChange).toMatchObject({ type: 'accountsAll', added: ['Tier__c'], removed: ['Industry'] })
  expect(second[0].meta.fields).toContain('Tier__c')
  expect(second[0].meta.fields).not.toContain('Industry')
  expect(events).toHaveLength(1)
  expect(events[0]).toMatchObject({ connection: { accountId: 'schema', ownerId: 'alice' }, type: 'accountsAll', added: ['Tier__c'], removed: ['Industry'] })
  expect(events[0].orgId).toBeTruthy()
  for (const s of second) for (const r of s.upserts) expect(Object.keys(r)).not.toContain('Industry')
  // The checkpoint after the change resumes cleanly and reports nothing new.
  const third = await syncRun(second[second.length - 1].checkpoint)
  expect(third.some((s) => s.meta && s.meta.schemaChange)).toBe(false)
  expect(events).toHaveLength(1)
})

for (const engine of ['rest', 'bulk']) {
  test(`formulaRefresh (${engine}): exactly the records whose formula value changed come out, once`, async () => {
    const run = async (opts) => {
      const steps = []
      for await (const s of fl.sync({ ...alice, type: 'contacts', fields: 'all', engine, batchSize: 200, ...opts })) steps.push(s)
      return steps
    }
    const ups = (steps) => steps.flatMap((s) => s.upserts)
    const first = await run({ formulaRefresh: 1 })
    const cp = first[first.length - 1].checkpoint
    const records = ups(first)
    const contact = records.find((r) => r.AccountId && r.Account_Industry__c)
    // (Industry itself is hidden from everyone by the drift test; the formula still reads it.)
    const next = contact.Account_Industry__c === 'Technology' ? 'Finance' : 'Technology'
    await fl.updateRecord({ ...alice, object: 'Account', id: contact.AccountId, fields: { Industry: next } })
    const changed = records.filter((r) => r.AccountId === contact.AccountId && r.Account_Industry__c !== next).map((r) => r.Id).sort()
    expect(changed.length).toBeGreaterThan(0)
    // Salesforce's clock (the Date header) counts whole seconds.
    await new Promise((r) => setTimeout(r, 1100))
    // Without the option the contact is not seen to change: its SystemModstamp did not move.
    const plain = await run({ checkpoint: cp })
    expect(ups(plain).find((r) => r.Id === contact.Id)).toBeUndefined()
    const refreshed = await run({ checkpoint: cp, formulaRefresh: 1 })
    expect(ups(refreshed).map((r) => r.Id).sort()).toEqual(changed)
    for (const r of ups(refreshed)) expect(r.Account_Industry__c).toBe(next)
    expect(refreshed.some((s) => s.meta.formulaRefresh)).toBe(false)
    const cp2 = refreshed[refreshed.length - 1].checkpoint
    // Within the period nothing is re-read; a re-read with nothing changed emits nothing.
    expect(ups(await run({ checkpoint: cp2, formulaRefresh: 86_400_000 }))).toEqual([])
    await new Promise((r) => setTimeout(r, 1100))
    expect(ups(await run({ checkpoint: cp2, formulaRefresh: 1 }))).toEqual([])
    // A checkpoint made without the option has no digests: its first refresh emits all, and says so.
    const cp3 = plain[plain.length - 1].checkpoint
    const all = await run({ checkpoint: cp3, formulaRefresh: 1 })
    expect(ups(all).length).toBe(records.length)
    expect(all.find((s) => s.meta.formulaRefresh).meta.formulaRefresh).toMatchObject({ emitted: 'all', reason: 'no_digests' })
    if (engine === 'rest') await expect(run({ formulaRefresh: 'daily' })).rejects.toMatchObject({ code: 'INVALID_INPUT', field: 'formulaRefresh' })
  }, 60000)
}

test('formulaRefresh: a refresh stopped half-way resumes from its checkpoint and delivers each change once', async () => {
  for (const engine of ['rest', 'bulk']) {
    const run = async (opts, stopAfterUpserts = false) => {
      const steps = []
      for await (const s of fl.sync({ ...alice, type: 'contacts', fields: 'all', engine, batchSize: 25, formulaRefresh: 1, ...opts })) {
        steps.push(s)
        if (stopAfterUpserts && s.upserts.length) break
      }
      return steps
    }
    const first = await run({})
    const records = first.flatMap((s) => s.upserts)
    // Two accounts' contacts change: they lie far apart in Id order.
    const accounts = [...new Set(records.filter((r) => r.AccountId).map((r) => r.AccountId))].slice(0, 2)
    const changed = []
    for (const a of accounts) {
      const one = records.find((r) => r.AccountId === a)
      const next = one.Account_Industry__c === 'Energy' ? 'Retail' : 'Energy'
      await fl.updateRecord({ ...alice, object: 'Account', id: a, fields: { Industry: next } })
      changed.push(...records.filter((r) => r.AccountId === a && r.Account_Industry__c !== next).map((r) => r.Id))
    }
    await new Promise((r) => setTimeout(r, 1100))
    const half = await run({ checkpoint: first[first.length - 1].checkpoint }, true)
    const rest = await run({ checkpoint: half[half.length - 1].checkpoint })
    const got = [...half, ...rest].flatMap((s) => s.upserts).map((r) => r.Id)
    expect(got.sort()).toEqual(changed.sort())
  }
}, 90000)
