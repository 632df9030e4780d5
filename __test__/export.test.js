'use strict'
const { Forcelink, paginate } = require('..')
const { startSim, baseConfig, MapStore, connect } = require('./helpers')

let sim, fl, store
const conn = { accountId: 'exp-acc', ownerId: 'exp-usr' }
const idOf = (r) => r.attributes.url.split('/').pop()

beforeAll(async () => {
  sim = await startSim(['--contacts', '5000', '--deals', '10000', '--notes', '2600'])
  store = new MapStore()
  fl = new Forcelink(baseConfig(sim, { store }))
  await connect(fl, conn.accountId, conn.ownerId)
})
afterAll(() => sim.stop())
afterEach(() => sim.clearFaults())

async function allIds(type) {
  const ids = []
  for await (const batch of fl.exportAll({ ...conn, type })) for (const r of batch) ids.push(idOf(r))
  return ids
}

test('walking every page of 5,000 contacts at limit 200 returns each record exactly once, in Id order', async () => {
  const seen = []
  let page = 1
  let pages = 0
  for (;;) {
    const r = await fl.exportPage({ ...conn, type: 'contacts', page, limit: 200 })
    pages++
    expect(r.pagination).toMatchObject({ page, per_page: 200, total: 5000, total_pages: 25 })
    for (const rec of r.data) seen.push(idOf(rec))
    if (!r.pagination.next_page) break
    page = r.pagination.next_page
  }
  expect(pages).toBe(25)
  expect(seen).toHaveLength(5000)
  expect(new Set(seen).size).toBe(5000)
  expect([...seen].sort()).toEqual(seen)
})

test('records keep Salesforce shape and the incumbent default fields', async () => {
  const { data } = await fl.exportPage({ ...conn, type: 'contacts', page: 1, limit: 50 })
  expect(Object.keys(data[0])).toEqual(['attributes', 'Name', 'Account', 'Title', 'Phone', 'Email', 'Owner'])
  expect(data[0].attributes).toMatchObject({ type: 'Contact', url: expect.stringMatching(/^\/services\/data\/v62\.0\/sobjects\/Contact\/003/) })
  expect(data.some((r) => r.Account === null)).toBe(true)
  expect(data.find((r) => r.Account).Account).toMatchObject({ attributes: { type: 'Account' }, Name: expect.any(String) })
  const deals = await fl.exportPage({ ...conn, type: 'deals', page: 1, limit: 5 })
  expect(Object.keys(deals.data[0])).toEqual(['attributes', 'Name', 'Account', 'Amount', 'CloseDate', 'StageName', 'Owner'])
  const notes = await fl.exportPage({ ...conn, type: 'notes', page: 1, limit: 5 })
  expect(Object.keys(notes.data[0])).toEqual(['attributes', 'Body', 'IsDeleted', 'IsPrivate', 'OwnerId', 'ParentId', 'Title', 'Owner'])
})

test('page 40 of 100 (past OFFSET 2,000) holds exactly records 3,901–4,000 of the Id order', async () => {
  const ids = await allIds('deals')
  expect(ids).toHaveLength(10000)
  const cold = new Forcelink(baseConfig(sim, { store })) // no remembered anchors: pays the hops
  const r = await cold.exportPage({ ...conn, type: 'deals', page: 40, limit: 100 })
  expect(r.pagination).toEqual({ page: 40, per_page: 100, total: 10000, total_pages: 100, next_page: 41, prev_page: 39, offsetValue: 3900 })
  expect(r.data.map(idOf)).toEqual(ids.slice(3900, 4000))
  // count + two one-row hops (2,001 rows each) + the data query
  expect(r.apiCalls).toBeLessThanOrEqual(4)
  const next = await cold.exportPage({ ...conn, type: 'deals', page: 41, limit: 100 })
  expect(next.data.map(idOf)).toEqual(ids.slice(4000, 4100))
  expect(next.apiCalls).toBe(2) // the next page starts from the remembered key
  const last = await cold.exportPage({ ...conn, type: 'deals', page: 100, limit: 100 })
  expect(last.data.map(idOf)).toEqual(ids.slice(9900))
  expect(last.pagination.next_page).toBeNull()
})

test('a large page (limit 3,000, page 2) follows nextRecordsUrl', async () => {
  const ids = await allIds('contacts')
  const r = await fl.exportPage({ ...conn, type: 'contacts', page: 2, limit: 3000 })
  expect(r.data.map(idOf)).toEqual(ids.slice(3000, 5000))
})

