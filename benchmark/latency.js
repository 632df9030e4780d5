'use strict'
// Issue 13 figures: exports against the simulator with its latency on (a real org answers in
// hundreds of milliseconds, so an export is a chain of waits), side by side, each client in its own
// process: REST exportAll of 100,000 contacts at 150 ms per request (forcelink defaults, parallelism
// 8, serial, jsforce), Bulk result pages vs the sequential locator walk for 1,000,000 contacts at
// 100 ms per request, and the server's peak RSS for the no-limit Express page of 200,000 contacts.
// `node benchmark/latency.js [--quick]` prints JSON; benchmark/run.js folds it into BENCHMARKS.md.
const { fork } = require('node:child_process')
const { startSim, controlClient } = require('./lib/sim')
const peers = require('./lib/peers')
const { procCpuMs } = require('./lib/proc')

/** Wall, process CPU (every thread: Rust's too) and the JS thread's busy time, from now on. */
function meter() {
  const t0 = performance.now()
  const cpu0 = process.cpuUsage()
  const elu0 = performance.eventLoopUtilization()
  return () => {
    const cpu = process.cpuUsage(cpu0)
    return {
      wallMs: performance.now() - t0,
      cpuMs: (cpu.user + cpu.system) / 1000,
      jsBusyMs: performance.eventLoopUtilization(elu0).active,
    }
  }
}

/** The sim's contact Id at index `i` (`0035g00` + 8 base62 digits + `AAK`, byte order = index
 *  order), so the limit client knows its range boundaries without asking (the best case). */
function contactId(i) {
  const B62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'
  let d = ''
  for (let k = 0, v = i; k < 8; k++, v = Math.floor(v / 62)) d = B62[v % 62] + d
  return `0035g00${d}AAK`
}

/** The physical limit of a K-way REST export: K loops of bare `fetch` + `JSON.parse`, each over
 *  one of K equal Id ranges (the records forcelink's K ranges cover), following its own
 *  `nextRecordsUrl` chain; same fields, same 2,000-record batches; nothing else. */
async function limitRun(tok, k, total) {
  const headers = { authorization: `Bearer ${tok.access_token}`, 'sforce-query-options': 'batchSize=2000' }
  const fields = 'Name, Account.Name, Title, Phone, Email, Owner.Alias'
  const loop = async (r) => {
    const lo = r === 0 ? null : contactId(Math.floor((r * total) / k))
    const hi = r === k - 1 ? null : contactId(Math.floor(((r + 1) * total) / k))
    const where = [lo && `Id >= '${lo}'`, hi && `Id < '${hi}'`].filter(Boolean).join(' AND ')
    const soql = `SELECT ${fields} FROM Contact${where ? ` WHERE ${where}` : ''} ORDER BY Id`
    let url = `${tok.instance_url}/services/data/v62.0/query?q=${encodeURIComponent(soql)}`
    let n = 0
    for (;;) {
      const res = await fetch(url, { headers })
      if (!res.ok) throw new Error(`limit: ${res.status} ${await res.text()}`)
      const page = JSON.parse(await res.text())
      n += page.records.length
      if (page.done || !page.nextRecordsUrl) return n
      url = tok.instance_url + page.nextRecordsUrl
    }
  }
  const counts = await Promise.all(Array.from({ length: k }, (_, r) => loop(r)))
  return counts.reduce((a, b) => a + b, 0)
}

