'use strict'
// Issue 19: a rotated refresh token is never presented twice. Every case runs against the
// simulator with rotation on (a rotated-out token's reuse revokes the whole family) and asserts
// the simulator saw zero reuses.
const http = require('node:http')
const { Forcelink } = require('..')
const { startSim, tmpDb, baseConfig, MapStore, connect } = require('./helpers')

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
let sim
let n = 0
const nextConn = () => ({ accountId: `ls-${++n}`, ownerId: `u-${n}` })

beforeAll(async () => {
  sim = await startSim()
})
afterAll(() => sim.stop())
beforeEach(() => sim.setConfig({ rotation: true, tokenDelayMs: 0 }))
afterEach(async () => {
  await sim.clearFaults()
  await sim.setConfig({ rotation: false, tokenDelayMs: 0 })
})

const reuses = async () => (await sim.control('reuses')).count
const key = (c) => `${c.accountId}\u0000${c.ownerId}`

/** The v2 contract over a Map shared by several Forcelink instances ("processes"). */
class SharedStore extends MapStore {
  constructor(shared) {
    super()
    if (shared) {
      this.docs = shared.docs
      this.leases = shared.leases
    } else this.leases = new Map()
    this.failSaveOnce = false
    this.renewAnswer = null
    this.renewDelayMs = 0
  }
  async save(rec, opts) {
    this.check('save')
    if (this.failSaveOnce && opts) {
      this.failSaveOnce = false
      throw new Error('failover in progress')
    }
    const k = this.key(rec.account_id, rec.owner)
    if (opts && opts.expectedVersion !== undefined) {
      const cur = this.docs.get(k)
      if (!cur || Number(cur.version || 0) !== Number(opts.expectedVersion)) return false
    }
    this.docs.set(k, structuredClone(rec))
    return true
  }
  async acquireLease(a, o, ttlMs) {
    const k = this.key(a, o)
    const l = this.leases.get(k)
    if (l && l.exp > Date.now()) return null
    const token = `lease-${Math.random()}`
    this.leases.set(k, { token, exp: Date.now() + ttlMs })
    return token
  }
  async renewLease(a, o, token, ttlMs) {
    if (this.renewDelayMs) await sleep(this.renewDelayMs)
    if (this.renewAnswer !== null) return this.renewAnswer
    const l = this.leases.get(this.key(a, o))
    if (!l || l.token !== token || l.exp <= Date.now()) return false
    l.exp = Date.now() + ttlMs
    return true
  }
  async releaseLease(a, o, token) {
    const k = this.key(a, o)
    if (this.leases.get(k)?.token === token) this.leases.delete(k)
  }
}

async function connected(store, extra = {}) {
  const c = nextConn()
  const fl = new Forcelink(baseConfig(sim, { storePath: tmpDb('lease'), ...extra, store: store || undefined }))
  await connect(fl, c.accountId, c.ownerId)
  return { fl, c }
}

test('1a. close() during an export refresh saves the rotated token first (SQLite)', async () => {
  const before = await reuses()
  const storePath = tmpDb('close')
  const { fl, c } = await connected(null, { storePath })
  await sim.expireAccessTokens()
  await sim.setConfig({ tokenDelayMs: 800 })
  const it = fl.exportAll({ ...c, type: 'contacts' })
  const first = it.next().catch((e) => e)
  await sleep(300)
  await fl.close()
  await first
  await sim.setConfig({ tokenDelayMs: 0 })
  const next = new Forcelink(baseConfig(sim, { storePath }))
  await next.getAccessToken({ ...c, forceRefresh: true })
  await next.close()
  expect(await reuses()).toBe(before)
})

test('1b. close() during a refresh on a JS store waits for it and its save', async () => {
  const before = await reuses()
  const store = new SharedStore()
  const { fl, c } = await connected(store)
  await sim.setConfig({ tokenDelayMs: 800 })
  const refresh = fl.getAccessToken({ ...c, forceRefresh: true, signal: AbortSignal.timeout(100) }).catch((e) => e)
  await sleep(300)
  await fl.close()
  await refresh
  await sim.setConfig({ tokenDelayMs: 0 })
  const next = new Forcelink(baseConfig(sim, { storePath: tmpDb('x'), store }))
  await next.getAccessToken({ ...c, forceRefresh: true })
  expect(await reuses()).toBe(before)
})

