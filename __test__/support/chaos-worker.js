'use strict'
// One chaos process: `concurrency` loops of queries on random connections until SIGTERM, one JSON
// line per finished call ({ conn, ms, code }). The harness SIGKILLs these at random.
const { Forcelink } = require('../..')

const { cfg, pg, conns, concurrency, soql, thinkMs } = JSON.parse(process.argv[2])
let stopping = false
/** @type {Promise<unknown> | null} */
let closing = null
let fl
process.on('SIGTERM', () => {
  stopping = true
  // close() with calls in flight: it must save every rotated token before the store closes.
  if (fl) closing = fl.close().then(
    () => null,
    (e) => e,
  )
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
      if (process.env.CHAOS_DEBUG && code !== 'SALESFORCE_UNAVAILABLE') process.stderr.write(`${code}: ${e.message}\n`)
    }
    if (stopping && code === 'CLOSED') break
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
  fl = new Forcelink({ ...cfg, store })
  await Promise.all(Array.from({ length: concurrency }, () => loop(fl)))
  const err = await (closing || fl.close().then(() => null, (e) => e))
  if (err) process.stdout.write(`${JSON.stringify({ conn: -1, ms: 0, code: 'CLOSE_FAILED', at: Date.now() })}\n`)
  if (store) await store.close()
  process.exit(0)
}
main().catch((e) => {
  process.stderr.write(`chaos worker: ${e.stack || e}\n`)
  process.exit(1)
})
