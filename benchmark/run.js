#!/usr/bin/env node
'use strict'
// `npm run bench`: every benchmark of issue 6 in one run, then BENCHMARKS.md is rewritten.
//
//   node benchmark/run.js                      the full run (≈ 10 min on the 2-core VM, builds included)
//   node benchmark/run.js --only export,state  some benchmarks (results/partial.json; BENCHMARKS.md kept)
//   node benchmark/run.js --rounds 1           fewer rounds (a smoke run)
//   node benchmark/run.js --cpu-prof           also write --cpu-prof profiles of forcelink's processes
//   node benchmark/run.js --no-build           use the native module already in benchmark/results/native
//   node benchmark/run.js --report-only        rewrite BENCHMARKS.md from benchmark/results/latest.json
//
// Each contender runs in its own fresh Node process (lib/worker.js); the simulator (release build)
// runs in its own process on 127.0.0.1 and is started and stopped here.
const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const BENCH = __dirname
const ROOT = path.join(BENCH, '..')
const RESULTS = path.join(BENCH, 'results')
const NATIVE_DIR = path.join(RESULTS, 'native')
const ALL = ['export', 'page', 'storm', 'state', 'overhead', 'memory', 'engines', 'latency', 'schema', 'live', 'micro']

function parseArgs(argv) {
  const o = { only: ALL, rounds: null, cpuProf: false, build: true, write: null }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (a === '--only') o.only = argv[++i].split(',')
    else if (a === '--rounds') o.rounds = Number(argv[++i])
    else if (a === '--cpu-prof') o.cpuProf = true
    else if (a === '--no-build') o.build = false
    else if (a === '--write') o.write = true
    else if (a === '--report-only') o.reportOnly = true
    else if (a === '--help' || a === '-h') {
      console.log(fs.readFileSync(__filename, 'utf8').split('\n').slice(1, 13).join('\n'))
      process.exit(0)
    } else throw new Error(`unknown argument ${a}`)
  }
  for (const b of o.only) if (!ALL.includes(b)) throw new Error(`unknown benchmark ${b} (one of ${ALL.join(', ')})`)
  if (o.write === null) o.write = o.only.length === ALL.length
  return o
}

