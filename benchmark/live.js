#!/usr/bin/env node
'use strict'
// Live sync (issue 23): Change Data Capture over the Pub/Sub API, forcelink's `sync({ live: true })`
// side by side with salesforce-pubsub-api-client (npm) decoding the same events from the simulator
// (its Pub/Sub listener over TLS under a throwaway CA):
//   - throughput: events decoded and handed to JS per second, and CPU per event (process CPU, every
//     thread), each contender in its own process resuming from the same replay id over a backlog;
//   - lag from mutation to step: from sending a REST create until the record reaches JS, one at a
//     time, at 0 ms and at 150 ms (REST answers 150 ms late and a proxy delays the stream's bytes
//     150 ms on their way to the client);
//   - REST requests spent per 10,000 changes: one live sync against a sync run every minute (the
//     same changes in 60 batches), counted by the simulator.
//
//   node benchmark/live.js [--events 10000] [--lag 100] [--write]
//
// Prints JSON (benchmark/run.js folds it into BENCHMARKS.md); --write replaces the live section of
// BENCHMARKS.md by itself. Workers: `node benchmark/live.js --worker <json>` (internal).
const fs = require('node:fs')
const net = require('node:net')
const os = require('node:os')
const path = require('node:path')
const { spawn } = require('node:child_process')

const ROOT = path.join(__dirname, '..')
const CONN = { accountId: 'acc-live-bench', ownerId: 'user-live-bench' }
const TYPE = { object: 'Contact', fields: ['FirstName', 'LastName', 'Title', 'Phone', 'Email', 'AccountId', 'LastModifiedDate'] }
const IDLE_MS = 3000

