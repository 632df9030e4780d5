'use strict'
// The benchmarks as the runner drives them: which contenders, how many rounds, in which processes.
// Contender order is rotated every round so no one always runs first (cold caches) or last.
const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const ROOT = path.join(__dirname, '..', '..')
const EXPORT_RECORDS = 100000
const MEMORY_RECORDS = 1000000
const PAGE_SECONDS = 10
const PAGE_WARMUP_SECONDS = 2
const PAGE_CONNECTIONS = 50

const { procCpuMs } = require('./proc')

const rotate = (xs, r) => xs.map((_, i) => xs[(i + r) % xs.length])

async function rounds(n, contenders, fn) {
  const runs = Object.fromEntries(contenders.map((c) => [c, []]))
  for (let r = 0; r < n; r++) {
    for (const c of rotate(contenders, r)) runs[c].push(await fn(c, r))
  }
  return runs
}

const SHOW = ['wallMs', 'cpuMs', 'eluBusyMs', 'jsThreadCpuMs', 'peakRssMB', 'records', 'simCpuMs', 'stealMs', 'rps', 'p50Ms', 'p99Ms', 'serverCpuPerRequestUs', 'simCpuPerRequestUs']
const fmt = (r) =>
  Object.entries(r)
    .filter(([k, v]) => typeof v === 'number' && SHOW.includes(k))
    .map(([k, v]) => `${k}=${Math.round(v * 10) / 10}`)
    .join(' ')

/** 1. Full export of 100,000 contacts. */
async function exportSuite({ sim, child, rounds: n, cpuProf, log }) {
  const contenders = ['forcelink', 'forcelink-noattrs', 'forcelink-serial', 'forcelink-ndjson', 'forcelink-csv', 'jsforce', 'incumbent', 'floor']
  const runs = await rounds(n || 3, contenders, async (c, r) => {
    const opts = { expected: c === 'incumbent' ? undefined : EXPORT_RECORDS }
    const res = await child.runTask({ module: 'export', contender: c, sim: sim.urls, simPid: sim.child.pid, opts }, { profile: cpuProf && r === 0 })
    log(`  export ${c}: ${fmt(res)}`)
    return res
  })
  return { records: EXPORT_RECORDS, runs }
}

/** 5. exportAll over 1,000,000 records: forcelink's three paths twice, the floor and the GC
 *  diagnostic once (jsforce and the incumbent are skipped: this run is about forcelink's memory). */
async function memorySuite({ sim, child, rounds: n, cpuProf, log }) {
  await sim.seed({ contacts: MEMORY_RECORDS })
  // `forcelink-csv-arena1` is the CSV stream again with glibc limited to one malloc arena
  // (MALLOC_ARENA_MAX=1): a diagnostic for memory kept by per-thread arenas of the Rust threads.
  const one = async (c, r) => {
    const execArgv = c.endsWith('-gc') ? ['--expose-gc'] : []
    const env = c.endsWith('-arena1') ? { MALLOC_ARENA_MAX: '1' } : {}
    const contender = c.replace(/-arena1$/, '')
    const res = await child.runTask({ module: 'export', contender, sim: sim.urls, simPid: sim.child.pid, opts: { expected: MEMORY_RECORDS } }, { profile: cpuProf && r === 0, timeoutMs: 600000, execArgv, env })
    log(`  memory ${c}: ${fmt(res)}`)
    return res
  }
  try {
    const runs = await rounds(n ? Math.min(n, 2) : 2, ['forcelink', 'forcelink-ndjson', 'forcelink-csv'], one)
    Object.assign(runs, await rounds(1, ['floor', 'forcelink-ndjson-gc', 'forcelink-csv-arena1'], one))
    return { records: MEMORY_RECORDS, runs }
  } finally {
    await sim.seed({ contacts: EXPORT_RECORDS })
  }
}

