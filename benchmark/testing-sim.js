'use strict'
// What `forcelink/testing`'s simulator costs a host's test run (README "Testing your integration"):
// start-up to ready, the simulator process's memory and threads, what the test process itself
// gains, and W simulators started at once as W Jest workers would. Linux (reads /proc).
//   node benchmark/testing-sim.js [--runs N] [--workers W]      FORCELINK_SIM_BINARY picks the binary
const fs = require('node:fs')
const { execFileSync } = require('node:child_process')
const { Forcelink } = require('..')
const { startSimulator, connectForTest, simulatorBinary } = require('../testing')

const argv = process.argv.slice(2)
const opt = (name, d) => (argv.includes(name) ? Number(argv[argv.indexOf(name) + 1]) : d)
const RUNS = opt('--runs', 10)
const WORKERS = opt('--workers', 4)

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const mib = (kb) => Math.round((kb / 1024) * 10) / 10
/** The simulator children of this process: pid, VmRSS (kB), Threads. */
function children() {
  const out = execFileSync('ps', ['-o', 'pid=', '--ppid', String(process.pid)], { encoding: 'utf8' })
  return out
    .split('\n')
    .map((l) => Number(l.trim()))
    .filter((pid) => pid > 0)
    .map((pid) => {
      try {
        const s = fs.readFileSync(`/proc/${pid}/status`, 'utf8')
        const field = (k) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(s)?.[1])
        return { pid, name: /^Name:\s+(\S+)/m.exec(s)?.[1], rssKb: field('VmRSS'), threads: field('Threads') }
      } catch (_) {
        return null
      }
    })
    .filter((c) => c && /forcelink-sim/.test(c.name))
}

async function main() {
  const bin = simulatorBinary()
  const result = { binary: bin, binaryMiB: mib(fs.statSync(bin).size / 1024), node: process.version, runs: RUNS, workers: WORKERS }
  const ready = []
  const closeMs = []
  const rssIdle = []
  const rssUsed = []
  const hostDelta = []
  let threads = 0
  for (let i = 0; i < RUNS; i++) {
    global.gc?.()
    const hostBefore = process.memoryUsage().rss
    const t0 = performance.now()
    const sim = await startSimulator({ contacts: 2500 })
    ready.push(performance.now() - t0)
    const [c] = children()
    rssIdle.push(c.rssKb)
    threads = c.threads
    // What a typical test does: connect, export a few pages, a refresh.
    const fl = new Forcelink(sim.forcelinkConfig())
    const who = { accountId: `m${i}`, ownerId: 'u' }
    await connectForTest(fl, who)
    for (let p = 1; p <= 3; p++) await fl.exportPage({ ...who, type: 'contacts', page: p, limit: 1000 })
    await sim.control.expireTokens()
    await fl.query({ ...who, soql: 'SELECT Id FROM Contact LIMIT 1' })
    rssUsed.push(children()[0].rssKb)
    await fl.close()
    hostDelta.push((process.memoryUsage().rss - hostBefore) / 1024)
    const t1 = performance.now()
    await sim.close()
    closeMs.push(performance.now() - t1)
  }
  Object.assign(result, {
    readyMs: { median: Math.round(median(ready)), min: Math.round(Math.min(...ready)), max: Math.round(Math.max(...ready)) },
    closeMs: Math.round(median(closeMs)),
    simRssMiB: { idle: mib(median(rssIdle)), afterTypicalTest: mib(median(rssUsed)) },
    simThreads: threads,
    testProcessRssDeltaMiB: mib(median(hostDelta)),
  })

  // W Jest workers, each starting its own simulator at the same moment.
  const t0 = performance.now()
  const sims = await Promise.all(Array.from({ length: WORKERS }, () => startSimulator({ contacts: 2500 })))
  const allReady = performance.now() - t0
  const kids = children()
  result.parallel = { allReadyMs: Math.round(allReady), totalSimRssMiB: mib(kids.reduce((a, c) => a + c.rssKb, 0)), simulators: kids.length }
  await Promise.all(sims.map((s) => s.close()))
  console.log(JSON.stringify(result, null, 2))
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
