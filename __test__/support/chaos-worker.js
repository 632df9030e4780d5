'use strict'
// One chaos process: `concurrency` loops of queries on random connections until SIGTERM, one JSON
// line per finished call ({ conn, ms, code }). The harness SIGKILLs these at random.
const { Forcelink } = require('../..')

const { cfg, pg, conns, concurrency, soql, thinkMs } = JSON.parse(process.argv[2])
let stopping = false
process.on('SIGTERM', () => {
  stopping = true
})

async function loop(fl) {
  while (!stopping) {
    const i = Math.floor(Math.random() * conns.length)
    const t0 = Date.now()
    let code = 'OK'
    try {
      await fl.query({ ...conns[i], soql })
    } catch (e) {
      code = e.code || 'UNKNOWN'
    }
    process.stdout.write(`${JSON.stringify({ conn: i, ms: Date.now() - t0, code, at: Date.now() })}\n`)
    if (thinkMs) await new Promise((r) => setTimeout(r, thinkMs))
  }
}

async function main() {
  let store
  if (pg) {
    const { PostgresStore } = require('../../stores/postgres')
    store = new PostgresStore({ connectionString: pg, max: 4 })
  }
  const fl = new Forcelink({ ...cfg, store })
  await Promise.all(Array.from({ length: concurrency }, () => loop(fl)))
  if (store) await store.close()
  process.exit(0)
}
main().catch((e) => {
  process.stderr.write(`chaos worker: ${e.stack || e}\n`)
  process.exit(1)
})
