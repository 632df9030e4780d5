'use strict'
// The chaos run: P processes × C concurrent calls on a few connections against the simulator with
// refresh-token rotation and reuse revocation on, access tokens expiring every few seconds and a
// slow token endpoint, while a random process is SIGKILLed every 2 s and replaced. Stores: the
// embedded SQLite file shared by the processes, or PostgreSQL through forcelink/stores/postgres.
//
// A rotated-token reuse seen by the simulator is "unavoidable" only when the token that replaced
// it was never seen again (whoever received it never committed it) and a kill landed between the
// request being sent and the store commit; every other reuse, and every RECONNECT_REQUIRED not
// explained by such a loss, fails the run.
//
// Store-fault phases (`phase`, no SIGKILL, so no reuse and no RECONNECT_REQUIRED is acceptable):
// - `renew-stall`: lease renewals stall past the lease (injected in the store, test builds only);
// - `save-fail`: conditional saves of refreshed tokens fail;
// - `sigstop`: a process is SIGSTOPped for longer than the lease, then SIGCONTed;
// - `close`: processes are asked to stop (SIGTERM: `close()` with calls in flight) and replaced.
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const readline = require('node:readline')
const { spawn } = require('node:child_process')
const { Forcelink } = require('../..')
const { simBinary } = require('../../sim/build')
const { spawnSim, authorize } = require('../../sim/client')
const { startPostgres } = require('./pg-cluster')

const CLIENT_ID = 'chaos-client'
const CLIENT_SECRET = 'chaos-client-secret-0123456789'
const REDIRECT_URI = 'http://localhost:3999/cb'
const SOQL = 'SELECT Id, Name FROM Contact ORDER BY Id LIMIT 5'

function pct(sorted, p) {
  if (sorted.length === 0) return 0
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]
}

async function connectOne(fl, c) {
  const start = await fl.beginLogin({ ...c, forwardUrl: 'https://app.example.com/done' })
  if (start.alreadyConnected) return
  const q = await authorize(start.redirectUrl)
  await fl.handleCallback({ code: q.code, state: q.state, binding: start.binding })
}

/**
 * @param {object} o
 * @param {'sqlite'|'postgres'} o.store
 * @param {number} [o.procs] processes (P)
 * @param {number} [o.concurrency] concurrent calls per process (C)
 * @param {number} [o.durationMs]
 * @param {number} [o.connections]
 * @param {number} [o.accessTtlMs] simulator access-token lifetime
 * @param {number} [o.tokenDelayMs] simulator token endpoint delay
 * @param {number} [o.killEveryMs]
 * @param {number} [o.thinkMs] pause between one loop's calls (0: flat out)
 * @param {'kill'|'renew-stall'|'save-fail'|'sigstop'|'close'} [o.phase] what goes wrong (default kill)
 * @param {(s: string) => void} [o.log]
 */