async function child(urls, task) {
  const sim = { ...urls, ...controlClient(urls) }
  if (task.kind === 'limit') {
    const tok = await peers.raw(sim)
    await sim.resetCounts()
    const m = meter()
    const records = await limitRun(tok, task.k, task.total)
    const used = m()
    const c = await sim.counts()
    return { records, ...used, apiCalls: c.query + c.queryMore, peakRssMB: process.resourceUsage().maxRSS / 1024 }
  }
  if (task.kind === 'rest') {
    let run
    if (task.client === 'jsforce') {
      const conn = await peers.jsforce(sim)
      run = async () => {
        let n = 0
        // jsforce's own autoFetch walk of the nextRecordsUrl chain.
        await new Promise((resolve, reject) => {
          conn
            .query('SELECT Id, FirstName, LastName, Email, Phone, Title, AccountId, CreatedDate, LastModifiedDate FROM Contact ORDER BY Id')
            .on('record', () => n++)
            .on('end', resolve)
            .on('error', reject)
            .run({ autoFetch: true, maxFetch: 10_000_000 })
        })
        return n
      }
    } else {
      const { fl, conn } = await peers.forcelink(sim)
      run = async () => {
        let n = 0
        for await (const b of fl.exportAll({ ...conn, type: 'contacts', ...task.opts })) n += b.length
        return n
      }
    }
    await sim.resetCounts()
    const m = meter()
    const records = await run()
    const used = m()
    const c = await sim.counts()
    return { records, ...used, apiCalls: c.query + c.queryMore, peakRssMB: process.resourceUsage().maxRSS / 1024 }
  }
  if (task.kind === 'bulk') {
    const { fl, conn } = await peers.forcelink(sim, task.apiVersion ? { apiVersion: task.apiVersion } : {})
    await sim.resetCounts()
    const m = meter()
    let n = 0
    let bytes = 0
    if (task.format) {
      // Bytes only: the CSV passthrough (or NDJSON), counted, never parsed.
      for await (const chunk of fl.exportStream({ ...conn, type: 'contacts', engine: 'bulk', format: task.format, onProgress: (p) => (n = p.fetched) })) bytes += chunk.length
    } else {
      for await (const b of fl.exportAll({ ...conn, type: 'contacts', engine: 'bulk', ...task.opts })) n += b.length
    }
    const used = m()
    const c = await sim.counts()
    return { records: n, bytes, ...used, bulkCalls: c.bulk, peakRssMB: process.resourceUsage().maxRSS / 1024 }
  }
  // The Express server for the no-limit page: this process serves, the parent downloads.
  const express = require('express')
  const { salesforceRouter } = require('../express')
  const { fl, conn } = await peers.forcelink(sim)
  const app = express()
  app.use((req, _res, next) => {
    req.auth = { account_id: conn.accountId, uid: conn.ownerId }
    next()
  })
  app.use('/sf', salesforceRouter(fl, { express }))
  const server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s))
  })
  global.gc && global.gc()
  const idleMB = process.memoryUsage().rss / 1024 / 1024
  // The download runs in the parent process: this process only serves, so its RSS is the server's.
  await new Promise((resolve) => {
    process.once('message', resolve)
    process.send({ ready: { port: server.address().port, idleMB } })
  })
  server.close()
  const peakRssMB = process.resourceUsage().maxRSS / 1024
  return { idleMB, peakRssMB, growthMB: peakRssMB - idleMB }
}

