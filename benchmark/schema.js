'use strict'
// Issue 22: what `fields: 'all'` costs. A 100,000-record export of Contact with 80 fields (its 15
// plus 65 custom fields added at runtime, null until written) against the 6-field `contacts`
// type, REST and Bulk, wall time and peak RSS. `node benchmark/schema.js [--quick]` prints JSON.
// Each measurement runs in its own child process (fresh heap, its own maxRSS).
const { fork } = require('node:child_process')
const { startSim, controlClient } = require('./lib/sim')
const peers = require('./lib/peers')

const CUSTOM_FIELDS = 65

async function child(urls, task) {
  const sim = { ...urls, ...controlClient(urls) }
  const { fl, conn } = await peers.forcelink(sim, {
    exportTypes: { contactsAll: { object: 'Contact', fields: 'all', attributes: false } },
  })
  const type = task.all ? 'contactsAll' : 'contacts'
  const t0 = performance.now()
  let n = 0
  let fields = 0
  for await (const b of fl.exportAll({ ...conn, type, engine: task.engine, onProgress: (p) => (fields = p.fields ? p.fields.length : fields) })) n += b.length
  const wallMs = performance.now() - t0
  return { records: n, fields, wallMs, peakRssMB: process.resourceUsage().maxRSS / 1024 }
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
  const records = process.argv.includes('--quick') ? 10000 : 100000
  const sim = await startSim(['--contacts', String(records)])
  try {
    await sim.setConfig({ bulkJobMs: 0 })
    for (let i = 1; i <= CUSTOM_FIELDS; i++) await sim.control('fields/add', { type: 'Contact', field: `Bench_${i}__c` })
    const runs = []
    for (const all of [false, true]) {
      for (const engine of ['rest', 'bulk']) runs.push({ fields: all ? "'all'" : 'contacts (6)', engine, ...(await runChild(sim.urls, { all, engine })) })
    }
    process.stdout.write(JSON.stringify({ records, runs }, null, 2) + '\n')
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