function arg(name, def) {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : def
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const quantile = (xs, q) => require('./lib/stats').quantile(xs, q)

/** forcelink with the runner's native build when there is one (see lib/peers.js). */
function loadForcelink() {
  const native = process.env.FORCELINK_BENCH_NATIVE
  if (native) process.env.NAPI_RS_NATIVE_LIBRARY_PATH = native
  try {
    return require(ROOT)
  } finally {
    delete process.env.NAPI_RS_NATIVE_LIBRARY_PATH
  }
}

// ---------------------------------------------------------------------------------------------
// Workers: one contender, one measurement, in a fresh process. Prints one JSON line.

async function worker(job) {
  const quiet = { debug() {}, info() {}, warn() {}, error() {} }
  const meter = () => {
    const cpu0 = process.cpuUsage()
    const t0 = performance.now()
    return () => {
      const c = process.cpuUsage(cpu0)
      return { wallMs: performance.now() - t0, cpuMs: (c.user + c.system) / 1000 }
    }
  }
  const insert = async (i) => {
    const res = await fetch(`${job.token.instanceUrl}/services/data/v62.0/sobjects/Contact/`, {
      method: 'POST',
      headers: { authorization: `Bearer ${job.token.accessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ LastName: `Lag${i}`, Title: 'bench' }),
    })
    if (res.status !== 201) throw new Error(`insert ${res.status}`)
    return (await res.json()).id
  }
  // Lag: one REST create at a time; the time from sending it to the record in JS (`arrived`: Id →
  // when it reached JS; the event may arrive before the create's answer is read).
  const arrived = new Map()
  const lagLoop = async () => {
    const lags = []
    // One warm-up create first (connection setup, first schema fetch), not counted.
    for (let i = -1; i < job.samples; i++) {
      const t0 = performance.now()
      const id = await insert(i)
      const deadline = performance.now() + 30000
      while (!arrived.has(id) && performance.now() < deadline) await new Promise((r) => setImmediate(r))
      if (!arrived.has(id)) throw new Error(`no event for ${id} within 30 s`)
      if (i >= 0) lags.push(arrived.get(id) - t0)
    }
    return lags
  }

  if (job.contender === 'forcelink') {
    const { Forcelink } = loadForcelink()
    const fl = new Forcelink(job.config)
    const ac = new AbortController()
    let records = 0
    let lastAt = 0
    let live = false
    fl.on('changeStream', (e) => {
      if (e.kind === 'subscribed' || e.kind === 'resubscribed') live = true
    })
    let stop
    const end = (job.mode === 'throughput' ? job.events : Infinity)
    const m = job.mode === 'throughput' ? meter() : null
    let result = null
    const loop = (async () => {
      for await (const step of fl.sync({ ...CONN, type: 'contacts', live: true, checkpoint: job.checkpoint, signal: ac.signal })) {
        if (step.meta.source !== 'stream') continue
        const n = step.upserts.length + step.deletes.length
        if (n === 0) continue
        records += n
        lastAt = performance.now()
        for (const r of step.upserts) arrived.set(r.Id, lastAt)
        if (records >= end && !result) {
          result = m()
          ac.abort()
        }
      }
    })()
    if (job.mode === 'throughput') {
      // Ends at `events` records, or after IDLE_MS without any (then the time of the last one).
      while (!result) {
        await sleep(100)
        if (records > 0 && performance.now() - lastAt > IDLE_MS && !result) {
          const r = m()
          result = { wallMs: r.wallMs - (performance.now() - lastAt), cpuMs: r.cpuMs }
          ac.abort()
        }
      }
      await loop
      stop = { records, ...result }
    } else {
      while (!live) await sleep(20)
      const lags = await lagLoop()
      ac.abort()
      await loop
      stop = { lags }
    }
    await fl.close()
    return stop
  }

  // salesforce-pubsub-api-client: the same events, decoded by it.
  const PubSubApiClient = require('salesforce-pubsub-api-client').default
  const client = new PubSubApiClient(
    {
      authType: 'user-supplied',
      accessToken: job.token.accessToken,
      instanceUrl: job.token.instanceUrl.replace(/^http:/, 'https:'),
      organizationId: job.token.orgId,
      pubSubEndpoint: new URL(job.pubsubUrl).host,
      rejectUnauthorizedSsl: false,
    },
    quiet,
  )
  await client.connect()
  let records = 0
  let lastAt = 0
  let subscribed = false
  const m = job.mode === 'throughput' ? meter() : null
  const cb = (info, type, data) => {
    if (type === 'event') {
      const ids = data.payload.ChangeEventHeader.recordIds
      records += Math.max(1, ids.length)
      lastAt = performance.now()
      for (const id of ids) arrived.set(id, lastAt)
    }
    subscribed = true
  }
  let out
  if (job.mode === 'throughput') {
    client.subscribeFromReplayId('/data/ContactChangeEvent', cb, null, job.replayId)
    let result = null
    while (!result) {
      await sleep(50)
      if (records >= job.events) result = m()
      else if (records > 0 && performance.now() - lastAt > IDLE_MS) {
        const r = m()
        result = { wallMs: r.wallMs - (performance.now() - lastAt), cpuMs: r.cpuMs }
      }
    }
    out = { records, ...result }
  } else {
    client.subscribe('/data/ContactChangeEvent', cb, null)
    while (!subscribed) await sleep(20)
    out = { lags: await lagLoop() }
  }
  // The client's own close leaves an unhandled 'error' on an open call: exit instead.
  return out
}

// ---------------------------------------------------------------------------------------------
// Orchestrator.

/** A TCP proxy that delays every chunk from the server by `delayMs` (order kept: equal timers fire
 *  in the order they were set). */
function delayProxy(target, delayMs) {
  const server = net.createServer((c) => {
    const s = net.connect(target.port, target.host)
    s.on('data', (d) => setTimeout(() => c.destroyed || c.write(d), delayMs))
    c.on('data', (d) => s.write(d))
    const end = () => {
      c.destroy()
      s.destroy()
    }
    c.on('error', end).on('close', end)
    s.on('error', end).on('close', () => setTimeout(end, delayMs))
  })
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ port: server.address().port, close: () => server.close() })))
}

function runWorker(job, env) {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [__filename, '--worker', JSON.stringify(job)], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] })
    let text = ''
    p.stdout.on('data', (d) => (text += d))
    p.on('error', reject)
    p.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`worker ${job.contender} ${job.mode} exited ${code}`))
      try {
        resolve(JSON.parse(text.trim().split('\n').pop()))
      } catch (e) {
        reject(e)
      }
    })
  })
}

async function main() {
  const events = Number(arg('events', '10000'))
  const samples = Number(arg('lag', '100'))
  const log = (...a) => process.stderr.write(`[live ${new Date().toISOString().slice(11, 19)}] ${a.join(' ')}\n`)
  const { startSimulator, connectForTest } = require('../testing')
  const { Forcelink } = loadForcelink()
  const sim = await startSimulator({ contacts: 200, deals: 0, notes: 0, pubsubTls: true })
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'forcelink-live-bench-'))
  const control = async (p, body) => {
    const res = await fetch(`${sim.loginUrl}/__sim/${p}`, { method: body === undefined ? 'GET' : 'POST', body: body === undefined ? undefined : JSON.stringify(body) })
    if (!res.ok) throw new Error(`control ${p}: ${res.status}`)
    return res.json()
  }
  const env = { NODE_EXTRA_CA_CERTS: sim.pubsubCaPath }
  process.env.NODE_EXTRA_CA_CERTS = sim.pubsubCaPath
  const load0 = os.loadavg()[0]
  const out = { events, samples, throughput: {}, lag: {}, budget: {} }
  try {
    await sim.control.setConfig({ apiLimit: 1e12, apiUsage: 0 })
    await control('pubsub', { keepaliveMs: 1000 })
    const stateSecret = sim.forcelinkConfig().stateSecret // one secret: checkpoints move between processes
    const cfg = (extra) => sim.forcelinkConfig({ stateSecret, storePath: path.join(dir, 'store.db'), pubsubUrl: sim.pubsubUrl, exportTypes: { contacts: TYPE }, httpTimeoutMs: 60000, ...extra })
    const base = cfg()
    const fl = new Forcelink(base)
    await connectForTest(fl, CONN)
    const tokRes = await fetch(`${sim.myDomainUrl}/services/oauth2/token`, {
      method: 'POST',
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: sim.clientId, client_secret: sim.clientSecret }),
    }).then((r) => r.json())
    const token = { accessToken: tokRes.access_token, instanceUrl: tokRes.instance_url, orgId: new URL(tokRes.id).pathname.split('/')[2] }

    /** A live sync until it is live; returns its checkpoint (caught up, holding a replay id). */
    const liveCheckpoint = async (checkpoint) => {
      const ac = new AbortController()
      let last = checkpoint
      for await (const step of fl.sync({ ...CONN, type: 'contacts', live: true, checkpoint, signal: ac.signal })) {
        last = step.checkpoint
        if (step.meta.source === 'stream') ac.abort()
      }
      return last
    }

    // Throughput over a backlog of `events` changes, both contenders from the same replay id.
    log('throughput: building a backlog')
    const checkpoint = await liveCheckpoint(undefined)
    const before = (await control('pubsub')).latestReplayId
    // A random mutation may change nothing (no event): top up until `events` were published.
    for (let have = 0, k = 0; have < events; k++) {
      await control('mutate', { object: 'Contact', count: Math.min(20000, events - have), seed: 7 + k })
      have = (await control('pubsub')).latestReplayId - before
    }
    const published = (await control('pubsub')).latestReplayId - before
    for (const contender of ['forcelink', 'salesforce-pubsub-api-client']) {
      log(`throughput: ${contender} over ${published} events`)
      const r = await runWorker({ contender: contender === 'forcelink' ? 'forcelink' : 'pubsub', mode: 'throughput', events: published, checkpoint, replayId: before, config: base, token, pubsubUrl: sim.pubsubUrl }, env)
      // Per event published (forcelink merges the events of one Id within a step into one record).
      out.throughput[contender] = { ...r, events: published, eventsPerSec: (published / r.wallMs) * 1000, cpuUsPerEvent: (r.cpuMs * 1000) / published }
    }

    // Lag, one change at a time, at 0 and 150 ms.
    for (const latencyMs of [0, 150]) {
      const url = new URL(sim.pubsubUrl)
      const proxy = latencyMs ? await delayProxy({ host: '127.0.0.1', port: Number(url.port) }, latencyMs) : null
      const pubsubUrl = proxy ? `https://localhost:${proxy.port}` : sim.pubsubUrl
      await sim.control.setLatency(latencyMs)
      try {
        for (const contender of ['forcelink', 'salesforce-pubsub-api-client']) {
          log(`lag at ${latencyMs} ms: ${contender}`)
          const job = { contender: contender === 'forcelink' ? 'forcelink' : 'pubsub', mode: 'lag', samples, checkpoint: await liveCheckpoint(undefined), config: cfg({ pubsubUrl }), token, pubsubUrl }
          const { lags } = await runWorker(job, env)
          out.lag[`${contender}@${latencyMs}`] = { contender, latencyMs, n: lags.length, p50Ms: quantile(lags, 0.5), p99Ms: quantile(lags, 0.99), maxMs: Math.max(...lags) }
        }
      } finally {
        await sim.control.setLatency(0)
        if (proxy) proxy.close()
      }
    }

    // REST requests per 10,000 changes: live against a sync run every minute (60 batches).
    const rounds = 60
    const perRound = Math.ceil(events / rounds)
    const batches = async (each) => {
      const start = (await control('pubsub')).latestReplayId
      for (let i = 0; i < rounds; i++) {
        const t = (await control('pubsub')).latestReplayId
        for (let have = 0, k = 0; have < perRound; k++) {
          await control('mutate', { object: 'Contact', count: perRound - have, seed: 1000 + i + t + k })
          have = (await control('pubsub')).latestReplayId - t
        }
        await each(i)
      }
      return (await control('pubsub')).latestReplayId - start
    }
    log('budget: polling every minute')
    let polled = checkpoint
    for await (const step of fl.sync({ ...CONN, type: 'contacts', checkpoint: polled })) polled = step.checkpoint
    await sim.control.resetCounts()
    const pollChanges = await batches(async () => {
      for await (const step of fl.sync({ ...CONN, type: 'contacts', checkpoint: polled })) polled = step.checkpoint
    })
    const pollRest = (await sim.control.counts()).rest
    log('budget: live')
    const liveFrom = await liveCheckpoint(polled)
    await sim.control.resetCounts()
    const ac = new AbortController()
    let seenRecords = 0
    let lastAt = performance.now()
    const loop = (async () => {
      for await (const step of fl.sync({ ...CONN, type: 'contacts', live: true, checkpoint: liveFrom, signal: ac.signal })) {
        const n = step.upserts.length + step.deletes.length
        if (n) {
          seenRecords += n
          lastAt = performance.now()
        }
      }
    })()
    const liveChanges = await batches(async () => {})
    while (seenRecords < liveChanges && performance.now() - lastAt < IDLE_MS) await sleep(50)
    ac.abort()
    await loop
    const liveRest = (await sim.control.counts()).rest
    out.budget = {
      rounds,
      polling: { changes: pollChanges, rest: pollRest, restPer10k: (pollRest * 10000) / pollChanges },
      live: { changes: liveChanges, delivered: seenRecords, rest: liveRest, restPer10k: (liveRest * 10000) / liveChanges },
    }
    await fl.close()
    const build = process.env.FORCELINK_BENCH_NATIVE ? 'the runner’s release build of forcelink' : 'the native module built at the repo root (`npm run build:debug` unless a release build replaced it)'
    out.note = `Forcelink: ${build}; simulator: ${require('../testing').simulatorBinary().includes('/release/') ? 'release' : 'debug'} build. 1-minute load average ${load0.toFixed(1)} at the start and ${os.loadavg()[0].toFixed(1)} at the end on ${os.cpus().length} cores.`
  } finally {
    await sim.close()
    fs.rmSync(dir, { recursive: true, force: true })
  }
  return out
}

const n0 = (v, d = 0) => (typeof v === 'number' && Number.isFinite(v) ? v.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }) : 'n/a')

/** The BENCHMARKS.md section (measured numbers only). */
function section(r) {
  const t = r.throughput
  const rows = Object.entries(t).map(([k, x]) => `| ${k} | ${n0(x.events)} | ${n0(x.records)} | ${n0(x.wallMs)} | ${n0(x.eventsPerSec)} | ${n0(x.cpuMs)} | ${n0(x.cpuUsPerEvent, 1)} |`)
  const lag = Object.values(r.lag).map((x) => `| ${x.contender} | ${x.latencyMs} | ${x.n} | ${n0(x.p50Ms, 1)} | ${n0(x.p99Ms, 1)} | ${n0(x.maxMs, 1)} |`)
  const b = r.budget
  return [
    '<!-- live:start -->',
    `## 10. Live sync: Change Data Capture over the Pub/Sub API (issue 23, \`node benchmark/live.js --events ${r.events} --lag ${r.samples}\`)`,
    '',
    `Simulator with its Pub/Sub listener over TLS; each contender in its own process. ${r.note || ''}`.trim(),
    '',
    'Throughput: a backlog of change events, read from the same replay id, decoded (Avro) and handed to JS (forcelink: as sync steps of records, the events of one Id within a step merged into one record; salesforce-pubsub-api-client: its event callback, one per event). CPU is the process’s, every thread.',
    '',
    '| contender | events | records handed to JS | wall ms | events/s | CPU ms | CPU µs/event |',
    '|---|---|---|---|---|---|---|',
    ...rows,
    '',
    'Lag from sending a REST create to the record in JS, one change at a time (at 150 ms: REST answers 150 ms late, and a proxy delays the stream’s bytes 150 ms towards the client).',
    '',
    '| contender | latency ms | samples | p50 ms | p99 ms | max ms |',
    '|---|---|---|---|---|---|',
    ...lag,
    '',
    `REST requests for the same changes in ${b.rounds} batches: a sync run after each batch (polling every minute) against one live sync.`,
    '',
    '| mode | changes (events) | REST requests | per 10,000 changes |',
    '|---|---|---|---|',
    `| polling every minute | ${n0(b.polling.changes)} | ${n0(b.polling.rest)} | ${n0(b.polling.restPer10k)} |`,
    `| live | ${n0(b.live.changes)} | ${n0(b.live.rest)} | ${n0(b.live.restPer10k)} |`,
    '<!-- live:end -->',
  ].join('\n')
}

function writeSection(text) {
  const file = path.join(ROOT, 'BENCHMARKS.md')
  const old = fs.readFileSync(file, 'utf8')
  const re = /<!-- live:start -->[\s\S]*<!-- live:end -->/
  fs.writeFileSync(file, re.test(old) ? old.replace(re, text) : `${old.trimEnd()}\n\n${text}\n`)
}

module.exports = { section }

if (require.main === module) {
  const w = arg('worker', null)
  if (w) {
    worker(JSON.parse(w)).then(
      (r) => {
        process.stdout.write(`${JSON.stringify(r)}\n`)
        process.exit(0)
      },
      (e) => {
        console.error(e)
        process.exit(1)
      },
    )
  } else {
    main().then(
      (r) => {
        process.stdout.write(`${JSON.stringify(r)}\n`)
        if (process.argv.includes('--write')) writeSection(section(r))
        process.exit(0)
      },
      (e) => {
        console.error(e)
        process.exit(1)
      },
    )
  }
}