/** The streamed page: the server in a child process, the download here (another process). */
function runPageServer(urls) {
  return new Promise((resolve, reject) => {
    const p = fork(__filename, ['--child'], { env: process.env, execArgv: ['--expose-gc'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    let bytes = 0
    p.on('message', (m) => {
      if (m.error) return reject(new Error(m.error))
      if (m.result) return resolve({ bytes, ...m.result })
      if (m.ready) {
        ;(async () => {
          const res = await fetch(`http://127.0.0.1:${m.ready.port}/sf/export/contacts`)
          for await (const chunk of res.body) bytes += chunk.length
          p.send({ done: true })
        })().catch(reject)
      }
    })
    p.once('error', reject)
    p.send({ urls, task: { kind: 'page' } })
  })
}

function runChild(urls, task) {
  return new Promise((resolve, reject) => {
    const p = fork(__filename, ['--child'], { env: process.env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    p.once('message', (m) => (m.error ? reject(new Error(m.error)) : resolve(m.result)))
    p.once('error', reject)
    p.send({ urls, task })
  })
}

/** The no-limit page as the incumbent-shaped handler built it before (one string): `git stash`-free,
 *  by asking the page through `exportPageJson`, which still builds the whole body. */
async function wholePageChild(urls) {
  const sim = { ...urls, ...controlClient(urls) }
  const { fl, conn } = await peers.forcelink(sim)
  const idleMB = process.memoryUsage().rss / 1024 / 1024
  const body = await fl.exportPageJson({ ...conn, type: 'contacts' })
  const text = `{"success":true,"message":"SUCCESS",${body.slice(1)}`
  return { bytes: Buffer.byteLength(text), idleMB, peakRssMB: process.resourceUsage().maxRSS / 1024, growthMB: process.resourceUsage().maxRSS / 1024 - idleMB }
}

async function main() {
  const quick = process.argv.includes('--quick')
  const restN = quick ? 20_000 : 100_000
  const bulkN = quick ? 200_000 : 1_000_000
  const pageN = quick ? 50_000 : 200_000
  const out = { rest: [], bulk: [], page: [] }
  // `--only rest,bulk,page`: a part of the run (while working on one of them).
  const onlyAt = process.argv.indexOf('--only')
  const only = new Set(onlyAt > 0 ? process.argv[onlyAt + 1].split(',') : ['rest', 'bulk', 'page'])
  let sim
  // REST at 150 ms per request.
  if (only.has('rest')) {
  sim = await startSim(['--contacts', String(restN), '--latency-ms', '150'])
  try {
    for (const [name, client, opts] of [
      ['forcelink exportAll (defaults: parallelism 4)', 'forcelink', {}],
      ['forcelink exportAll parallelism 8', 'forcelink', { parallelism: 8 }],
      ['forcelink exportAll serial (parallelism 1)', 'forcelink', { parallelism: 1 }],
      ['jsforce 3 query autoFetch', 'jsforce', {}],
    ]) {
      const simCpu0 = procCpuMs(sim.child.pid)
      const r = await runChild(sim.urls, { kind: 'rest', client, opts })
      out.rest.push({ name, latencyMs: 150, parallelism: client === 'jsforce' ? null : opts.parallelism ?? 4, ...r, simCpuMs: procCpuMs(sim.child.pid) - simCpu0 })
      console.error(`[latency] ${name}: ${restN} records in ${Math.round(r.wallMs)} ms, ${r.apiCalls} calls`)
    }
    // Issue 21: the physical limit for each K measured above, in the same run.
    out.limit = []
    for (const k of [4, 8, 1]) {
      const simCpu0 = procCpuMs(sim.child.pid)
      const r = await runChild(sim.urls, { kind: 'limit', k, total: restN })
      out.limit.push({ name: `limit: ${k} × bare fetch + JSON.parse over ${k} Id ranges`, latencyMs: 150, parallelism: k, ...r, simCpuMs: procCpuMs(sim.child.pid) - simCpu0 })
      console.error(`[latency] limit K=${k}: ${r.records} records in ${Math.round(r.wallMs)} ms, ${r.apiCalls} calls`)
    }
  } finally {
    await sim.stop()
  }
  }
  // Bulk at 100 ms per request: resultPages (API 62.0) vs the locator walk (API 57.0).
  if (only.has('bulk')) {
  sim = await startSim(['--contacts', String(bulkN), '--latency-ms', '100', '--bulk-job-ms', '0'])
  try {
    for (const [name, apiVersion, format, opts] of [
      ['Bulk resultPages (API 62.0, 5 pages at once, gzip)', null, null, {}],
      ['Bulk sequential locators (API 57.0)', '57.0', null, {}],
      ['Bulk resultPages exportStream CSV (bytes, passthrough)', null, 'csv', {}],
      ['Bulk resultPages exportStream NDJSON (bytes)', null, 'ndjson', {}],
      ['Bulk resultPages exportAll attributes: false', null, null, { attributes: false }],
    ]) {
      const simCpu0 = procCpuMs(sim.child.pid)
      const r = await runChild(sim.urls, { kind: 'bulk', apiVersion, format, opts })
      out.bulk.push({ name, latencyMs: 100, format, ...r, simCpuMs: procCpuMs(sim.child.pid) - simCpu0 })
      console.error(`[latency] ${name}: ${r.records} records in ${Math.round(r.wallMs)} ms`)
    }
  } finally {
    await sim.stop()
  }
  }
  // The no-limit Express page: streamed vs the whole body in one string.
  if (only.has('page')) {
  sim = await startSim(['--contacts', String(pageN)])
  try {
    const streamed = await runPageServer(sim.urls)
    out.page.push({ name: 'no-limit page, streamed (this issue)', records: pageN, ...streamed })
    const whole = await runChild(sim.urls, { kind: 'whole' })
    out.page.push({ name: 'no-limit page built whole (before)', records: pageN, ...whole })
    for (const p of out.page) console.error(`[latency] ${p.name}: ${(p.bytes / 1e6).toFixed(1)} MB body, RSS growth ${Math.round(p.growthMB)} MB`)
  } finally {
    await sim.stop()
  }
  }
  process.stdout.write(JSON.stringify(out, null, 2) + '\n')
}

if (process.argv.includes('--child')) {
  process.once('message', ({ urls, task }) =>
    (task.kind === 'whole' ? wholePageChild(urls) : child(urls, task)).then(
      (result) => process.send({ result }, () => process.exit(0)),
      (e) => process.send({ error: e.stack || String(e) }, () => process.exit(1)),
    ),
  )
} else {
  main().catch((e) => {
    console.error(e)
    process.exit(1)
  })
}