const log = (...a) => console.log(`[bench ${new Date().toISOString().slice(11, 19)}]`, ...a)
const sh = (cmd, args, opts = {}) => execFileSync(cmd, args, { cwd: ROOT, stdio: 'inherit', ...opts })
const shOut = (cmd, args) => {
  try {
    return execFileSync(cmd, args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()
  } catch (_) {
    return null
  }
}

/** benchmark/node_modules, installed on first use so the root `npm install` stays lean. */
function ensureDeps() {
  if (fs.existsSync(path.join(BENCH, 'node_modules', 'jsforce', 'package.json'))) return
  log('installing bench dependencies (npm install --prefix bench)')
  // Not `npm ci`: the lock lists @node-rs/jsonwebtoken's other-platform packages as optional without
  // entries of their own, which npm 11's ci refuses as out of sync; install keeps the locked versions
  // and --no-save leaves the lock as it is.
  sh('npm', ['install', '--no-save', '--prefix', BENCH, '--no-audit', '--no-fund'])
}

/** The release build of the native module, into benchmark/results/native (so a debug build at the repo
 *  root, or one made while the benchmarks run, cannot change what is measured), and the simulator. */
function build() {
  log('building forcelink (release, LTO) and the simulator (release)')
  const napi = path.join(ROOT, 'node_modules', '.bin', 'napi')
  sh(napi, ['build', '--platform', '--release', '--features', 'node', '--no-js', '--output-dir', NATIVE_DIR, '-p', 'forcelink'])
  sh(process.execPath, [path.join(ROOT, 'sim', 'build.js'), '--release'])
}

function nativePath() {
  const f = fs.existsSync(NATIVE_DIR) && fs.readdirSync(NATIVE_DIR).find((x) => x.endsWith('.node'))
  if (!f) throw new Error('no native build in benchmark/results/native: run without --no-build')
  return path.join(NATIVE_DIR, f)
}

function versions() {
  const pkg = (p) => {
    try {
      return JSON.parse(fs.readFileSync(require.resolve(`${p}/package.json`, { paths: [BENCH, ROOT] }), 'utf8')).version
    } catch (_) {
      return null
    }
  }
  const cpus = os.cpus()
  return {
    date: new Date().toISOString(),
    node: process.version,
    undici: process.versions.undici || null,
    v8: process.versions.v8,
    forcelink: JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version,
    forcelinkCommit: shOut('git', ['rev-parse', '--short', 'HEAD']),
    forcelinkDirty: (shOut('git', ['status', '--porcelain', '--', 'src', 'Cargo.toml', 'Cargo.lock', 'index.js', 'express.js']) || '') !== '',
    jsforce: pkg('jsforce'),
    axios: pkg('axios'),
    jsonwebtoken: pkg('jsonwebtoken'),
    nodeRsJsonwebtoken: pkg('@node-rs/jsonwebtoken'),
    autocannon: pkg('autocannon'),
    express: pkg('express'),
    rustc: shOut('rustc', ['-V']),
    machine: {
      nproc: shOut('nproc', []) || String(os.availableParallelism ? os.availableParallelism() : cpus.length),
      cpuModel: cpus.length ? cpus[0].model : null,
      memoryGB: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
      kernel: `${os.type()} ${os.release()}`,
      arch: os.arch(),
    },
  }
}

/** Waits (up to 90 s) until the machine is quiet: other sessions' builds would skew every number. */
async function waitQuiet() {
  const { machineCpu } = require('./lib/proc')
  const sample = async () => {
    const a = machineCpu()
    await new Promise((r) => setTimeout(r, 2000))
    const b = machineCpu()
    return a === null ? 0 : (b.procs - a.procs) / 2000 // cores busy
  }
  const t0 = Date.now()
  let busy = await sample()
  while (busy > 0.25 && Date.now() - t0 < Math.min(90000, 3 * (Number(process.env.FORCELINK_BENCH_SETTLE_MS) >= 0 ? Number(process.env.FORCELINK_BENCH_SETTLE_MS) : 30000))) {
    log(`machine busy (${busy.toFixed(2)} cores used by other processes): waiting for it to settle`)
    busy = await sample()
  }
  return busy
}

async function main() {
  const o = parseArgs(process.argv.slice(2))
  if (o.reportOnly) {
    const { render } = require('./lib/report')
    writeBenchmarks(render(JSON.parse(fs.readFileSync(path.join(RESULTS, 'latest.json'), 'utf8'))))
    return log('BENCHMARKS.md rewritten from benchmark/results/latest.json')
  }
  const t0 = Date.now()
  fs.mkdirSync(RESULTS, { recursive: true })
  ensureDeps()
  if (o.build) build()
  else if (!fs.existsSync(path.join(ROOT, 'target', 'release', 'forcelink-sim'))) sh(process.execPath, [path.join(ROOT, 'sim', 'build.js'), '--release'])

  const child = require('./lib/child')
  const profDir = o.cpuProf ? path.join(RESULTS, 'profiles') : null
  if (profDir) fs.mkdirSync(profDir, { recursive: true })
  child.configure({ native: nativePath(), cpuProfDir: profDir, log })
  const suites = require('./lib/suites')
  const { startSim } = require('./lib/sim')

  const results = { versions: versions(), rounds: {}, benchmarks: {} }
  // The zero-latency export rows of the BENCHMARKS.md being replaced, so this run can show its own
  // beside them (issue 13: they must not regress by more than 10 %).
  results.previous = require('./lib/report').previousExport(path.join(ROOT, 'BENCHMARKS.md'))
  results.busyCoresAtStart = await waitQuiet()
  const load0 = require('node:os').loadavg()[0]
  log(`node ${results.versions.node}, ${results.versions.machine.nproc} cores, ${results.versions.machine.cpuModel}`)
  const sim = await startSim(['--contacts', String(suites.EXPORT_RECORDS)])
  // The simulator enforces a daily API request limit like Salesforce; a benchmark run makes well
  // over a hundred thousand requests, so it is raised out of the way (and usage reset).
  await sim.setConfig({ apiLimit: 1e12, apiUsage: 0 })
  const stopSim = () => sim.stop()
  process.once('SIGINT', () => stopSim().then(() => process.exit(130)))
  try {
    for (const name of ALL) {
      if (!o.only.includes(name)) continue
      const s0 = Date.now()
      log(`— ${name}`)
      results.benchmarks[name] = await suites[name]({ sim, child, rounds: o.rounds, cpuProf: o.cpuProf, log, results })
      results.benchmarks[name].elapsedSeconds = Math.round((Date.now() - s0) / 100) / 10
      log(`  ${name} done in ${results.benchmarks[name].elapsedSeconds} s`)
    }
  } finally {
    await stopSim()
  }
  results.totalSeconds = Math.round((Date.now() - t0) / 1000)
  // A shared machine shows here: the 1-minute load average against the core count.
  const load1 = require('node:os').loadavg()[0]
  const cores = results.versions.machine.nproc
  if (Math.max(load0, load1) > cores) results.load = `1-minute load average ${load0.toFixed(1)} at the start and ${load1.toFixed(1)} at the end on ${cores} cores: a shared machine, other work ran beside the benchmarks, so absolute figures are slower than on an idle one`
  const out = path.join(RESULTS, o.write ? 'latest.json' : 'partial.json')
  fs.writeFileSync(out, JSON.stringify(results, null, 2))
  log(`results: ${path.relative(ROOT, out)}`)
  if (o.write) {
    const { render } = require('./lib/report')
    writeBenchmarks(render(results))
    log('BENCHMARKS.md rewritten')
  }
  log(`total ${results.totalSeconds} s`)
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})

// The chaos runs' sections (`npm run chaos -- --write`), the keepAlive benchmark's
// (`node benchmark/keepalive.js --write`), the schema and live ones (`node benchmark/schema.js --write`,
// `node benchmark/live.js --write`) when
// this run has none survive a benchmark rewrite.
function writeBenchmarks(text) {
  const file = path.join(ROOT, 'BENCHMARKS.md')
  const old = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : ''
  const kept = ['chaos', 'chaos-keepalive', 'keepalive', 'schema', 'live']
    .filter((name) => !text.includes(`<!-- ${name}:start -->`))
    .map((name) => old.match(new RegExp(`<!-- ${name}:start -->[\\s\\S]*<!-- ${name}:end -->\\n?`)))
    .filter(Boolean)
    .map((m) => m[0].trimEnd())
  fs.writeFileSync(file, kept.length ? `${text.trimEnd()}\n\n${kept.join('\n\n')}\n` : text)
}
