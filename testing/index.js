'use strict'
// `forcelink/testing`: a real fake Salesforce for the host's own test suites. Loaded only when a
// test imports it, so production imports of `forcelink` never pay for it.
//
// The simulator runs as a child process (a Rust binary shipped in the platform package): the
// host's test process stays free of its threads, and `close()` leaves nothing behind for Jest's
// --detectOpenHandles to report.
const fs = require('node:fs')
const path = require('node:path')
const { generateKeyPairSync, randomBytes, randomUUID } = require('node:crypto')
const { spawn } = require('node:child_process')
const readline = require('node:readline')
const { ForcelinkError } = require('..')

const EXE = process.platform === 'win32' ? '.exe' : ''
const SIM_NAME = `forcelink-sim${EXE}`
const DEFAULT_REDIRECT_URI = 'http://localhost:3000/forcelink/callback'
const START_TIMEOUT_MS = 30_000
const CONTROL_TIMEOUT_MS = 10_000

/** The package that ships the simulator executable (a devDependency of the host, issue 24). */
const SIM_PACKAGE = 'forcelink-simulator'

/** `forcelink-simulator`, resolved from this package and then from the host's own folder. */
function loadSimPackage() {
  for (const from of [__dirname, process.cwd()]) {
    let resolved
    try {
      resolved = require.resolve(SIM_PACKAGE, { paths: [from] })
    } catch (_) {
      continue // not reachable from there
    }
    return require(resolved)
  }
  return null
}

function simulatorMissing(platform, arch) {
  const err = new Error(
    `forcelink/testing needs the simulator package "${SIM_PACKAGE}", which is not installed: ` +
      `run "npm install --save-dev ${SIM_PACKAGE}" (it ships the ${platform}-${arch} simulator ` +
      `apart from forcelink), or set FORCELINK_SIM_BINARY to a simulator executable`,
  )
  err.code = 'FORCELINK_SIMULATOR_MISSING'
  return err
}

/** Where the simulator binary is: an override, the forcelink-simulator package, then a source checkout. */
function simulatorBinary() {
  if (process.env.FORCELINK_SIM_BINARY) return process.env.FORCELINK_SIM_BINARY
  const { platform, arch } = process
  const simPackage = loadSimPackage()
  let packageError = null
  if (simPackage) {
    try {
      return simPackage.binaryPath()
    } catch (e) {
      packageError = e // installed without this platform's executable: its error names that package
    }
  }
  // forcelink's own source checkout (its tests): the newest local build.
  const root = path.join(__dirname, '..')
  const builds = ['release', 'debug']
    .map((p) => path.join(root, 'target', p, SIM_NAME))
    .filter((f) => fs.existsSync(f))
    .sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs)
  if (builds[0]) return builds[0]
  throw packageError || simulatorMissing(platform, arch)
}

const TYPES = { contacts: 'Contact', deals: 'Opportunity', notes: 'Note' }

function faultKind({ status, errorCode, reset }) {
  if (reset || errorCode === 'reset') return 'reset'
  if (errorCode === 'REQUEST_LIMIT_EXCEEDED' || status === 403 || status === 429) return 'rate_limit'
  if (errorCode === 'INVALID_SESSION_ID' || status === 401) return 'invalid_session'
  if (errorCode === 'UNKNOWN_EXCEPTION' || status === 500) return 'unknown_exception'
  if (status === undefined || status === 503 || errorCode === 'SERVER_UNAVAILABLE') return '503'
  throw new TypeError(`fail(): unsupported status ${status} / errorCode ${errorCode} (503, 403 REQUEST_LIMIT_EXCEEDED, 401, 500, reset)`)
}