test('no limit returns every record (2,600 notes), following nextRecordsUrl', async () => {
  const r = await fl.exportPage({ ...conn, type: 'notes' })
  expect(r.data).toHaveLength(2600)
  expect(new Set(r.data.map(idOf)).size).toBe(2600)
  expect(r.pagination).toEqual({ page: 1, per_page: 2600, total: 2600, total_pages: 1, next_page: null, prev_page: null, offsetValue: 0 })
  const p2 = await fl.exportPage({ ...conn, type: 'notes', page: 2 })
  expect(p2.data).toEqual([])
})

test('garbage page and limit values give sane pagination, never an error', async () => {
  const cases = [
    [{ page: 'abc', limit: 'xyz' }, { page: 1, per_page: 2600, total_pages: 1 }],
    [{ page: -3, limit: 100 }, { page: 1, per_page: 100, total_pages: 26 }],
    [{ page: '2.7', limit: '100.9' }, { page: 2, per_page: 100, offsetValue: 100 }],
    [{ page: 0, limit: 0 }, { page: 1, per_page: 2600 }],
    [{ page: 9999, limit: 100 }, { page: 9999, next_page: null, prev_page: 9998, offsetValue: 0 }],
    [{ page: 1, limit: '1e999' }, { per_page: 1 }],
    [{ page: 1, limit: '99999999999999999999' }, { per_page: 1e9, total_pages: 1 }],
  ]
  for (const [q, want] of cases) {
    const r = await fl.exportPage({ ...conn, type: 'notes', ...q })
    expect(r.pagination).toMatchObject(want)
    for (const v of Object.values(r.pagination)) expect(v === null || Number.isFinite(v)).toBe(true)
  }
  const beyond = await fl.exportPage({ ...conn, type: 'notes', page: 9999, limit: 100 })
  expect(beyond.data).toEqual([])
  // Far past the end costs the count and the few hops made while it is in flight (more on a
  // loaded machine), not one hop per 2,001 records (that would be millions here).
  const far = await fl.exportPage({ ...conn, type: 'deals', page: '999999999', limit: 100 })
  expect(far.data).toEqual([])
  expect(far.apiCalls).toBeLessThanOrEqual(10)
})

test('paginator matches the incumbent formula over a grid', () => {
  const incumbent = (items, page, per_page) => {
    page = (page && parseInt(page)) || 1
    per_page = per_page || items
    const offset = (page - 1) * per_page
    const total_pages = Math.ceil(items / per_page)
    return { page, per_page, total: items, total_pages, next_page: page < total_pages ? page + 1 : null, prev_page: page > 1 ? page - 1 : null, offsetValue: offset < items ? offset : 0 }
  }
  for (const total of [1, 7, 199, 200, 201, 1500, 2001, 10000])
    for (const page of [1, 2, 3, 15, 16, 100])
      for (const per of [1, 10, 100, 200, 2000, 5000, undefined]) expect(paginate(total, page, per)).toEqual(incumbent(total, page, per))
})

test('unknown type is INVALID_TYPE with the incumbent message', async () => {
  await expect(fl.exportPage({ ...conn, type: 'leads', page: 1, limit: 10 })).rejects.toMatchObject({
    code: 'INVALID_TYPE',
    status: 400,
    message: 'Please provide valid type. Example contacts and deals',
  })
  await expect(fl.exportPage({ ...conn, type: "contacts' OR 1=1", page: 1 })).rejects.toMatchObject({ code: 'INVALID_TYPE' })
})

test('exportTypes adds types and replaces fields; a missing field is SALESFORCE_ERROR INVALID_FIELD', async () => {
  const custom = new Forcelink(
    baseConfig(sim, {
      store,
      exportTypes: {
        contacts: { object: 'Contact', fields: ['Name', 'Email', 'Account.Owner.Alias'] },
        people: { object: 'Contact', fields: ['FirstName', 'LastName'] },
        broken: { object: 'Contact', fields: ['Name', 'Custom_Field__c'] },
      },
    }),
  )
  const c = await custom.exportPage({ ...conn, type: 'contacts', page: 1, limit: 3 })
  expect(Object.keys(c.data[0])).toEqual(['attributes', 'Name', 'Email', 'Account'])
  const p = await custom.exportPage({ ...conn, type: 'people', page: 1, limit: 3 })
  expect(Object.keys(p.data[0])).toEqual(['attributes', 'FirstName', 'LastName'])
  await expect(custom.exportPage({ ...conn, type: 'broken', page: 1, limit: 3 })).rejects.toMatchObject({
    code: 'SALESFORCE_ERROR',
    status: 400,
    salesforceCode: 'INVALID_FIELD',
    message: expect.stringContaining("No such column 'Custom_Field__c'"),
  })
  for (const bad of [
    { object: 'Contact', fields: ["Name FROM User WHERE Name = 'x'"] },
    { object: 'Contact', fields: ['Name, (SELECT Id FROM Cases)'] },
    { object: 'Contact WHERE Id != null', fields: ['Name'] },
    { object: 'Contact', fields: [] },
  ]) {
    expect(() => new Forcelink(baseConfig(sim, { store, exportTypes: { x: bad } }))).toThrow(expect.objectContaining({ code: 'CONFIG_INVALID' }))
  }
})