test('1c. a token close() could not save is reported: storeError per connection, rejected close()', async () => {
  const store = new SharedStore()
  const { fl, c } = await connected(store, { closeTimeoutMs: 300 })
  store.failOn = 'save'
  const events = []
  fl.on('storeError', (e) => events.push(e))
  await fl.getAccessToken({ ...c, forceRefresh: true })
  const err = await fl.close().catch((e) => e)
  expect(err).toMatchObject({ code: 'STORE_ERROR', connections: [{ accountId: c.accountId, ownerId: c.ownerId }] })
  expect(err.message).toContain(c.accountId)
  for (let i = 0; i < 50 && !events.some((e) => e.op === 'close'); i++) await sleep(20)
  expect(events.some((e) => e.op === 'close' && e.connection?.accountId === c.accountId)).toBe(true)
  expect(JSON.stringify(err) + err.message).not.toMatch(/refresh_token|access_token/)
})

test('2. a failed save keeps the lease: the other instance waits instead of presenting the rotated-out token', async () => {
  const before = await reuses()
  const sa = new SharedStore()
  const sb = new SharedStore(sa)
  const { fl: a, c } = await connected(sa, { leaseWaitMs: 1500 })
  const b = new Forcelink(baseConfig(sim, { store: sb, leaseWaitMs: 1500, storePath: tmpDb('b') }))
  sa.failSaveOnce = true
  await a.getAccessToken({ ...c, forceRefresh: true })
  // B either waits out A's lease (SALESFORCE_UNAVAILABLE) or reads A's token once re-saved.
  const got = await b.getAccessToken({ ...c, forceRefresh: true }).catch((e) => e)
  if (got instanceof Error) expect(got.code).toBe('SALESFORCE_UNAVAILABLE')
  await sleep(600)
  await b.getAccessToken({ ...c, forceRefresh: true })
  await a.getAccessToken({ ...c, forceRefresh: true })
  expect(sa.docs.get(key(c)).token_invalidated).toBe(false)
  expect(await reuses()).toBe(before)
  await Promise.all([a.close(), b.close()])
})

test('3. a lost or slow renewal before sending means the token is not sent', async () => {
  const before = await reuses()
  const store = new SharedStore()
  const { fl, c } = await connected(store)
  store.renewAnswer = false
  await expect(fl.getAccessToken({ ...c, forceRefresh: true })).rejects.toMatchObject({ code: 'SALESFORCE_UNAVAILABLE' })
  store.renewAnswer = null
  store.renewDelayMs = 2500 // slower than a third of the lease
  await expect(fl.getAccessToken({ ...c, forceRefresh: true })).rejects.toMatchObject({ code: 'SALESFORCE_UNAVAILABLE' })
  store.renewDelayMs = 0
  await sleep(1100) // past the memo of a failed refresh
  await fl.getAccessToken({ ...c, forceRefresh: true })
  expect(await reuses()).toBe(before)
  await fl.close()
})

test('4. a reconnect during a slow refresh wins: no reconnectRequired for the good connection', async () => {
  const before = await reuses()
  const store = new SharedStore()
  const { fl, c } = await connected(store)
  const events = []
  fl.on('reconnectRequired', (e) => events.push(e))
  await sim.setConfig({ tokenDelayMs: 800 })
  const refresh = fl.getAccessToken({ ...c, forceRefresh: true }).catch((e) => e)
  await sleep(200)
  await sim.setConfig({ tokenDelayMs: 0 })
  const other = new Forcelink(baseConfig(sim, { store, storePath: tmpDb('o') }))
  await connect(other, c.accountId, c.ownerId)
  const out = await refresh
  expect(out).not.toMatchObject({ code: 'RECONNECT_REQUIRED' })
  expect(events).toEqual([])
  expect(store.docs.get(key(c)).token_invalidated).toBe(false)
  await expect(fl.getAccessToken({ ...c, forceRefresh: true })).resolves.toBeTruthy()
  expect(await reuses()).toBe(before)
  await Promise.all([fl.close(), other.close()])
})