function controlApi(loginUrl, myDomainUrl, clientId, clientSecret) {
  const call = async (p, body, method) => {
    const res = await fetch(`${loginUrl}/__sim/${p}`, {
      method: method || (body === undefined ? 'GET' : 'POST'),
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(CONTROL_TIMEOUT_MS),
    })
    const text = await res.text()
    if (!res.ok) throw new Error(`simulator control ${p}: ${res.status} ${text}`)
    return text ? JSON.parse(text) : null
  }
  // records(): reads the org over its own REST API with a client-credentials token (counted).
  const restGet = async (token, url) => {
    const res = await fetch(url, { headers: { authorization: `Bearer ${token.access_token}` }, signal: AbortSignal.timeout(CONTROL_TIMEOUT_MS) })
    if (!res.ok) throw new Error(`simulator records: ${res.status} ${await res.text()}`)
    return res.json()
  }
  const serverToken = async () => {
    const body = new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret })
    const res = await fetch(`${myDomainUrl}/services/oauth2/token`, { method: 'POST', body, signal: AbortSignal.timeout(CONTROL_TIMEOUT_MS) })
    if (!res.ok) throw new Error(`simulator records: token ${res.status}`)
    return res.json()
  }
  return {
    /** Every access token dies now; the next call needs a refresh. */
    expireTokens: () => call('expire-access-tokens', {}),
    /** Every refresh token is revoked; the next refresh gets invalid_grant. */
    revokeRefreshTokens: () => call('revoke-refresh-tokens', {}),
    /** The next `count` requests to `target` (default every REST call) fail. */
    fail: (f = {}) => call('faults', { target: f.target || 'rest', kind: faultKind(f), count: f.count ?? 1 }),
    clearFailures: () => call('faults', undefined, 'DELETE'),
    setLatency: (ms) => call('config', { latencyMs: Number(ms) }),
    setConfig: (c) => call('config', c),
    /** Token requests by grant (`token.refresh_token`, …), REST calls, 401s (`invalidSession`), … */
    counts: () => call('counts'),
    resetCounts: () => call('counts/reset', {}),
    /** Moves the org's clock forward (token lifetimes: access TTL, refresh-token idle lifetime, JWT `exp`). */
    advanceClock: (ms) => {
      if (!Number.isInteger(ms) || ms < 0) throw new TypeError('advanceClock(ms): ms must be a non-negative integer')
      return call('clock', { advanceMs: ms })
    },
    /** The org's clock: `{ nowMs, offsetMs }`. */
    clock: () => call('clock'),
    /**
     * Every refresh grant is refused as Salesforce does for `reason` ('user_inactive',
     * 'org_inactive', 'ip_restricted', 'login_hours', 'app_blocked'); null clears it.
     */
    refuseRefresh: (reason) => call('refuse-refresh', { reason: reason ?? null }),
    /** Access tokens become RS256 JWTs with `exp` (key at `/id/keys`), or opaque again. */
    useJwtAccessTokens: async (on = true) => {
      if (!on) return call('config', { jwtAccessTokens: false })
      const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
      const accessTokenSigningKey = {
        privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }),
        publicJwk: publicKey.export({ format: 'jwk' }),
        kid: `sim-${randomUUID().slice(0, 8)}`,
      }
      return call('config', { jwtAccessTokens: true, accessTokenSigningKey })
    },
    /** Creates records of `type` (an export type or an sObject name) over the REST API: their Ids. */
    insert: async (type, records) => {
      const object = TYPES[type] || String(type)
      const token = await serverToken()
      const ids = []
      for (const fields of records) {
        if (fields === null || typeof fields !== 'object' || Array.isArray(fields)) throw new TypeError(`insert(${type}): each record must be an object of fields`)
        const res = await fetch(`${token.instance_url}/services/data/v62.0/sobjects/${object}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token.access_token}`, 'content-type': 'application/json' },
          body: JSON.stringify(fields),
          signal: AbortSignal.timeout(CONTROL_TIMEOUT_MS),
        })
        const text = await res.text()
        if (!res.ok) throw new Error(`simulator insert ${object}: ${res.status} ${text}`)
        ids.push(JSON.parse(text).id)
      }
      return ids
    },
    /** Every live record of `type` (an export type or an sObject name), all fields. */
    records: async (type) => {
      const object = TYPES[type] || String(type)
      const token = await serverToken()
      const base = `${token.instance_url}/services/data/v62.0`
      const describe = await restGet(token, `${base}/sobjects/${object}/describe`)
      const soql = `SELECT ${describe.fields.map((f) => f.name).join(', ')} FROM ${object}`
      let page = await restGet(token, `${base}/query?q=${encodeURIComponent(soql)}`)
      const out = page.records
      while (!page.done && page.nextRecordsUrl) {
        page = await restGet(token, token.instance_url + page.nextRecordsUrl)
        out.push(...page.records)
      }
      for (const r of out) delete r.attributes
      return out
    },
  }
}

/**
 * Starts the simulator on 127.0.0.1 (free ports). `options`: `contacts`, `deals`, `notes` (a count,
 * or an array of records' fields to seed exactly), `seed`,
 * `rotation`, `consent`, `latencyMs`, `clientId`, `clientSecret`, `redirectUri`, `pubsubTls` (serve the
 * Pub/Sub API over TLS under a throwaway CA, whose PEM path is `pubsubCaPath`; else plaintext HTTP/2).
 */