/** 2. The page endpoint under autocannon load. */
async function pageSuite({ sim, child, rounds: n, cpuProf, log }) {
  const autocannon = require('autocannon')
  const { paths } = require('../page-load')
  const requests = paths().map((p) => ({ method: 'GET', path: p }))
  const cannon = (port, duration) =>
    autocannon({ url: `http://127.0.0.1:${port}`, connections: PAGE_CONNECTIONS, duration, requests, timeout: 30 })
  const runs = await rounds(n || 3, ['forcelink', 'incumbent'], async (c, r) => {
    const srv = await child.startServer({ module: 'page-load', contender: c, sim: sim.urls, simPid: sim.child.pid }, { profile: cpuProf && r === 0 })
    try {
      // Every page of the cycle answers 100 records (checked once per process).
      for (const p of paths()) {
        const res = await fetch(`http://127.0.0.1:${srv.port}${p}`)
        const body = await res.json()
        if (res.status !== 200 || body.data.length !== 100) throw new Error(`${c} ${p}: ${res.status} ${JSON.stringify(body).slice(0, 200)}`)
      }
      await cannon(srv.port, PAGE_WARMUP_SECONDS)
      await srv.mark()
      const sim0 = procCpuMs(sim.child.pid)
      const me0 = process.cpuUsage()
      const ac = await cannon(srv.port, PAGE_SECONDS)
      const me = process.cpuUsage(me0)
      const sim1 = procCpuMs(sim.child.pid)
      const server = await srv.stop()
      const out = {
        rps: ac.requests.average,
        total: ac.requests.total,
        p50Ms: ac.latency.p50,
        p99Ms: ac.latency.p99,
        non2xx: ac.non2xx,
        errors: ac.errors,
        timeouts: ac.timeouts,
        serverCpuMs: server.cpuMs,
        serverEluBusyMs: server.eluBusyMs,
        serverEluUtilization: server.eluUtilization,
        serverPeakRssMB: server.peakRssMB,
        serverCpuPerRequestUs: (server.cpuMs * 1000) / Math.max(1, ac.requests.total),
        simCpuPerRequestUs: sim0 === null ? null : ((sim1 - sim0) * 1000) / Math.max(1, ac.requests.total),
        loadCpuPerRequestUs: ((me.user + me.system) / 1000 / Math.max(1, ac.requests.total)) * 1000,
      }
      log(`  page ${c}: ${fmt(out)} non2xx=${out.non2xx}`)
      return out
    } finally {
      await srv.kill()
    }
  })
  return { connections: PAGE_CONNECTIONS, seconds: PAGE_SECONDS, pages: paths().length, limit: 100, runs }
}

/** 3. The refresh storm. */
async function stormSuite({ sim, child, rounds: n, log }) {
  const runs = await rounds(n || 3, ['forcelink', 'jsforce', 'incumbent'], async (c) => {
    const res = await child.runTask({ module: 'refresh-storm', contender: c, sim: sim.urls, simPid: sim.child.pid })
    log(`  storm ${c}: tokenRequests=${res.tokenRequests} p50=${res.p50Ms.toFixed(1)} p99=${res.p99Ms.toFixed(1)} errors=${res.errors}`)
    return res
  })
  return { concurrent: require('../refresh-storm').N, runs }
}

/** 4. State sign + verify. */
async function stateSuite({ sim, child, rounds: n, log }) {
  const runs = await rounds(n || 3, ['jsonwebtoken', 'jsonwebtoken-keyobject', 'node-rs-jsonwebtoken', 'forcelink'], async (c) => {
    const res = await child.runTask({ module: 'state', contender: c, sim: sim.urls, simPid: sim.child.pid })
    log(`  state ${c}: ${Math.round(res.opsPerSec)} ops/s`)
    return res
  })
  return { runs }
}

/** 6. Boundary overhead (+ the issue-3 batch probe). */
async function overheadSuite({ sim, child, rounds: n, log }) {
  const runs = await rounds(n || 3, ['boundary'], async (c) => {
    const res = await child.runTask({ module: 'overhead', contender: c, sim: sim.urls, simPid: sim.child.pid })
    log(`  overhead: sync ${res.syncRawNs.toFixed(0)} ns, async ${res.asyncCall.seqUs.toFixed(1)} µs, store ${res.storeJs.seqUs.toFixed(1)} µs, batch string+parse ${res.batch.stringParseMs.toFixed(2)} ms`)
    return res
  })
  return { runs }
}

/** Runs `benchmark/<script>` in its own process with the benchmarked native module; its stdout is
 *  one JSON document. */
function runScript(script, child, args = []) {
  const { spawn } = require('node:child_process')
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [path.join(__dirname, '..', script), ...args], {
      cwd: ROOT,
      env: { ...process.env, FORCELINK_BENCH_NATIVE: child.nativePath() },
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let text = ''
    p.stdout.on('data', (d) => (text += d))
    p.on('error', reject)
    p.on('exit', (code) => (code === 0 ? resolve(JSON.parse(text)) : reject(new Error(`${script} exited with ${code}`))))
  })
}

