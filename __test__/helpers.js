'use strict'
// Test plumbing: start the real simulator process on 127.0.0.1, drive its control endpoints, and
// walk the browser side of the OAuth flow with plain HTTP.
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { simBinary } = require('../sim/build')
const { spawnSim, authorize } = require('../sim/client')

const CLIENT_ID = 'test-client-id'
const CLIENT_SECRET = 'test-client-secret-value-0123456789'
const STATE_SECRET = 'test-state-secret-0123456789abcdef-XYZ'
const REDIRECT_URI = 'http://localhost:3999/v1/integrations/salesforce/auth/callback'

function startSim(args = []) {
  return spawnSim(simBinary(), ['--client-id', CLIENT_ID, '--client-secret', CLIENT_SECRET, '--redirect-uri', REDIRECT_URI, ...args])
}

function tmpDb(name) {
  return path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'forcelink-')), `${name}.db`)
}

function baseConfig(sim, extra = {}) {
  return {
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    redirectUri: REDIRECT_URI,
    stateSecret: STATE_SECRET,
    loginUrl: sim.loginUrl,
    allowedForwardOrigins: ['https://app.example.com'],
    httpTimeoutMs: 5000,
    ...extra,
  }
}

/** A TokenStore over a Map, recording calls, optionally failing. */
class MapStore {
  constructor() {
    this.docs = new Map()
    this.calls = []
    this.failOn = null
  }
  key(a, o) {
    return `${a}\u0000${o}`
  }
  check(op) {
    this.calls.push(op)
    if (this.failOn === op) throw new Error(`db down during ${op}`)
  }
  async find(a, o) {
    this.check('find')
    const d = this.docs.get(this.key(a, o))
    return d ? structuredClone(d) : null
  }
  async save(rec) {
    this.check('save')
    this.docs.set(this.key(rec.account_id, rec.owner), structuredClone(rec))
    return true
  }
  async delete(a, o) {
    this.check('delete')
    return this.docs.delete(this.key(a, o))
  }
}

/** The whole connect journey for one user. */
async function connect(fl, accountId = 'acc-1', ownerId = 'user-1', forwardUrl = 'https://app.example.com/integrations') {
  const start = await fl.beginLogin({ accountId, ownerId, forwardUrl })
  if (start.alreadyConnected) return start
  const q = await authorize(start.redirectUrl)
  return fl.handleCallback({ code: q.code, state: q.state, error: q.error, errorDescription: q.error_description, binding: start.binding })
}

/**
 * One browser's cookies, enough for the connect flow: `take(res)` keeps what `Set-Cookie` sets
 * (Max-Age=0 deletes), `header(path)` is the `Cookie` header a browser would send to that path.
 */
class CookieJar {
  constructor() {
    this.cookies = new Map()
  }
  take(res) {
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';').map((x) => x.trim())
      const i = pair.indexOf('=')
      const name = pair.slice(0, i)
      const a = Object.fromEntries(attrs.map((x) => { const [k, v = ''] = x.split('='); return [k.toLowerCase(), v] }))
      const key = `${name}\u0000${a.path || '/'}`
      if (a['max-age'] === '0') this.cookies.delete(key)
      else this.cookies.set(key, { name, value: pair.slice(i + 1), path: a.path || '/' })
    }
    return res
  }
  header(path) {
    const out = []
    for (const c of this.cookies.values()) if (path === c.path || path.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`)) out.push(`${c.name}=${c.value}`)
    return out.join('; ')
  }
}

/** A REST call to the simulator's data API as a Salesforce client makes it (bearer token, JSON):
 * expects a 2xx and returns the body (null for 204). */
async function simRest(instanceUrl, token, method, path, body) {
  const res = await fetch(`${instanceUrl}/services/data/v62.0${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body && JSON.stringify(body),
  })
  expect(res.status).toBeLessThan(300)
  return res.status === 204 ? null : res.json()
}

module.exports = { simRest, startSim, tmpDb, baseConfig, MapStore, CookieJar, authorize, connect, CLIENT_ID, CLIENT_SECRET, STATE_SECRET, REDIRECT_URI }
