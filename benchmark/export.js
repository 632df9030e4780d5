'use strict'
// Benchmark 1 (and 5, the memory run, with 1,000,000 records): a full export of every contact.
//
// Every contender reads the same records in batches of 2,000 and only counts them (and touches one
// field of the last record, so nothing can be optimised away): what differs is how the bytes become
// records in the host process.
//   forcelink         exportAll: REST query + queryMore in Rust, each batch handed to JS as JSON text
//   forcelink-noattrs exportAll({ attributes: false }): the same, Salesforce's `attributes` dropped in Rust
//   forcelink-serial  exportAll({ parallelism: 1 }): one nextRecordsUrl chain
//   forcelink-ndjson  exportStream({format:'ndjson'}): download bytes written in Rust, no JS objects
//   forcelink-csv     exportStream({format:'csv'})
//   forcelink-ndjson-gc  (memory run only) NDJSON with global.gc() every 5 batches: a diagnostic
//   jsforce           conn.query + conn.queryMore (jsforce 3, node-fetch)
//   incumbent         the incumbent controller's exportData, page after page (LIMIT 2000 OFFSET n,
//                     plus its COUNT per page) until Salesforce refuses the OFFSET
//   floor             undici fetch (Node's global fetch) + JSON.parse of the same pages, nothing else
const peers = require('./lib/peers')

const TYPE = 'contacts'
const SOQL = 'SELECT Name, Account.Name, Title, Phone, Email, Owner.Alias FROM Contact ORDER BY Id'
const API = 'v62.0'

let sink = 0 // keeps the touched fields alive
const touch = (rec) => {
  if (rec && typeof rec.Name === 'string') sink += rec.Name.length
}

function check(ctx, n) {
  const want = ctx.opts.expected
  if (want !== undefined && n !== want) throw new Error(`exported ${n} records, expected ${want}`)
}

const forcelinkStream = (format, gcEvery = 0) => ({
  setup: (ctx) => peers.forcelink(ctx.sim),
  async run({ fl, conn }, ctx) {
    let bytes = 0
    let fetched = 0
    let chunks = 0
    let ext = 0 // the most memory held outside the V8 heap (Buffers included), seen after each chunk
    const stream = fl.exportStream({ ...conn, type: TYPE, format, onProgress: (p) => (fetched = p.fetched) })
    for await (const chunk of stream) {
      bytes += chunk.length
      if (gcEvery && ++chunks % gcEvery === 0) global.gc()
      const m = process.memoryUsage()
      if (m.external > ext) ext = m.external
    }
    check(ctx, fetched)
    return { records: fetched, bytes, maxExternalMB: ext / (1024 * 1024) }
  },
})

const forcelinkAll = (opts) => ({
  setup: (ctx) => peers.forcelink(ctx.sim),
  async run({ fl, conn }, ctx) {
    let n = 0
    for await (const batch of fl.exportAll({ ...conn, type: TYPE, ...opts })) {
      n += batch.length
      touch(batch[batch.length - 1])
    }
    check(ctx, n)
    return { records: n, sink }
  },
})

const contenders = {
  forcelink: forcelinkAll({}),
  // Issue 21: records without Salesforce's `attributes` (dropped in Rust), and the single chain.
  'forcelink-noattrs': forcelinkAll({ attributes: false }),
  'forcelink-serial': forcelinkAll({ parallelism: 1 }),
  'forcelink-ndjson': forcelinkStream('ndjson'),
  'forcelink-csv': forcelinkStream('csv'),
  // Diagnostic for the memory run: the same NDJSON stream with a full GC every 5 batches (needs
  // --expose-gc), to tell retained memory from Buffers that are garbage but not yet collected.
  'forcelink-ndjson-gc': forcelinkStream('ndjson', 5),

  jsforce: {
    setup: (ctx) => peers.jsforce(ctx.sim),
    async run(conn, ctx) {
      let res = await conn.query(SOQL, { autoFetch: false })
      let n = res.records.length
      touch(res.records[res.records.length - 1])
      while (!res.done && res.nextRecordsUrl) {
        res = await conn.queryMore(res.nextRecordsUrl)
        n += res.records.length
        touch(res.records[res.records.length - 1])
      }
      check(ctx, n)
      return { records: n, sink }
    },
  },

  incumbent: {
    setup: (ctx) => peers.incumbent(ctx.sim),
    async run({ inc, auth }) {
      const limit = 2000
      let n = 0
      let page = 1
      let stop = null
      for (;;) {
        let r
        try {
          r = await peers.invoke(inc.exportData, { params: { type: TYPE }, query: { page: String(page), limit: String(limit) }, auth })
        } catch (e) {
          const body = e.response && e.response.data
          stop = { page, offset: (page - 1) * limit, status: e.response ? e.response.status : null, error: (Array.isArray(body) && body[0] && body[0].errorCode) || String(e.message) }
          break
        }
        n += r.body.data.length
        touch(r.body.data[r.body.data.length - 1])
        if (!r.body.pagination.next_page) break
        page = r.body.pagination.next_page
      }
      return { records: n, pages: page - (stop ? 1 : 0), stoppedAt: stop, sink }
    },
  },

  floor: {
    setup: (ctx) => peers.raw(ctx.sim),
    async run(tok, ctx) {
      const headers = { authorization: `Bearer ${tok.access_token}`, 'sforce-query-options': 'batchSize=2000' }
      let url = `${tok.instance_url}/services/data/${API}/query?q=${encodeURIComponent(SOQL)}`
      let n = 0
      for (;;) {
        const res = await fetch(url, { headers })
        if (!res.ok) throw new Error(`floor: ${res.status} ${await res.text()}`)
        const page = JSON.parse(await res.text())
        n += page.records.length
        touch(page.records[page.records.length - 1])
        if (page.done || !page.nextRecordsUrl) break
        url = tok.instance_url + page.nextRecordsUrl
      }
      check(ctx, n)
      return { records: n, sink }
    },
  },
}

module.exports = { contenders }
