'use strict'
// Benchmark 6: the price of the JS ↔ Rust boundary, so hosts know it.
//   sync call       NativeForcelink#limitInfo() (returns a short string), the public limitInfo()
//                   (+ JSON.parse), and the exported paginate(); a plain JS function call for scale
//   async call      NativeForcelink#getAccessToken() on a connected user whose token is cached in
//                   Rust (no store call, no network): JS → tokio → promise resolved on the JS thread
//   store callback  beginLogin for a connected user with a JS TokenStore: JS → Rust → store.find
//                   (JS, async) → promise → Rust → JS; beside it the same call on the embedded
//                   SQLite store (no JS callback). Sequential latency and throughput (256 in flight).
//   batch boundary  (issue 3) a 2,000-record batch from the simulator through BoundaryProbe: JSON
//                   text + JSON.parse (what forcelink does), a Buffer + JSON.parse, objects built
//                   through napi, the same text ASCII-escaped (non-ASCII as \uXXXX), and that
//                   text without the `attributes` objects.
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { performance } = require('node:perf_hooks')
const peers = require('./lib/peers')
const { median } = require('./lib/stats')
const { authorize } = require('./lib/sim')

/** ns per call of a sync op: median of 7 timed batches. */
function nsPerOp(op, batch = 20000) {
  for (let i = 0; i < batch; i++) op()
  const xs = []
  for (let r = 0; r < 7; r++) {
    const t = process.hrtime.bigint()
    for (let i = 0; i < batch; i++) op()
    xs.push(Number(process.hrtime.bigint() - t) / batch)
  }
  return median(xs)
}

/** Sequential latency (µs, median of 7 batches) and throughput with `inflight` concurrent calls. */
async function asyncCost(op, { seq = 2000, inflight = 256, total = 20000 } = {}) {
  for (let i = 0; i < 500; i++) await op()
  const xs = []
  for (let r = 0; r < 7; r++) {
    const t = performance.now()
    for (let i = 0; i < seq / 7; i++) await op()
    xs.push(((performance.now() - t) * 1000) / Math.floor(seq / 7))
  }
  let left = total
  const t0 = performance.now()
  await Promise.all(
    Array.from({ length: inflight }, async () => {
      while (left-- > 0) await op()
    }),
  )
  const s = (performance.now() - t0) / 1000
  return { seqUs: median(xs), perSec: total / s, concurrentUs: (s * 1e6) / total }
}

/** ms per op for heavy ops: median of n. */
function msPerOp(op, n = 40) {
  for (let i = 0; i < 5; i++) op()
  const xs = []
  for (let i = 0; i < n; i++) {
    const t = performance.now()
    op()
    xs.push(performance.now() - t)
  }
  return median(xs)
}

/** The records without Salesforce's `attributes` objects (the record's and its parents'). */
const withoutAttributes = (records) =>
  JSON.stringify(records, (k, v) => (k === 'attributes' ? undefined : v))

const asciiEscape = (s) => s.replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)

const contenders = {
  boundary: {
    async setup(ctx) {
      const { Forcelink, native } = peers.loadForcelink()
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'forcelink-bench-'))
      const raw = new native.NativeForcelink(JSON.stringify(peers.forcelinkConfig(ctx.sim, { storePath: path.join(dir, 'raw.db') })))
      // The raw binding, connected through the simulator, so getAccessToken has a cached token.
      const rawConn = { accountId: peers.ACCOUNT, ownerId: peers.OWNER }
      // The binding's typed arguments (binding.d.ts).
      const start = await raw.beginLogin({ conn: rawConn, forwardUrl: peers.FORWARD })
      const q = await authorize(start.redirectUrl)
      await raw.handleCallback({ code: q.code, state: q.state, binding: start.binding })
      const tokenArgs = { conn: rawConn, forceRefresh: false }
      await raw.getAccessToken(tokenArgs)
      // A connected user in a JS store (no network needed: beginLogin only reads the record).
      const store = new peers.MapStore()
      await store.save({ account_id: peers.ACCOUNT, owner: peers.OWNER, token: { access_token: 'x', refresh_token: 'y', instance_url: ctx.sim.instanceUrl } })
      const flJs = new Forcelink(peers.forcelinkConfig(ctx.sim, { store }))
      // The same on the embedded SQLite store (connected through the simulator).
      const sq = await peers.forcelink(ctx.sim, { store: undefined, storePath: path.join(dir, 'store.db') })
      // One 2,000-record batch as the simulator sends it.
      const tok = await peers.raw(ctx.sim)
      const soql = 'SELECT Name, Account.Name, Title, Phone, Email, Owner.Alias FROM Contact ORDER BY Id'
      const res = await fetch(`${tok.instance_url}/services/data/v62.0/query?q=${encodeURIComponent(soql)}`, { headers: { authorization: `Bearer ${tok.access_token}` } })
      const page = JSON.parse(await res.text())
      const recordsJson = JSON.stringify(page.records)
      return { native, raw, tokenArgs, flJs, flSq: sq.fl, recordsJson, bare: asciiEscape(withoutAttributes(page.records)), n: page.records.length, dir }
    },
    async run(s) {
      const conn = { accountId: peers.ACCOUNT, ownerId: peers.OWNER, forwardUrl: peers.FORWARD }
      const noop = (x) => x
      const out = {}
      out.jsCallNs = nsPerOp(() => noop(1))
      out.syncRawNs = nsPerOp(() => s.raw.limitInfo())
      out.syncPublicNs = nsPerOp(() => s.flJs.limitInfo())
      out.syncPaginateNs = nsPerOp(() => s.native.paginate(1500, '3', '100'))
      out.asyncCall = await asyncCost(() => s.raw.getAccessToken(s.tokenArgs))
      out.storeJs = await asyncCost(() => s.flJs.beginLogin(conn))
      out.storeSqlite = await asyncCost(() => s.flSq.beginLogin(conn))
      // Batch boundary.
      const { BoundaryProbe } = s.native
      const text = s.recordsJson
      const probe = new BoundaryProbe(text)
      const ascii = new BoundaryProbe(asciiEscape(text))
      const bare = new BoundaryProbe(s.bare)
      out.batch = {
        records: s.n,
        bytes: Buffer.byteLength(text),
        nonAsciiChars: (text.match(/[\u0080-\uffff]/g) || []).length,
        jsParseMs: msPerOp(() => JSON.parse(text)),
        stringParseMs: msPerOp(() => JSON.parse(probe.asString())),
        stringOnlyMs: msPerOp(() => probe.asString()),
        bufferParseMs: msPerOp(() => JSON.parse(probe.asBuffer().toString())),
        objectsMs: msPerOp(() => probe.asObjects(), 20),
        asciiStringParseMs: msPerOp(() => JSON.parse(ascii.asString())),
        asciiStringOnlyMs: msPerOp(() => ascii.asString()),
        bareBytes: Buffer.byteLength(s.bare),
        bareAsciiStringParseMs: msPerOp(() => JSON.parse(bare.asString())),
      }
      return out
    },
    teardown(s) {
      fs.rmSync(s.dir, { recursive: true, force: true })
    },
  },
}

module.exports = { contenders }
