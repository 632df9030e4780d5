'use strict'
// Benchmark 3: the refresh storm. 500 exports start at once on a connection whose access token the
// simulator has just expired; every one gets 401 INVALID_SESSION_ID. Measured: how many token
// requests reach Salesforce (the simulator's counter) and the latency of the 500 (p50, p99, max).
//   forcelink  500 × exportPage({ page: 1, limit: 100 })   single-flight refresh in the core
//   jsforce    500 × conn.query(... LIMIT 100)              jsforce's SessionRefreshDelegate
//              (maxRequest raised from 10 so all 500 are in flight, as in the others)
//   incumbent  500 × exportData (page 1, limit 100)        refresh-and-retry per request
const { performance } = require('node:perf_hooks')
const peers = require('./lib/peers')
const { quantile } = require('./lib/stats')

const N = 500
const SOQL = 'SELECT Name, Account.Name, Title, Phone, Email, Owner.Alias FROM Contact ORDER BY Id LIMIT 100'

async function storm(one, n) {
  const lat = []
  let errors = 0
  let firstError = null
  await Promise.all(
    Array.from({ length: n }, async () => {
      const t = performance.now()
      try {
        const rows = await one()
        if (rows !== 100) throw new Error(`got ${rows} rows`)
      } catch (e) {
        errors++
        firstError = firstError || String(e.message || e)
      }
      lat.push(performance.now() - t)
    }),
  )
  return { lat, errors, firstError }
}

async function finish(ctx, r) {
  const counts = await ctx.ctl.counts()
  return {
    requests: N,
    errors: r.errors,
    firstError: r.firstError,
    tokenRequests: counts.token.refresh_token,
    restRequests: counts.rest,
    p50Ms: quantile(r.lat, 0.5),
    p99Ms: quantile(r.lat, 0.99),
    maxMs: Math.max(...r.lat),
  }
}

async function expire(ctx) {
  await ctx.ctl.expireAccessTokens()
  await ctx.ctl.resetCounts()
}

const contenders = {
  forcelink: {
    async setup(ctx) {
      const s = await peers.forcelink(ctx.sim)
      await s.fl.exportPage({ ...s.conn, type: 'contacts', page: 1, limit: 100 }) // warm: token cached, pool open
      return s
    },
    prepare: (s, ctx) => expire(ctx),
    async run({ fl, conn }, ctx) {
      const r = await storm(async () => (await fl.exportPage({ ...conn, type: 'contacts', page: 1, limit: 100 })).data.length, N)
      return finish(ctx, r)
    },
  },
  jsforce: {
    async setup(ctx) {
      const conn = await peers.jsforce(ctx.sim)
      await conn.query(SOQL)
      return conn
    },
    prepare: (s, ctx) => expire(ctx),
    async run(conn, ctx) {
      const r = await storm(async () => (await conn.query(SOQL)).records.length, N)
      return finish(ctx, r)
    },
  },
  incumbent: {
    async setup(ctx) {
      const s = await peers.incumbent(ctx.sim)
      await peers.invoke(s.inc.exportData, { params: { type: 'contacts' }, query: { page: '1', limit: '100' }, auth: s.auth })
      return s
    },
    prepare: (s, ctx) => expire(ctx),
    async run({ inc, auth }, ctx) {
      const r = await storm(
        async () => (await peers.invoke(inc.exportData, { params: { type: 'contacts' }, query: { page: '1', limit: '100' }, auth })).body.data.length,
        N,
      )
      return finish(ctx, r)
    },
  },
}

module.exports = { contenders, N }