async function runChaos(o) {
  const opt = {
    procs: 4,
    concurrency: 8,
    durationMs: 60_000,
    connections: 3,
    accessTtlMs: 3_000,
    tokenDelayMs: 400,
    killEveryMs: 2_000,
    thinkMs: 0,
    phase: 'kill',
    stopMs: 6_500, // longer than the 5 s lease
    log: () => {},
    ...o,
  }
  const storeFaults = { 'renew-stall': { renewStallRate: 0.3, renewStallMs: 7_000 }, 'save-fail': { saveFailRate: 0.3 } }[opt.phase]
  const sim = await spawnSim(simBinary(), ['--client-id', CLIENT_ID, '--client-secret', CLIENT_SECRET, '--redirect-uri', REDIRECT_URI])
  const workers = new Set()
  const killSim = () => {
    for (const w of workers) w.kill('SIGKILL')
    sim.child.kill('SIGKILL')
  }
  process.once('exit', killSim)
  let pg = null
  let setupStore
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'forcelink-chaos-'))
  const cfg = {
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    redirectUri: REDIRECT_URI,
    stateSecret: 'chaos-state-secret-0123456789abcdef-XYZ',
    loginUrl: sim.loginUrl,
    allowedForwardOrigins: ['https://app.example.com'],
    httpTimeoutMs: 5_000,
    storeTimeoutMs: 3_000,
    maxRetries: 2,
    tokenCacheTtlMs: 5_000,
  }
  try {
    if (opt.store === 'postgres') {
      pg = await startPostgres()
      const { PostgresStore } = require('../../stores/postgres')
      setupStore = new PostgresStore({ connectionString: pg.connectionString, max: 2 })
    } else {
      cfg.storePath = path.join(tmp, 'chaos.db')
    }
    // Far more calls than the default daily API limit of the simulated org.
    await sim.setConfig({ rotation: true, apiLimit: 1_000_000_000_000 })
    const setup = new Forcelink({ ...cfg, store: setupStore })
    const conns = Array.from({ length: opt.connections }, (_, i) => ({ accountId: `chaos-acc-${i}`, ownerId: `chaos-user-${i}` }))
    const families = new Map() // simulator userId -> connection index
    const connect = async (i) => {
      await connectOne(setup, conns[i])
      const list = await sim.control('connections')
      families.set(list[list.length - 1].userId, i)
    }
    for (let i = 0; i < conns.length; i++) await connect(i)
    await sim.setConfig({ accessTokenTtlMs: opt.accessTtlMs, tokenDelayMs: opt.tokenDelayMs })
    await sim.resetCounts()

    const calls = []
    const kills = []
    const reconnectRequired = [] // { conn, at }
    const reconnecting = new Map()
    let started = 0
    const startWorker = () => {
      const args = JSON.stringify({ cfg, pg: pg && pg.connectionString, conns, concurrency: opt.concurrency, soql: SOQL, thinkMs: opt.thinkMs })
      const env = storeFaults ? { ...process.env, FORCELINK_TEST_STORE_FAULTS: JSON.stringify(storeFaults) } : process.env
      const child = spawn(process.execPath, [path.join(__dirname, 'chaos-worker.js'), args], { stdio: ['ignore', 'pipe', 'inherit'], env })
      started++
      workers.add(child)
      child.once('exit', () => workers.delete(child))
      readline.createInterface({ input: child.stdout }).on('line', (l) => {
        let r
        try {
          r = JSON.parse(l)
        } catch (_) {
          return
        }
        calls.push(r)
        if (r.code === 'RECONNECT_REQUIRED') {
          reconnectRequired.push(r)
          // Keep the run going: the user connects again (once per lost family).
          if (!reconnecting.has(r.conn)) reconnecting.set(r.conn, connect(r.conn).finally(() => reconnecting.delete(r.conn)))
        }
      })
      return child
    }
    for (let i = 0; i < opt.procs; i++) startWorker()
    const t0 = Date.now()
    const stops = []
    const closes = []
    while (Date.now() - t0 < opt.durationMs) {
      await new Promise((r) => setTimeout(r, opt.killEveryMs))
      const list = [...workers]
      if (list.length === 0) break
      const victim = list[Math.floor(Math.random() * list.length)]
      if (opt.phase === 'kill') {
        kills.push(Date.now())
        victim.kill('SIGKILL')
        startWorker()
      } else if (opt.phase === 'sigstop') {
        stops.push(Date.now())
        victim.kill('SIGSTOP')
        await new Promise((r) => setTimeout(r, opt.stopMs))
        victim.kill('SIGCONT')
      } else if (opt.phase === 'close') {
        closes.push(Date.now())
        victim.kill('SIGTERM') // close() while its calls are in flight
        startWorker()
      }
    }
    // Let the survivors finish their calls.
    await Promise.all(
      [...workers].map(
        (w) =>
          new Promise((resolve) => {
            const timer = setTimeout(() => w.kill('SIGKILL'), 30_000)
            w.once('exit', () => {
              clearTimeout(timer)
              resolve()
            })
            w.kill('SIGTERM')
          }),
      ),
    )
    await Promise.all([...reconnecting.values()].map((p) => p.catch(() => {})))
    const elapsedMs = Date.now() - t0

    const counts = await sim.counts()
    const reuses = await sim.control('reuses')
    // A kill between the token request leaving a process and the store commit.
    const killWindow = (ev) =>
      !ev.successorSeen && kills.some((k) => k >= ev.successorIssuedAtMs - opt.tokenDelayMs - 1_000 && k <= ev.successorIssuedAtMs + 1_000)
    const unavoidable = reuses.events.filter(killWindow)
    const avoidable = reuses.events.filter((e) => !killWindow(e))
    // RECONNECT_REQUIRED is explained when its connection lost a family to such a kill before.
    const lostAt = new Map()
    for (const e of unavoidable) {
      const i = families.get(e.userId)
      if (i !== undefined && !lostAt.has(i)) lostAt.set(i, e.atMs)
    }
    const unexplained = reconnectRequired.filter((r) => !(lostAt.has(r.conn) && r.at >= lostAt.get(r.conn)))
    const errors = {}
    for (const c of calls) if (c.code !== 'OK') errors[c.code] = (errors[c.code] || 0) + 1
    const explainedReconnects = reconnectRequired.length - unexplained.length
    // A SIGKILLed holder keeps its lease for the longest a refresh can take (it may have been
    // stalled, not dead, and its token request may be at Salesforce): the others wait, then get
    // SALESFORCE_UNAVAILABLE rather than risk a reuse. Counted apart from the other errors.
    const unavailable = errors.SALESFORCE_UNAVAILABLE || 0
    const errorCount = calls.length - calls.filter((c) => c.code === 'OK').length - explainedReconnects - unavailable
    const ms = calls.map((c) => c.ms).sort((a, b) => a - b)
    // A token lives accessTtlMs from issue and its successor arrives about tokenDelayMs after the
    // first 401, so each connection expires about once per (TTL + delay).
    const expiries = opt.connections * Math.max(1, elapsedMs / (opt.accessTtlMs + opt.tokenDelayMs))
    const report = {
      store: opt.store,
      procs: opt.procs,
      concurrency: opt.concurrency,
      durationS: Math.round(elapsedMs / 100) / 10,
      processesStarted: started,
      kills: kills.length,
      calls: calls.length,
      errorsByCode: errors,
      errorRate: calls.length ? errorCount / calls.length : 0,
      unavailableRate: calls.length ? unavailable / calls.length : 0,
      reconnectRequired: reconnectRequired.length,
      reconnectRequiredUnexplained: unexplained.length,
      tokenRequests: counts.token.refresh_token,
      tokenRequestsPerExpiry: Math.round((counts.token.refresh_token / expiries) * 100) / 100,
      reuses: reuses.count,
      reusesKillWindow: unavoidable.length,
      reusesOther: avoidable.length,
      latencyMs: { p50: pct(ms, 50), p99: pct(ms, 99), max: ms.length ? ms[ms.length - 1] : 0 },
    }
    report.phase = opt.phase
    report.stops = stops.length
    report.closes = closes.length
    report.pass =
      opt.phase !== 'kill'
        ? report.calls > 0 && report.reuses === 0 && report.reconnectRequired === 0 && !errors.CLOSE_FAILED
        : report.calls > 0 &&
      report.reconnectRequiredUnexplained === 0 &&
      report.reusesOther === 0 &&
      report.latencyMs.max <= 20_000 &&
      report.errorRate <= 0.001 &&
      report.unavailableRate <= 0.15
    opt.log(JSON.stringify(report))
    return report
  } finally {
    for (const w of workers) w.kill('SIGKILL')
    if (setupStore) await setupStore.close().catch(() => {})
    await sim.stop()
    process.removeListener('exit', killSim)
    if (pg) pg.stop()
    fs.rmSync(tmp, { recursive: true, force: true })
  }
}