async function startSimulator(options = {}) {
  const clientId = options.clientId || `sim-client-${randomUUID()}`
  const clientSecret = options.clientSecret || randomBytes(24).toString('hex')
  const redirectUri = options.redirectUri || DEFAULT_REDIRECT_URI
  const args = ['--client-id', clientId, '--client-secret', clientSecret, '--redirect-uri', redirectUri]
  // A count seeds generated records; an array of field objects seeds exactly those (created over
  // the REST API once the simulator is up, on an org that starts without that type's records).
  const explicit = {}
  for (const k of ['contacts', 'deals', 'notes', 'seed']) {
    if (k !== 'seed' && Array.isArray(options[k])) {
      explicit[k] = options[k]
      args.push(`--${k}`, '0')
    } else if (options[k] !== undefined) {
      if (!Number.isInteger(options[k]) || options[k] < 0) throw new TypeError(`startSimulator: ${k} must be a non-negative integer`)
      args.push(`--${k}`, String(options[k]))
    }
  }
  if (options.rotation) args.push('--rotation')
  if (options.consent) args.push('--consent')
  if (options.pubsubTls) args.push('--pubsub-tls')

  const child = spawn(simulatorBinary(), args, { stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true })
  let stderr = ''
  child.stderr.on('data', (d) => {
    if (stderr.length < 8192) stderr += d
  })
  const exited = new Promise((resolve) => child.once('exit', resolve))
  let urls
  try {
    urls = await new Promise((resolve, reject) => {
      const rl = readline.createInterface({ input: child.stdout })
      const timer = setTimeout(() => reject(new Error('forcelink/testing: simulator did not start in time')), START_TIMEOUT_MS)
      rl.once('line', (l) => {
        clearTimeout(timer)
        rl.close()
        try {
          resolve(JSON.parse(l))
        } catch (e) {
          reject(e)
        }
      })
      child.once('exit', (code) => {
        clearTimeout(timer)
        reject(new Error(`forcelink/testing: simulator exited early (${code}): ${stderr.trim()}`))
      })
      child.once('error', (e) => {
        clearTimeout(timer)
        reject(e)
      })
    })
  } catch (e) {
    child.kill('SIGKILL')
    throw e
  }
  child.stdout.resume()
  const control = controlApi(urls.loginUrl, urls.myDomainUrl, clientId, clientSecret)
  try {
    for (const [type, records] of Object.entries(explicit)) await control.insert(type, records)
  } catch (e) {
    child.kill('SIGKILL')
    throw e
  }
  if (options.latencyMs) await control.setLatency(options.latencyMs)
  try {
    const cfg = {}
    if (options.refreshTokenIdleTtlMs !== undefined) cfg.refreshTokenIdleTtlMs = options.refreshTokenIdleTtlMs
    if (options.accessTokenTtlMs !== undefined) cfg.accessTokenTtlMs = options.accessTokenTtlMs
    if (Object.keys(cfg).length) await control.setConfig(cfg)
    if (options.jwtAccessTokens) await control.useJwtAccessTokens(true)
  } catch (e) {
    child.kill('SIGKILL')
    throw e
  }

  let closing = null
  return {
    loginUrl: urls.loginUrl,
    instanceUrl: urls.instanceUrl,
    myDomainUrl: urls.myDomainUrl,
    /** The Pub/Sub API (gRPC): `http://127.0.0.1:N` (plaintext HTTP/2), or `https://localhost:N` with `pubsubTls`. */
    pubsubUrl: urls.pubsubUrl,
    /** With `pubsubTls`: the throwaway CA's PEM file; else undefined. */
    pubsubCaPath: urls.pubsubCaPath || undefined,
    clientId,
    clientSecret,
    redirectUris: [redirectUri],
    /** A Forcelink config for this simulator (add `stateSecret` of your own or keep this random one). */
    forcelinkConfig: (extra = {}) => ({
      clientId,
      clientSecret,
      redirectUri,
      loginUrl: urls.loginUrl,
      stateSecret: randomBytes(32).toString('hex'),
      storePath: ':memory:',
      ...extra,
    }),
    control,
    /** Stops the simulator; resolves once its process is gone. */
    close() {
      if (!closing) {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
        closing = exited.then(() => {
          child.stdout.destroy()
          child.stderr.destroy()
        })
      }
      return closing
    },
  }
}

/**
 * The connect flow a user goes through, headless: beginLogin → authorize (consent answered
 * "Allow") → handleCallback with the browser binding. Resolves when the connection is stored.
 */
async function connectForTest(forcelink, { accountId, ownerId, forwardUrl = '/' } = {}) {
  const start = await forcelink.beginLogin({ accountId, ownerId, forwardUrl })
  if (start.alreadyConnected) return start
  const res = await fetch(`${start.redirectUrl}&sim_action=allow`, { redirect: 'manual', signal: AbortSignal.timeout(CONTROL_TIMEOUT_MS) })
  if (res.status !== 302) throw new Error(`connectForTest: authorize answered ${res.status}`)
  await res.arrayBuffer()
  const q = new URL(res.headers.get('location')).searchParams
  return forcelink.handleCallback({
    code: q.get('code') ?? undefined,
    state: q.get('state') ?? undefined,
    error: q.get('error') ?? undefined,
    errorDescription: q.get('error_description') ?? undefined,
    binding: start.binding,
    accountId,
    ownerId,
  })
}

