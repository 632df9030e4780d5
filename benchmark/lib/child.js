'use strict'
// Runner side of lib/worker.js: fork a fresh Node process per measurement.
const { fork } = require('node:child_process')
const path = require('node:path')

const { machineCpu } = require('./proc')

const WORKER = path.join(__dirname, 'worker.js')
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

/** How long `settle` waits at most (`FORCELINK_BENCH_SETTLE_MS`, default 30 s): on a machine that
 *  never settles (shared by other sessions' builds) a shorter wait only shortens the run. */
const SETTLE_MS = Number(process.env.FORCELINK_BENCH_SETTLE_MS) >= 0 ? Number(process.env.FORCELINK_BENCH_SETTLE_MS) : 30000

/**
 * Before each measurement: wait (up to SETTLE_MS) while processes outside the benchmark keep more than
 * a third of a core busy, so another session's build does not land inside a measured section.
 * Between measurements nothing of ours runs, so whatever the machine does is someone else's.
 */
async function settle(log) {
  const t0 = Date.now()
  for (;;) {
    const a = machineCpu()
    if (!a) return
    await sleep(500)
    const b = machineCpu()
    const cores = (b.procs - a.procs) / 500
    if (cores < 0.34 || Date.now() - t0 > SETTLE_MS) return
    if (log) log(`  (waiting: other processes keep ${cores.toFixed(2)} cores busy)`)
    await sleep(1000)
  }
}
let LOG = null
let NATIVE = null // the release build of forcelink the children load (set by run.js)
let CPU_PROF_DIR = null

function configure({ native, cpuProfDir, log }) {
  NATIVE = native
  LOG = log || null
  CPU_PROF_DIR = cpuProfDir || null
}

function spawnWorker(task, { execArgv = [], profile = false, env: extraEnv = {} } = {}) {
  const args = [...execArgv]
  if (profile && CPU_PROF_DIR) args.push('--cpu-prof', `--cpu-prof-dir=${CPU_PROF_DIR}`, `--cpu-prof-name=${task.module}-${task.contender}-${Date.now()}.cpuprofile`)
  const env = { ...process.env, ...extraEnv }
  if (NATIVE) env.FORCELINK_BENCH_NATIVE = NATIVE
  delete env.NAPI_RS_NATIVE_LIBRARY_PATH
  delete env.NODE_OPTIONS
  const child = fork(WORKER, [], { execArgv: args, env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  child.send({ type: 'task', task })
  return child
}

/** Runs one measured task in its own process; resolves with its result. */
async function runTask(task, opts = {}) {
  await settle(LOG)
  return runTaskNow(task, opts)
}

function runTaskNow(task, { timeoutMs = 300000, execArgv, profile, env } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawnWorker(task, { execArgv, profile, env })
    let settled = false
    const done = (fn, v) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      fn(v)
    }
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      done(reject, new Error(`${task.module}/${task.contender} timed out after ${timeoutMs} ms`))
    }, timeoutMs)
    child.on('message', (m) => {
      if (m.type === 'result') done(resolve, m.result)
      else if (m.type === 'error') done(reject, new Error(`${task.module}/${task.contender}: ${m.error}`))
    })
    child.on('exit', (code, sig) => done(reject, new Error(`${task.module}/${task.contender} exited (${code ?? sig}) without a result`)))
  })
}

/** Starts a server task; resolves with { port, mark(), stop() → result }. */
async function startServer(task, opts = {}) {
  await settle(LOG)
  return startServerNow(task, opts)
}

function startServerNow(task, opts = {}) {
  return new Promise((resolve, reject) => {
    const child = spawnWorker(task, opts)
    const waiters = {}
    const once = (type) => new Promise((res) => (waiters[type] = res))
    child.on('message', (m) => {
      if (m.type === 'ready') {
        resolve({
          port: m.port,
          mark: () => {
            const p = once('marked')
            child.send({ type: 'mark' })
            return p
          },
          stop: async () => {
            const p = once('result')
            child.send({ type: 'stop' })
            return p
          },
          /** Waits for the process to exit (it does after `stop`, writing any CPU profile), else kills it. */
          kill: () =>
            new Promise((res) => {
              if (child.exitCode !== null || child.signalCode !== null) return res()
              const t = setTimeout(() => child.kill('SIGKILL'), 10000)
              child.once('exit', () => {
                clearTimeout(t)
                res()
              })
            }),
        })
      } else if (m.type === 'error') reject(new Error(`${task.module}/${task.contender}: ${m.error}`))
      else if (waiters[m.type]) waiters[m.type](m.result)
    })
    child.on('exit', (code) => reject(new Error(`${task.module}/${task.contender} server exited (${code})`))) // no-op once resolved
  })
}

module.exports = { configure, runTask, startServer, nativePath: () => NATIVE }