const DAY = 86_400_000

/** Runs one keepAlive sweep in a child process; resolves its result line. */
function sweepIn(args) {
  const child = spawn(process.execPath, [path.join(__dirname, 'chaos-keepalive-worker.js'), JSON.stringify(args)], { stdio: ['ignore', 'pipe', 'inherit'] })
  return new Promise((resolve) => {
    let out = ''
    child.stdout.on('data', (d) => (out += d))
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000)
    child.once('exit', () => {
      clearTimeout(timer)
      try {
        resolve(JSON.parse(out.trim().split('\n').pop()))
      } catch (_) {
        resolve({ error: 'NO_RESULT', message: out.slice(0, 500) })
      }
    })
  })
}

/**
 * The keep-alive phase: the simulator's clock passes several refresh-token idle lifetimes (30 days)
 * in steps of 20 days while two processes run keepAlive over the same store at each step. Pass:
 * no RECONNECT_REQUIRED, exactly one token request per connection per sweep, and every connection
 * still works at the end.
 * @param {object} o
 * @param {'sqlite'|'postgres'} o.store
 * @param {number} [o.connections]
 * @param {number} [o.sweeps]
 * @param {number} [o.concurrency] keepAlive concurrency in each process
 * @param {number} [o.tokenDelayMs] simulator token endpoint delay (widens the overlap)
 */