const STATUS = {
  CONFIG_INVALID: 500,
  INVALID_INPUT: 400,
  FORWARD_URL_REQUIRED: 400,
  FORWARD_URL_NOT_ALLOWED: 400,
  AUTH_NOT_INITIATED: 400,
  INVALID_STATE: 400,
  TOKEN_NOT_FOUND: 404,
  RECONNECT_REQUIRED: 401,
  STORE_ERROR: 500,
  INVALID_TYPE: 400,
  OAUTH_ERROR: 502,
  SALESFORCE_ERROR: 502,
  RATE_LIMITED: 429,
  SALESFORCE_UNAVAILABLE: 503,
  CANCELLED: 499,
  FULL_RESYNC_REQUIRED: 409,
  CLOSED: 503,
  UNSUPPORTED: 501,
  INTERNAL: 500,
}

/** A `ForcelinkError` shaped as forcelink would throw it, for hosts that stub forcelink. */
function forcelinkError(code, overrides = {}) {
  if (!(code in STATUS)) throw new TypeError(`forcelinkError: unknown code ${code}`)
  const { cause, ...rest } = overrides
  const info = { code, status: STATUS[code], message: `${code.toLowerCase().replace(/_/g, ' ')}`, ...rest }
  return new ForcelinkError(info, cause === undefined ? undefined : { cause })
}

/**
 * A complete TokenStore (contract v2: versioned saves, leases, nonces) in memory, for tests.
 * One process only; leases use this process's clock.
 */
class MemoryStore {
  #docs = new Map()
  #leases = new Map()
  #nonces = new Map()
  static #key = (a, o) => `${a}\u0000${o}`

  async find(accountId, ownerId) {
    const d = this.#docs.get(MemoryStore.#key(accountId, ownerId))
    return d ? structuredClone(d) : null
  }

  async save(record, options) {
    const key = MemoryStore.#key(record.account_id, record.owner)
    if (options && options.expectedVersion !== undefined) {
      const cur = this.#docs.get(key)
      if (!cur || (cur.version ?? 0) !== options.expectedVersion) return false
    }
    this.#docs.set(key, structuredClone(record))
    return true
  }

  async delete(accountId, ownerId) {
    return this.#docs.delete(MemoryStore.#key(accountId, ownerId))
  }

  /** keepAlive's listing: live connections granted before `refreshedBefore`, in key order. */
  async listConnections({ refreshedBefore, after, limit }) {
    const n = Math.max(1, Number(limit) || 500)
    const [a, o] = Array.isArray(after) ? after : ['', '']
    const live = [...this.#docs.values()]
      .filter((d) => d.token_invalidated !== true && d.token && d.token.refresh_token)
      .filter((d) => !(typeof d.refreshed_at === 'number' && d.refreshed_at >= refreshedBefore))
      .filter((d) => d.account_id > a || (d.account_id === a && d.owner > o))
      .sort((x, y) => (x.account_id < y.account_id ? -1 : x.account_id > y.account_id ? 1 : x.owner < y.owner ? -1 : x.owner > y.owner ? 1 : 0))
    const page = live.slice(0, n)
    const last = page[page.length - 1]
    return {
      connections: page.map((d) => ({ accountId: d.account_id, ownerId: d.owner })),
      next: live.length > n && last ? [last.account_id, last.owner] : null,
    }
  }

  async acquireLease(accountId, ownerId, ttlMs) {
    const key = MemoryStore.#key(accountId, ownerId)
    const now = Date.now()
    const cur = this.#leases.get(key)
    if (cur && cur.until > now) return null
    const token = randomUUID()
    this.#leases.set(key, { token, until: now + ttlMs })
    return token
  }

  async renewLease(accountId, ownerId, leaseToken, ttlMs) {
    const cur = this.#leases.get(MemoryStore.#key(accountId, ownerId))
    const now = Date.now()
    if (!cur || cur.token !== leaseToken || cur.until <= now) return false
    cur.until = now + ttlMs
    return true
  }

  async releaseLease(accountId, ownerId, leaseToken) {
    const key = MemoryStore.#key(accountId, ownerId)
    const cur = this.#leases.get(key)
    if (cur && cur.token === leaseToken) this.#leases.delete(key)
  }

  async consumeNonce(nonce, expiresAtMs) {
    const now = Date.now()
    for (const [n, exp] of this.#nonces) if (exp <= now) this.#nonces.delete(n)
    if (this.#nonces.has(nonce)) return false
    this.#nonces.set(nonce, expiresAtMs)
    return true
  }

  /** Test helpers: how many connections are stored, and a copy of them. */
  get size() {
    return this.#docs.size
  }
  records() {
    return [...this.#docs.values()].map((d) => structuredClone(d))
  }
}

module.exports = { startSimulator, connectForTest, forcelinkError, MemoryStore, simulatorBinary }
