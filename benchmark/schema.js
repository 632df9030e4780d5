'use strict'
// Issue 22: what `fields: 'all'` costs. A 100,000-record export of Contact with 80 fields (its 15
// plus 65 custom fields added at runtime, null until written) against the 6-field `contacts`
// type, REST and Bulk, wall time, peak RSS and API calls. benchmark/run.js runs it as its `schema` suite.
//
//   node benchmark/schema.js [--quick | --records N] [--write]
//
// prints JSON; --quick is 10,000 records; --write replaces the schema section of BENCHMARKS.md.
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
  await sim.resetCounts()
  const t0 = performance.now()
  let n = 0
  let fields = 0
  for await (const b of fl.exportAll({ ...conn, type, engine: task.engine, onProgress: (p) => (fields = p.fields ? p.fields.length : fields) })) n += b.length
  const wallMs = performance.now() - t0
  const c = await sim.counts()
  await fl.close()
  return { records: n, fieldCount: fields, wallMs, peakRssMB: process.resourceUsage().maxRSS / 1024, apiCalls: c.rest }
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
  const at = process.argv.indexOf('--records')
  const records = at > 0 ? Number(process.argv[at + 1]) : process.argv.includes('--quick') ? 10000 : 100000
  const sim = await startSim(['--contacts', String(records)])
  try {
    await sim.setConfig({ bulkJobMs: 0 })
    for (let i = 1; i <= CUSTOM_FIELDS; i++) await sim.control('fields/add', { type: 'Contact', field: `Bench_${i}__c` })
    const runs = []
    for (const all of [false, true]) {
      for (const engine of ['rest', 'bulk']) runs.push({ fields: all ? "'all'" : 'contacts (6)', engine, ...(await runChild(sim.urls, { all, engine })) })
    }
    const result = { records, customFields: CUSTOM_FIELDS, runs }
    process.stdout.write(JSON.stringify(result, null, 2) + '\n')
    if (process.argv.includes('--write')) write(result)
  } finally {
    await sim.stop()
  }
}

/** Replaces (or appends) the schema section of BENCHMARKS.md, as benchmark/run.js would render it. */
function write(result) {
  const fs = require('node:fs')
  const path = require('node:path')
  const os = require('node:os')
  const { execFileSync } = require('node:child_process')
  const { schemaSection } = require('./lib/report')
  const root = path.join(__dirname, '..')
  let commit = 'unknown'
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim()
  } catch (_) {
    // not a git checkout: the section says so
  }
  // FORCELINK_BENCH_NATIVE_NOTE says which build FORCELINK_BENCH_NATIVE is (profile, commit).
  const native = process.env.FORCELINK_BENCH_NATIVE_NOTE || (process.env.FORCELINK_BENCH_NATIVE ? `native module ${path.basename(process.env.FORCELINK_BENCH_NATIVE)}` : 'the native module at the repo root')
  const load = os.loadavg()[0].toFixed(1)
  const note = `Written by \`node benchmark/schema.js --write\` on ${new Date().toISOString().slice(0, 10)} (commit ${commit}, ${os.cpus().length} cores, Node ${process.version}, ${native}; 1-minute load average ${load} at the end: other work shared the machine).`
  const section = schemaSection(result, note)
  const file = path.join(root, 'BENCHMARKS.md')
  const old = fs.readFileSync(file, 'utf8')
  const re = /<!-- schema:start -->[\s\S]*<!-- schema:end -->\n?/
  fs.writeFileSync(file, re.test(old) ? old.replace(re, `${section}\n`) : `${old.trimEnd()}\n\n${section}\n`)
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
