'use strict'
// One keepAlive process of the chaos keep-alive phase: one sweep over every connection last
// granted before `cutoff` (the sweep's start), then one JSON line with the result.
const { Forcelink } = require('../..')

const { cfg, pg, cutoff, concurrency } = JSON.parse(process.argv[2])

async function main() {
  let store
  if (pg) {
    const { PostgresStore } = require('../../stores/postgres')
    store = new PostgresStore({ connectionString: pg, max: 4 })
  }
  const fl = new Forcelink({ ...cfg, store })
  // Forcelink's clock does not follow the simulator's: "older than the sweep's start" is what
  // "older than 20 days" means once 20 virtual days have passed.
  const r = await fl.keepAlive({ olderThanMs: Math.max(0, Date.now() - cutoff), concurrency })
  process.stdout.write(`${JSON.stringify(r)}\n`)
  await fl.close()
  if (store) await store.close()
}
main().catch((e) => {
  process.stdout.write(`${JSON.stringify({ error: e.code || 'UNKNOWN', message: e.message })}\n`)
  process.exit(1)
})
