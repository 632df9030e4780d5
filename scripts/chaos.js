'use strict'
// npm run chaos [-- --store sqlite|postgres|both] [--procs P] [--concurrency C] [--seconds S]
// Runs the chaos harness (scripts/lib/chaos.js) and exits non-zero unless every run passes.
const { runChaos } = require('./lib/chaos')

function arg(name, def) {
  const i = process.argv.indexOf(`--${name}`)
  return i > 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1] : def
}

async function main() {
  const which = arg('store', 'both')
  const stores = which === 'both' ? ['sqlite', 'postgres'] : [which]
  const opts = {
    procs: Number(arg('procs', 6)),
    concurrency: Number(arg('concurrency', 8)),
    durationMs: Number(arg('seconds', 120)) * 1000,
    connections: Number(arg('connections', 3)),
  }
  let ok = true
  for (const store of stores) {
    process.stderr.write(`chaos: ${store}, ${opts.procs} processes × ${opts.concurrency} calls, ${opts.durationMs / 1000} s\n`)
    const r = await runChaos({ ...opts, store })
    console.log(JSON.stringify(r, null, 2))
    ok = ok && r.pass
  }
  process.exit(ok ? 0 : 1)
}
main().catch((e) => {
  console.error(e)
  process.exit(1)
})