async function runKeepAliveChaos(o) {
  const opt = { connections: 20, sweeps: 3, concurrency: 4, tokenDelayMs: 20, ...o }
  const sim = await spawnSim(simBinary(), ['--client-id', CLIENT_ID, '--client-secret', CLIENT_SECRET, '--redirect-uri', REDIRECT_URI])
  const killSim = () => sim.child.kill('SIGKILL')
  process.once('exit', killSim)
  let pg = null
  let setupStore
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'forcelink-chaos-ka-'))
  const cfg = {
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    redirectUri: REDIRECT_URI,
    stateSecret: 'chaos-state-secret-0123456789abcdef-XYZ',
    loginUrl: sim.loginUrl,
    allowedForwardOrigins: ['https://app.example.com'],
    httpTimeoutMs: 10_000,
  }
  try {
    if (opt.store === 'postgres') {
      pg = await startPostgres()
      const { PostgresStore } = require('../../stores/postgres')
      setupStore = new PostgresStore({ connectionString: pg.connectionString, max: 2 })
    } else {
      cfg.storePath = path.join(tmp, 'keepalive.db')
    }
    await sim.setConfig({ rotation: true, refreshTokenIdleTtlMs: 30 * DAY, apiLimit: 1_000_000_000_000 })
    const setup = new Forcelink({ ...cfg, store: setupStore })
    const conns = Array.from({ length: opt.connections }, (_, i) => ({ accountId: `ka-acc-${String(i).padStart(5, '0')}`, ownerId: 'ka-user' }))
    for (const c of conns) await connectOne(setup, c)
    await setup.close()
    await sim.setConfig({ tokenDelayMs: opt.tokenDelayMs })
    const sweeps = []
    const t0 = Date.now()
    for (let i = 0; i < opt.sweeps; i++) {
      await sim.control('clock', { advanceMs: 20 * DAY })
      await sim.resetCounts()
      const cutoff = Date.now()
      await new Promise((r) => setTimeout(r, 5)) // every grant from here on is at or after the cutoff
      const args = { cfg, pg: pg && pg.connectionString, cutoff, concurrency: opt.concurrency }
      const results = await Promise.all([sweepIn(args), sweepIn(args)])
      const counts = await sim.counts()
      sweeps.push({ results, tokenRequests: counts.token.refresh_token })
    }
    const elapsedMs = Date.now() - t0
    // Past one more idle lifetime from the first connect, every connection must still work.
    await sim.control('clock', { advanceMs: 20 * DAY })
    await sim.control('expire-access-tokens', {})
    const check = new Forcelink({ ...cfg, store: setupStore })
    const finalCodes = {}
    for (const c of conns) {
      const code = await check.query({ ...c, soql: SOQL }).then(
        () => 'OK',
        (e) => e.code,
      )
      finalCodes[code] = (finalCodes[code] || 0) + 1
    }
    await check.close()
    const reuses = await sim.control('reuses')
    const failed = sweeps.flatMap((s) => s.results.flatMap((r) => r.failed || []))
    const errors = sweeps.flatMap((s) => s.results.filter((r) => r.error))
    const report = {
      phase: 'keepAlive',
      store: opt.store,
      connections: opt.connections,
      sweeps: opt.sweeps,
      virtualDays: 20 * (opt.sweeps + 1),
      durationS: Math.round(elapsedMs / 100) / 10,
      tokenRequestsPerSweep: sweeps.map((s) => s.tokenRequests),
      refreshedPerSweep: sweeps.map((s) => s.results.reduce((n, r) => n + (r.refreshed || 0), 0)),
      failed: failed.length,
      processErrors: errors.length,
      reconnectRequired: failed.filter((f) => f.code === 'RECONNECT_REQUIRED').length + (finalCodes.RECONNECT_REQUIRED || 0),
      finalCodes,
      reuses: reuses.count,
    }
    report.pass =
      report.reconnectRequired === 0 &&
      report.failed === 0 &&
      report.processErrors === 0 &&
      report.reuses === 0 &&
      report.tokenRequestsPerSweep.every((n) => n === opt.connections) &&
      finalCodes.OK === opt.connections
    return report
  } finally {
    if (setupStore) await setupStore.close().catch(() => {})
    await sim.stop()
    process.removeListener('exit', killSim)
    if (pg) pg.stop()
    fs.rmSync(tmp, { recursive: true, force: true })
  }
}

module.exports = { runChaos, runKeepAliveChaos }