test('5. a tampered signature after an accepted grant still saves the rotated token', async () => {
  const before = await reuses()
  const target = new URL(sim.loginUrl)
  let tamper = false
  const proxy = http.createServer((req, res) => {
    const chunks = []
    req.on('data', (d) => chunks.push(d))
    req.on('end', async () => {
      const up = await fetch(`${sim.loginUrl}${req.url}`, { method: req.method, headers: { 'content-type': req.headers['content-type'] || 'text/plain' }, body: req.method === 'GET' ? undefined : Buffer.concat(chunks), redirect: 'manual' })
      let body = Buffer.from(await up.arrayBuffer())
      if (tamper && req.url.startsWith('/services/oauth2/token') && up.status === 200) {
        const j = JSON.parse(body.toString())
        j.signature = Buffer.from('not the signature').toString('base64')
        body = Buffer.from(JSON.stringify(j))
      }
      const headers = {}
      up.headers.forEach((v, k) => { if (!['content-length', 'transfer-encoding', 'content-encoding', 'connection'].includes(k)) headers[k] = v })
      res.writeHead(up.status, headers)
      res.end(body)
    })
  })
  await new Promise((r) => proxy.listen(0, '127.0.0.1', r))
  const loginUrl = `http://127.0.0.1:${proxy.address().port}`
  expect(target.hostname).toBe('127.0.0.1')
  const store = new SharedStore()
  const c = nextConn()
  const fl = new Forcelink(baseConfig(sim, { loginUrl, store, storePath: tmpDb('p') }))
  await connect(fl, c.accountId, c.ownerId)
  const rt0 = store.docs.get(key(c)).token.refresh_token
  tamper = true
  await expect(fl.getAccessToken({ ...c, forceRefresh: true })).rejects.toMatchObject({ salesforceCode: 'invalid_signature' })
  const rt1 = store.docs.get(key(c)).token.refresh_token
  expect(rt1).not.toBe(rt0)
  tamper = false
  await fl.getAccessToken({ ...c, forceRefresh: true })
  expect(await reuses()).toBe(before)
  await fl.close()
  proxy.close()
})

test('6. disconnect renews its lease through a slow revoke and revokes the newest token', async () => {
  const before = await reuses()
  const sa = new SharedStore()
  const sb = new SharedStore(sa)
  const { fl: a, c } = await connected(sa, { leaseWaitMs: 1000, httpTimeoutMs: 10000 })
  const b = new Forcelink(baseConfig(sim, { store: sb, leaseWaitMs: 1000, storePath: tmpDb('b6') }))
  await sim.fault({ target: 'revoke', kind: 'slow', count: 1, delayMs: 7000 })
  const disc = a.disconnect(c)
  await sleep(300)
  // Past the short lease: B must still be kept out.
  await sleep(5500)
  const got = await b.getAccessToken({ ...c, forceRefresh: true }).catch((e) => e)
  expect(got).toBeInstanceOf(Error)
  expect(await disc).toMatchObject({ revoked: true })
  const conns = await sim.control('connections')
  expect(conns.at(-1).refreshTokenActive).toBe(false)
  expect(await reuses()).toBe(before)
  await Promise.all([a.close(), b.close()])
}, 30000)

