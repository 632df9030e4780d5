'use strict'
// Runner side of lib/worker.js: fork a fresh Node process per measurement.
const { fork } = require('node:child_process')
const path = require('node:path')

const WORKER = path.join(__dirname, 'worker.js')
let NATIVE = null // the release build of forcelink the children load (set by run.js)
let CPU_PROF_DIR = null

function configure({ native, cpuProfDir }) {
  NATIVE = native
  CPU_PROF_DIR = cpuProfDir || null
}

function spawnWorker(task, { execArgv = [], profile = false } = {}) {
  const args = [...execArgv]
  if (profile && CPU_PROF_DIR) args.push('--cpu-prof', `--cpu-prof-dir=${CPU_PROF_DIR}`, `--cpu-prof-name=${task.module}-${task.contender}-${Date.now()}.cpuprofile`)
  const env = { ...process.env }
  if (NATIVE) env.FORCELINK_BENCH_NATIVE = NATIVE
  delete env.NAPI_RS_NATIVE_LIBRARY_PATH
  delete env.NODE_OPTIONS
  const child = fork(WORKER, [], { execArgv: args, env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  child.send({ type: 'task', task })
  return child
}

/** Runs one measured task in its own process; resolves with its result. */
function runTask(task, { timeoutMs = 300000, execArgv, profile } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawnWorker(task, { execArgv, profile })
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
function startServer(task, opts = {}) {
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
          stop: () => {
            const p = once('result')
            child.send({ type: 'stop' })
            return p
          },
          kill: () => child.kill('SIGKILL'),
        })
      } else if (m.type === 'error') reject(new Error(`${task.module}/${task.contender}: ${m.error}`))
      else if (waiters[m.type]) waiters[m.type](m.result)
    })
    child.on('exit', (code) => reject(new Error(`${task.module}/${task.contender} server exited (${code})`)))
  })
}

module.exports = { configure, runTask, startServer }