/** REST vs Bulk API 2.0 engines for exportAll, and deep-page costs (benchmark/engines.js, one round:
 *  it starts its own simulator and runs each measurement in its own child process). */
async function enginesSuite({ child, log }) {
  const r = await runScript('engines.js', child)
  for (const e of r.engines) log(`  engines ${e.engine} ${e.records}: wall ${Math.round(e.wallMs)} ms, peak RSS ${Math.round(e.peakRssMB)} MB, API calls ${e.apiCalls}`)
  return r
}

/** Issue 13: exports with the simulator's latency on (benchmark/latency.js, one round: it starts its own
 *  simulators and runs each client in its own child process). */
async function latencySuite({ child, log }) {
  const r = await runScript('latency.js', child)
  for (const e of r.rest) log(`  latency ${e.name}: wall ${Math.round(e.wallMs)} ms, API calls ${e.apiCalls}`)
  return r
}

/** Issue 22: `fields: 'all'` (80 fields) beside the 6-field type, REST and Bulk (benchmark/schema.js, one
 *  round: it starts its own simulator and runs each export in its own child process). */
async function schemaSuite({ child, log }) {
  const r = await runScript('schema.js', child)
  for (const e of r.runs) log(`  schema ${e.fields} ${e.engine}: wall ${Math.round(e.wallMs)} ms, peak RSS ${Math.round(e.peakRssMB)} MB`)
  return r
}

/** Issue 23: live sync over the Pub/Sub API against salesforce-pubsub-api-client (benchmark/live.js,
 *  one round: it starts its own simulator and runs each contender in its own process). Its size:
 *  FORCELINK_BENCH_LIVE_EVENTS (default 10,000 events) and FORCELINK_BENCH_LIVE_LAG (100 samples). */
async function liveSuite({ child, log }) {
  const events = process.env.FORCELINK_BENCH_LIVE_EVENTS || '10000'
  const lag = process.env.FORCELINK_BENCH_LIVE_LAG || '100'
  const r = await runScript('live.js', child, ['--events', events, '--lag', lag])
  for (const [k, x] of Object.entries(r.throughput)) log(`  live ${k}: ${Math.round(x.eventsPerSec)} events/s, ${x.cpuUsPerEvent.toFixed(1)} µs CPU/event`)
  return r
}

/** Criterion micro-benchmarks (benchmark/micro/): short measurement windows, results read back as JSON. */
async function microSuite({ log }) {
  const home = path.join(__dirname, '..', 'results', 'criterion')
  fs.rmSync(home, { recursive: true, force: true })
  execFileSync(
    'cargo',
    ['bench', '-p', 'forcelink-microbench', '--bench', 'micro', '--', '--warm-up-time', '0.5', '--measurement-time', '1.5', '--noplot'],
    { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, CRITERION_HOME: home } },
  )
  const out = []
  const walk = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name)
      if (e.isDirectory()) {
        if (e.name === 'new' && fs.existsSync(path.join(p, 'estimates.json'))) {
          const meta = JSON.parse(fs.readFileSync(path.join(p, 'benchmark.json'), 'utf8'))
          const est = JSON.parse(fs.readFileSync(path.join(p, 'estimates.json'), 'utf8'))
          out.push({
            group: meta.group_id,
            name: meta.function_id || meta.full_id,
            medianNs: est.median.point_estimate,
            lowNs: est.median.confidence_interval.lower_bound,
            highNs: est.median.confidence_interval.upper_bound,
            elements: meta.throughput && meta.throughput.Elements ? meta.throughput.Elements : null,
          })
        } else walk(p)
      }
    }
  }
  walk(home)
  log(`  micro: ${out.length} benchmarks`)
  return { results: out }
}

module.exports = {
  EXPORT_RECORDS,
  MEMORY_RECORDS,
  export: exportSuite,
  page: pageSuite,
  storm: stormSuite,
  state: stateSuite,
  overhead: overheadSuite,
  memory: memorySuite,
  engines: enginesSuite,
  latency: latencySuite,
  schema: schemaSuite,
  live: liveSuite,
  micro: microSuite,
}