test('an expired token mid-export is refreshed once and the export continues', async () => {
  await sim.resetCounts()
  let n = 0
  let batches = 0
  for await (const batch of fl.exportAll({ ...conn, type: 'deals', batchSize: 1000 })) {
    n += batch.length
    if (++batches === 3) await sim.expireAccessTokens()
  }
  expect(n).toBe(10000)
  expect((await sim.counts()).token.refresh_token).toBe(1)
})

test('breaking out of exportAll stops further requests', async () => {
  await sim.resetCounts()
  let batches = 0
  // One chain (parallelism 1): batches are exactly batchSize.
  for await (const batch of fl.exportAll({ ...conn, type: 'deals', batchSize: 500, parallelism: 1 })) {
    expect(batch.length).toBe(500)
    if (++batches === 2) break
  }
  await new Promise((r) => setTimeout(r, 200))
  // Two batches read, at most one more fetched ahead, then nothing.
  const c = await sim.counts()
  expect(c.query + c.queryMore).toBeLessThanOrEqual(3)
  await new Promise((r) => setTimeout(r, 300))
  const later = await sim.counts()
  expect(later.query + later.queryMore).toBe(c.query + c.queryMore)
})

test('onProgress, since and batchSize', async () => {
  const progress = []
  let n = 0
  for await (const b of fl.exportAll({ ...conn, type: 'contacts', batchSize: 2000, parallelism: 1, onProgress: (p) => progress.push(p) })) n += b.length
  expect(n).toBe(5000)
  expect(progress).toEqual([
    { fetched: 2000, total: 5000, engine: 'rest' },
    { fetched: 4000, total: 5000, engine: 'rest' },
    { fetched: 5000, total: 5000, engine: 'rest' },
  ])
  const all = await fl.query({ ...conn, soql: 'SELECT Id, SystemModstamp FROM Contact ORDER BY Id', all: true })
  const cut = all.records[4000].SystemModstamp
  let recent = 0
  for await (const b of fl.exportAll({ ...conn, type: 'contacts', since: cut })) recent += b.length
  expect(recent).toBe(1000)
  await expect(fl.exportAll({ ...conn, type: 'contacts', batchSize: 50 }).next()).rejects.toMatchObject({ code: 'INVALID_INPUT', field: 'batchSize' })
  await expect(fl.exportAll({ ...conn, type: 'contacts', since: 'yesterday' }).next()).rejects.toMatchObject({ code: 'INVALID_INPUT', field: 'since' })
})

test('exportStream writes CSV and NDJSON natively', async () => {
  const read = async (s) => {
    const chunks = []
    for await (const c of s) chunks.push(c)
    return Buffer.concat(chunks).toString('utf8')
  }
  const csv = await read(fl.exportStream({ ...conn, type: 'notes', format: 'csv' }))
  const lines = csv.trimEnd().split('\n')
  expect(lines[0]).toBe('Body,IsDeleted,IsPrivate,OwnerId,ParentId,Title,Owner.Alias')
  expect(lines.length).toBeGreaterThanOrEqual(2601)
  const nd = await read(fl.exportStream({ ...conn, type: 'notes', format: 'ndjson' }))
  const recs = nd.trimEnd().split('\n').map((l) => JSON.parse(l))
  expect(recs).toHaveLength(2600)
})