test('7. { matchedCount: 0 } loses the fence, string versions are read, junk is STORE_ERROR', async () => {
  const before = await reuses()
  class DriverStore extends SharedStore {
    async save(rec, opts) {
      if (opts && this.steal) {
        // Another writer lands first: the conditional save below matches nothing.
        this.steal = false
        const w = { ...structuredClone(rec), version: String(Number(rec.version) + 5) }
        w.token.access_token = 'winner-access'
        this.docs.set(this.key(rec.account_id, rec.owner), w)
      }
      const ok = await super.save({ ...rec, version: String(rec.version) }, opts && { expectedVersion: opts.expectedVersion })
      return opts ? { acknowledged: true, matchedCount: ok ? 1 : 0, modifiedCount: ok ? 1 : 0 } : { acknowledged: true }
    }
  }
  // Versions are stored (and found) as strings, as a pg bigint column hands them back.
  const store = new DriverStore()
  const { fl, c } = await connected(store)
  await fl.getAccessToken({ ...c, forceRefresh: true })
  expect(typeof store.docs.get(key(c)).version).toBe('string')
  await fl.getAccessToken({ ...c, forceRefresh: true })
  // A lost fence ({ matchedCount: 0 }) adopts the winner instead of claiming the write.
  store.steal = true
  const got = await fl.getAccessToken({ ...c, forceRefresh: true })
  expect(got.accessToken).toBe('winner-access')
  await fl.close()

  const junk = new SharedStore()
  const j = await connected(junk, { closeTimeoutMs: 300 })
  junk.save = async () => 'yes'
  const events = []
  j.fl.on('storeError', (e) => events.push(e))
  await j.fl.getAccessToken({ ...j.c, forceRefresh: true }).catch(() => {})
  const named = () => events.some((e) => e.op === 'save' && /expectedVersion must resolve true/.test(e.message))
  // Events reach JS through their own queue: give it a moment.
  for (let i = 0; i < 50 && !named(); i++) await sleep(20)
  expect(named()).toBe(true)
  junk.docs.get(key(j.c)).version = 'abc'
  const fresh = new Forcelink(baseConfig(sim, { store: junk, storePath: tmpDb('j') }))
  await expect(fresh.getAccessToken(j.c)).rejects.toMatchObject({ code: 'STORE_ERROR' })
  expect(await reuses()).toBe(before)
  await j.fl.close().catch(() => {})
})

test('8. an acquireLease answered after storeTimeoutMs is released', async () => {
  const store = new SharedStore()
  const { fl, c } = await connected(store, { storeTimeoutMs: 200, leaseWaitMs: 300 })
  const orig = store.acquireLease.bind(store)
  store.acquireLease = async (...args) => {
    await sleep(400)
    return orig(...args)
  }
  await expect(fl.getAccessToken({ ...c, forceRefresh: true })).rejects.toMatchObject({ code: 'STORE_ERROR' })
  await sleep(500)
  expect(store.leases.get(key(c))).toBeUndefined()
  store.acquireLease = orig
  await fl.getAccessToken({ ...c, forceRefresh: true })
  await fl.close()
})

test('Node stays alive while a rotated token waits for its save, then exits on its own', async () => {
  const fs = require('node:fs')
  const path = require('node:path')
  const { spawn } = require('node:child_process')
  const store = new SharedStore()
  const { fl, c } = await connected(store)
  await fl.close()
  const file = tmpDb('pending').replace(/\.db$/, '.json')
  fs.writeFileSync(file, JSON.stringify(Object.fromEntries([...store.docs.values()].map((d) => [`${d.account_id}/${d.owner}`, d]))))
  const before = JSON.parse(fs.readFileSync(file, 'utf8'))[`${c.accountId}/${c.ownerId}`].token.refresh_token
  const cfg = baseConfig(sim, { storePath: tmpDb('pw') })
  const child = spawn(process.execPath, [path.join(__dirname, 'fixtures', 'pending-save-worker.js'), JSON.stringify({ cfg, conn: c, file, failMs: 700 })], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.on('data', (d) => (out += d))
  const code = await new Promise((r) => child.once('exit', r))
  expect(out).toContain('refreshed')
  expect(code).toBe(0)
  const after = JSON.parse(fs.readFileSync(file, 'utf8'))[`${c.accountId}/${c.ownerId}`].token.refresh_token
  expect(after).not.toBe(before)
})
