'use strict'
// Benchmark 2: the page endpoint under load. Each contender is an Express app of the same shape
// (`/v1/integrations/salesforce`, an auth middleware setting req.auth, the export route) in its own
// process; the runner drives it with autocannon (50 connections) on
// GET /export/contacts?page=N&limit=100, N cycling 1..20 (all within OFFSET 2,000, so the incumbent
// answers them too).
const express = require('express')
const peers = require('./lib/peers')

const BASE = '/v1/integrations/salesforce'

function listen(app) {
  return new Promise((resolve) => {
    const server = app.listen(0, '127.0.0.1', () => resolve({ port: server.address().port, server }))
    server.keepAliveTimeout = 60000
  })
}

function authFor(account_id, uid) {
  return (req, res, next) => {
    req.auth = { account_id, uid }
    next()
  }
}

const contenders = {
  forcelink: {
    setup: (ctx) => peers.forcelink(ctx.sim),
    async serve({ fl }) {
      peers.loadForcelink()
      const { salesforceRouter } = require(`${peers.ROOT}/express.js`)
      const app = express()
      app.use(BASE, authFor(peers.ACCOUNT, peers.OWNER), salesforceRouter(fl, { express }))
      return listen(app)
    },
  },
  incumbent: {
    setup: (ctx) => peers.incumbent(ctx.sim),
    async serve({ inc }) {
      const { incumbentRouter } = require('./incumbent')
      const app = express()
      app.use(BASE, authFor(peers.ACCOUNT, peers.OWNER), incumbentRouter(express, inc))
      // The host's error middleware (Salesforce errors surface here, as in production).
      app.use((err, req, res, next) => res.status(500).json({ success: false, message: err.message })) // eslint-disable-line no-unused-vars
      return listen(app)
    },
  },
}

/** The request paths autocannon cycles through. */
const paths = (n = 20, limit = 100) => Array.from({ length: n }, (_, i) => `${BASE}/export/contacts?page=${i + 1}&limit=${limit}`)

module.exports = { contenders, paths, BASE }