test('exportStream format json is one array of every record, as exportAll gives them', async () => {
  const read = async (s) => {
    const chunks = []
    for await (const c of s) chunks.push(c)
    return Buffer.concat(chunks).toString('utf8')
  }
  const objects = []
  for await (const b of fl.exportAll({ ...conn, type: 'notes', batchSize: 500 })) objects.push(...b)
  const text = await read(fl.exportStream({ ...conn, type: 'notes', format: 'json', batchSize: 500 }))
  expect(text.startsWith('[{') && text.endsWith('}]')).toBe(true)
  expect(JSON.parse(text)).toEqual(objects)
  // Empty: still one (empty) array.
  const none = await read(fl.exportStream({ ...conn, type: 'notes', format: 'json', since: '2999-01-01T00:00:00Z' }))
  expect(none).toBe('[]')
  await expect(read(fl.exportStream({ ...conn, type: 'notes', format: 'xml' }))).rejects.toMatchObject({ code: 'INVALID_INPUT', field: 'format' })
})

describe('Salesforce failures', () => {
  test('transient 503s and connection resets are retried', async () => {
    await sim.fault({ target: 'query', kind: '503', count: 2 })
    await expect(fl.exportPage({ ...conn, type: 'contacts', page: 1, limit: 10 })).resolves.toHaveProperty('data')
    await sim.fault({ target: 'query', kind: 'reset', count: 2 })
    await expect(fl.exportPage({ ...conn, type: 'contacts', page: 1, limit: 10 })).resolves.toHaveProperty('data')
  })

  test('persistent 503 ends as SALESFORCE_UNAVAILABLE', async () => {
    await sim.fault({ target: 'query', kind: '503', count: 1000 })
    await expect(fl.query({ ...conn, soql: 'SELECT Id FROM Contact LIMIT 1' })).rejects.toMatchObject({ code: 'SALESFORCE_UNAVAILABLE', status: 503 })
  })

  test('REQUEST_LIMIT_EXCEEDED is RATE_LIMITED and not retried', async () => {
    await sim.resetCounts()
    await sim.fault({ target: 'query', kind: 'rate_limit', count: 1000 })
    await expect(fl.query({ ...conn, soql: 'SELECT Id FROM Contact LIMIT 1' })).rejects.toMatchObject({
      code: 'RATE_LIMITED',
      status: 429,
      salesforceCode: 'REQUEST_LIMIT_EXCEEDED',
    })
    expect((await sim.counts()).query).toBe(1)
  })

  test('query errors carry Salesforce code and message; limit usage is reported', async () => {
    await expect(fl.query({ ...conn, soql: 'SELEC Id FROM Contact' })).rejects.toMatchObject({ code: 'SALESFORCE_ERROR', salesforceCode: 'MALFORMED_QUERY', status: 400 })
    await expect(fl.query({ ...conn, soql: 'SELECT Id FROM Contact ORDER BY Id LIMIT 1 OFFSET 2001' })).rejects.toMatchObject({
      salesforceCode: 'NUMBER_OUTSIDE_VALID_RANGE',
    })
    await expect(fl.query({ ...conn, soql: 'SELECT Id FROM Nope' })).rejects.toMatchObject({ salesforceCode: 'INVALID_TYPE' })
    await fl.query({ ...conn, soql: 'SELECT Id FROM Contact LIMIT 1' })
    expect(fl.limitInfo()).toMatchObject({ used: expect.any(Number), max: expect.any(Number) })
  })

  test('query follows queryMore on request', async () => {
    const first = await fl.query({ ...conn, soql: 'SELECT Id FROM Contact' })
    expect(first.done).toBe(false)
    expect(first.nextRecordsUrl).toMatch(/^\/services\/data\/v62\.0\/query\//)
    const more = await fl.queryMore({ ...conn, nextRecordsUrl: first.nextRecordsUrl })
    expect(more.records.length).toBeGreaterThan(0)
    const all = await fl.query({ ...conn, soql: 'SELECT Id FROM Contact', all: true })
    expect(all.records).toHaveLength(5000)
    await expect(fl.queryMore({ ...conn, nextRecordsUrl: 'https://evil.example.org/steal' })).rejects.toMatchObject({ code: 'INVALID_INPUT' })
  })
})

test('exportAll over 200,000 records keeps memory bounded', async () => {
  await sim.seed({ contacts: 200000 })
  try {
    global.gc && global.gc()
    const before = process.memoryUsage().rss
    let peak = before
    let n = 0
    for await (const batch of fl.exportAll({ ...conn, type: 'contacts' })) {
      n += batch.length
      peak = Math.max(peak, process.memoryUsage().rss)
    }
    expect(n).toBe(200000)
    const growthMb = (peak - before) / 1048576
    console.log(`exportAll 200,000 records: RSS growth ${growthMb.toFixed(1)} MB`)
    expect(growthMb).toBeLessThan(200)
  } finally {
    await sim.seed({ contacts: 5000 })
  }
})
