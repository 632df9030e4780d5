'use strict'
const { Forcelink } = require('..')
const { startSim, baseConfig, MapStore, connect } = require('./helpers')

let sim, fl
const conn = { accountId: 'w', ownerId: 'w' }
beforeAll(async () => {
  sim = await startSim(['--contacts', '100'])
  fl = new Forcelink(baseConfig(sim, { store: new MapStore() }))
  await connect(fl, conn.accountId, conn.ownerId)
})
afterAll(() => sim.stop())
afterEach(() => sim.clearFaults())

test('create then update a contact, visible to queries', async () => {
  const { id } = await fl.createRecord({ ...conn, object: 'Contact', fields: { FirstName: 'Ada', LastName: 'Lovelace', Email: 'ada@example.org' } })
  expect(id).toMatch(/^003[A-Za-z0-9]{15}$/)
  await expect(fl.updateRecord({ ...conn, object: 'Contact', id, fields: { Title: 'Analyst' } })).resolves.toEqual({ id })
  const r = await fl.query({ ...conn, soql: `SELECT Id, LastName, Title FROM Contact WHERE Id = '${id}'` })
  expect(r.records[0]).toMatchObject({ Id: id, LastName: 'Lovelace', Title: 'Analyst' })
  const page = await fl.exportPage({ ...conn, type: 'contacts', page: 1 })
  expect(page.pagination.total).toBe(101)
})

test("Salesforce's field errors carry salesforceCode and fields", async () => {
  await expect(fl.createRecord({ ...conn, object: 'Contact', fields: { FirstName: 'No last name' } })).rejects.toMatchObject({
    code: 'SALESFORCE_ERROR',
    status: 400,
    salesforceCode: 'REQUIRED_FIELD_MISSING',
    fields: ['LastName'],
  })
  await fl.createRecord({ ...conn, object: 'Contact', fields: { LastName: 'One', Email: 'twin@example.org' } })
  await expect(fl.createRecord({ ...conn, object: 'Contact', fields: { LastName: 'Two', Email: 'twin@example.org' } })).rejects.toMatchObject({
    salesforceCode: 'DUPLICATES_DETECTED',
  })
  await expect(
    fl.createRecord({ ...conn, object: 'Opportunity', fields: { Name: 'Bad', StageName: 'Prospecting', CloseDate: '2026-12-31', Amount: -5 } }),
  ).rejects.toMatchObject({ salesforceCode: 'FIELD_CUSTOM_VALIDATION_EXCEPTION', fields: ['Amount'] })
  await expect(fl.createRecord({ ...conn, object: 'Contact', fields: { LastName: 'X', Nope__c: 1 } })).rejects.toMatchObject({
    salesforceCode: 'INVALID_FIELD',
  })
})

test('names are validated before anything is sent', async () => {
  await sim.resetCounts()
  for (const bad of [
    { object: 'Contact; DROP', fields: { LastName: 'x' } },
    { object: 'Contact', fields: { 'Last Name': 'x' } },
    { object: 'Contact', fields: { 'Account.Name': 'x' } },
    { object: 'Contact', fields: {} },
    { object: 'Contact', fields: 'LastName=x' },
  ]) {
    await expect(fl.createRecord({ ...conn, ...bad })).rejects.toMatchObject({ code: 'INVALID_INPUT', status: 400 })
  }
  await expect(fl.updateRecord({ ...conn, object: 'Contact', id: "003' OR 1=1", fields: { Title: 'x' } })).rejects.toMatchObject({ code: 'INVALID_INPUT' })
  expect((await sim.counts()).create ?? 0).toBe(0)
})

test('a create that may have reached Salesforce is not resent; an update is', async () => {
  await sim.resetCounts()
  await sim.fault({ target: 'write', kind: 'reset', count: 1 })
  await expect(fl.createRecord({ ...conn, object: 'Contact', fields: { LastName: 'Once' } })).rejects.toMatchObject({ code: 'SALESFORCE_UNAVAILABLE' })
  expect((await sim.counts()).create).toBe(1)
  const { id } = await fl.createRecord({ ...conn, object: 'Contact', fields: { LastName: 'Twice' } })
  await sim.fault({ target: 'write', kind: 'reset', count: 1 })
  await expect(fl.updateRecord({ ...conn, object: 'Contact', id, fields: { Title: 'Retried' } })).resolves.toEqual({ id })
})

test('an expired session during a write refreshes and retries once', async () => {
  await sim.expireAccessTokens()
  await expect(fl.createRecord({ ...conn, object: 'Account', fields: { Name: 'Acme Ltd' } })).resolves.toHaveProperty('id')
})
