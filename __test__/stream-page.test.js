'use strict'
// The no-limit export page is streamed: same JSON as the page built whole, `maxPageRecords`
// caps it with a 400, and a failure after the first byte cuts the connection.
const express = require('express')
const { Forcelink } = require('..')
const { salesforceRouter } = require('../express')
const { startSim, baseConfig, MapStore, connect } = require('./helpers')

let sim, fl
const conn = { accountId: 'sp-acc', ownerId: 'sp-usr' }

beforeAll(async () => {
  sim = await startSim(['--contacts', '4500', '--deals', '0', '--notes', '3'])
  fl = new Forcelink(baseConfig(sim, { store: new MapStore(), maxRetries: 0 }))
  await connect(fl, conn.accountId, conn.ownerId)
})
afterAll(() => sim.stop())
afterEach(() => sim.clearFaults())

async function app(options = {}) {
  const a = express()
  a.use((req, _res, next) => {
    req.auth = { account_id: conn.accountId, uid: conn.ownerId }
    next()
  })
  a.use('/sf', salesforceRouter(fl, { express, ...options }))
  const server = await new Promise((resolve) => {
    const s = a.listen(0, '127.0.0.1', () => resolve(s))
  })
  return { base: `http://127.0.0.1:${server.address().port}/sf`, close: () => new Promise((r) => server.close(r)) }
}

test('the streamed no-limit page is byte-for-byte the page built whole', async () => {
  const { base, close } = await app()
  try {
    for (const [type, query] of [['contacts', ''], ['contacts', '?limit=0&page=0'], ['contacts', '?limit=abc'], ['notes', ''], ['deals', '']]) {
      const res = await fetch(`${base}/export/${type}${query}`)
      expect(res.status).toBe(200)
      expect(res.headers.get('content-type')).toMatch(/^application\/json/)
      const text = await res.text()
      const whole = await fl.exportPageJson({ ...conn, type, limit: '0' })
      expect(text).toBe(`{"success":true,"message":"SUCCESS",${whole.slice(1)}`)
    }
    const body = await (await fetch(`${base}/export/contacts`)).json()
    expect(body.data).toHaveLength(4500)
    expect(body.pagination).toMatchObject({ page: 1, per_page: 4500, total: 4500, total_pages: 1 })
  } finally {
    await close()
  }
})

test('maxPageRecords caps a page with a 400', async () => {
  const { base, close } = await app({ maxPageRecords: 1000 })
  try {
    const all = await fetch(`${base}/export/contacts`)
    expect(all.status).toBe(400)
    expect(await all.json()).toMatchObject({ success: false, errno: 400, code: 'PAGE_TOO_LARGE' })
    const big = await fetch(`${base}/export/contacts?limit=5000`)
    expect((await big.json()).code).toBe('PAGE_TOO_LARGE')
    expect((await fetch(`${base}/export/contacts?limit=1000`)).status).toBe(200)
    expect((await fetch(`${base}/export/notes`)).status).toBe(200)
  } finally {
    await close()
  }
  expect(() => salesforceRouter(fl, { express, maxPageRecords: 0 })).toThrow(/maxPageRecords/)
})

test('a failure after the first byte cuts the connection', async () => {
  const { base, close } = await app()
  await sim.seed({ contacts: 40000 })
  try {
    await sim.fault({ target: 'query', kind: 'slow', delayMs: 300, count: 1000 })
    const res = await fetch(`${base}/export/contacts`)
    expect(res.status).toBe(200)
    const reader = res.body.getReader()
    await reader.read()
    await sim.clearFaults()
    await sim.fault({ target: 'query', kind: '503', count: 1000 })
    let failed = false
    try {
      for (;;) {
        const { done } = await reader.read()
        if (done) break
      }
    } catch (_) {
      failed = true
    }
    expect(failed).toBe(true)
  } finally {
    await sim.seed({ contacts: 4500 })
    await close()
  }
})
