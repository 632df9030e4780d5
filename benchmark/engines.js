'use strict'
// Issue 3 and 5 figures: REST vs Bulk API 2.0 for exportAll (wall, peak RSS, Salesforce API calls)
// at 100,000 and 1,000,000 records, and what a deep page costs with `exportPage`.
// `node benchmark/engines.js [--quick]` prints JSON; benchmark/run.js folds it into BENCHMARKS.md.
// Each measurement runs in its own child process (fresh heap, its own maxRSS).
const { fork } = require('node:child_process')
const { startSim, controlClient } = require('./lib/sim')
const peers = require('./lib/peers')

async function child(urls, task) {
  const sim = { ...urls, ...controlClient(urls) }
  const { fl, conn } = await peers.forcelink(sim)
  if (task.kind === 'export') {
    await sim.resetCounts()
    const t0 = performance.now()
    let n = 0
    let firstBatchMs = null
    for await (const b of fl.exportAll({ ...conn, type: 'contacts', engine: task.engine })) {
      if (firstBatchMs === null) firstBatchMs = performance.now() - t0
      n += b.length
    }
    const wallMs = performance.now() - t0
    const c = await sim.counts()
    return { records: n, wallMs, firstBatchMs, peakRssMB: process.resourceUsage().maxRSS / 1024, apiCalls: c.rest, queryCalls: c.query + c.queryMore, bulkCalls: c.bulk || 0 }
  }
  // Deep pages: a cold instance (no remembered keys) per offset, then the next page warm.
  const out = []
  for (const page of task.pages) {
    const { fl: cold } = await peers.forcelink(sim, { store: undefined })
    const t0 = performance.now()
    const r = await cold.exportPage({ ...conn, type: 'contacts', page, limit: 100 })
    const coldMs = performance.now() - t0
    const t1 = performance.now()
    const next = await cold.exportPage({ ...conn, type: 'contacts', page: page + 1, limit: 100 })
    out.push({ page, offset: (page - 1) * 100, coldMs, coldCalls: r.apiCalls, nextMs: performance.now() - t1, nextCalls: next.apiCalls })
  }
  return out
}

function runChild(urls, task) {
  return new Promise((resolve, reject) => {
    const p = fork(__filename, ['--child'], { env: process.env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    p.once('message', (m) => (m.error ? reject(new Error(m.error)) : resolve(m.result)))
    p.once('error', reject)
    p.send({ urls, task })
  })
}

async function main() {
  const quick = process.argv.includes('--quick')
  const sizes = quick ? [20000, 100000] : [100000, 1000000]
  const sim = await startSim(['--contacts', String(sizes[0])])
  try {
    await sim.setConfig({ bulkJobMs: 0 })
    const engines = []
    for (const records of sizes) {
      await sim.seed({ contacts: records })
      for (const engine of ['rest', 'bulk']) engines.push({ engine, ...(await runChild(sim.urls, { kind: 'export', engine })) })
    }
    await sim.seed({ contacts: 100000 })
    const deep = await runChild(sim.urls, { kind: 'deep', pages: [1, 21, 101, 501, 999] })
    process.stdout.write(JSON.stringify({ engines, deep }, null, 2) + '\n')
  } finally {
    await sim.stop()
  }
}

if (process.argv.includes('--child')) {
  process.once('message', ({ urls, task }) =>
    child(urls, task).then(
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
