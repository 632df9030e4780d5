'use strict'
// Connecting each contender to the simulator the way a host would: forcelink through its own OAuth
// flow (beginLogin → authorize → handleCallback), jsforce through OAuth2 + Connection#authorize, the
// incumbent through its own getLogin/callback handlers. Each benchmark child process connects on
// its own, outside the measured section.
const path = require('node:path')
const { authorize, CLIENT_ID, CLIENT_SECRET, STATE_SECRET, REDIRECT_URI } = require('./sim')

const ROOT = path.join(__dirname, '..', '..')
const ACCOUNT = 'acc-bench'
const OWNER = 'user-bench'
const FORWARD = 'https://app.example.com/integrations'

/**
 * Loads forcelink (the package at the repo root) with the native module the runner built for the
 * benchmarks. The loader reads NAPI_RS_NATIVE_LIBRARY_PATH; it is set only while forcelink loads,
 * because every napi-rs package reads that variable (@node-rs/jsonwebtoken would load forcelink's).
 */
function loadForcelink() {
  const native = process.env.FORCELINK_BENCH_NATIVE
  if (native) process.env.NAPI_RS_NATIVE_LIBRARY_PATH = native
  try {
    return { ...require(ROOT), native: require(path.join(ROOT, 'binding.js')) }
  } finally {
    delete process.env.NAPI_RS_NATIVE_LIBRARY_PATH
  }
}

/** A TokenStore over a Map (the host's database, at no cost). */
class MapStore {
  constructor() {
    this.docs = new Map()
  }
  key(a, o) {
    return `${a}\u0000${o}`
  }
  async find(a, o) {
    const d = this.docs.get(this.key(a, o))
    return d ? structuredClone(d) : null
  }
  async save(rec) {
    this.docs.set(this.key(rec.account_id, rec.owner), structuredClone(rec))
  }
  async delete(a, o) {
    return this.docs.delete(this.key(a, o))
  }
}

function forcelinkConfig(sim, extra = {}) {
  return {
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    redirectUri: REDIRECT_URI,
    stateSecret: STATE_SECRET,
    loginUrl: sim.loginUrl,
    allowedForwardOrigins: ['https://app.example.com'],
    httpTimeoutMs: 60000,
    ...extra,
  }
}

async function forcelink(sim, extra = {}) {
  const { Forcelink } = loadForcelink()
  const store = extra.store || new MapStore()
  const fl = new Forcelink(forcelinkConfig(sim, { ...extra, store }))
  const conn = { accountId: ACCOUNT, ownerId: OWNER }
  const start = await fl.beginLogin({ ...conn, forwardUrl: FORWARD })
  if (!start.alreadyConnected) {
    const q = await authorize(start.redirectUrl)
    const done = await fl.handleCallback({ code: q.code, state: q.state, error: q.error, errorDescription: q.error_description, binding: start.binding })
    if (!done.redirectUrl.includes('status=success')) throw new Error(`forcelink connect failed: ${done.redirectUrl}`)
  }
  return { fl, conn, store }
}

async function jsforce(sim) {
  const jsf = require('jsforce')
  const oauth2 = new jsf.OAuth2({ loginUrl: sim.loginUrl, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUri: REDIRECT_URI })
  const q = await authorize(oauth2.getAuthorizationUrl({ scope: 'api id web refresh_token' }))
  const conn = new jsf.Connection({ oauth2, version: '62.0', maxRequest: 10000 })
  await conn.authorize(q.code)
  return conn
}

/** Calls an Express-style handler in-process: resolves with what it answered, rejects on next(err). */
function invoke(handler, { query = {}, params = {}, auth } = {}) {
  return new Promise((resolve, reject) => {
    const res = {
      statusCode: 200,
      status(c) {
        this.statusCode = c
        return this
      },
      json(body) {
        resolve({ status: this.statusCode, body })
        return this
      },
      redirect(a, b) {
        const location = b === undefined ? a : b
        resolve({ status: typeof a === 'number' ? a : 302, location })
        return this
      },
    }
    Promise.resolve(handler({ query, params, auth }, res, (err) => reject(err || new Error('next() without error')))).catch(reject)
  })
}

async function incumbent(sim) {
  const { createIncumbent, envFor } = require('../incumbent')
  const inc = createIncumbent(
    envFor({ loginUrl: sim.loginUrl, instanceUrl: sim.instanceUrl, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUri: REDIRECT_URI, appSecret: STATE_SECRET }),
  )
  const auth = { account_id: ACCOUNT, uid: OWNER }
  const login = await invoke(inc.getLogin, { query: { forward_url: FORWARD }, auth })
  const q = await authorize(login.location)
  const cb = await invoke(inc.callback, { query: q })
  if (!cb.location.includes('status=success')) throw new Error(`incumbent connect failed: ${cb.location}`)
  return { inc, auth }
}

/** A bare OAuth connection with fetch (for the floor, which must load nothing else). */
async function raw(sim) {
  const u = new URL(`${sim.loginUrl}/services/oauth2/authorize`)
  u.search = new URLSearchParams({ response_type: 'code', client_id: CLIENT_ID, redirect_uri: REDIRECT_URI, scope: 'api refresh_token' })
  const q = await authorize(u.href)
  const res = await fetch(`${sim.loginUrl}/services/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'authorization_code', code: q.code, client_id: CLIENT_ID, client_secret: CLIENT_SECRET, redirect_uri: REDIRECT_URI }),
  })
  if (!res.ok) throw new Error(`token: ${res.status} ${await res.text()}`)
  return res.json()
}

module.exports = { loadForcelink, raw, forcelink, forcelinkConfig, jsforce, incumbent, invoke, MapStore, ACCOUNT, OWNER, FORWARD, ROOT }
