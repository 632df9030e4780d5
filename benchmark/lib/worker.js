'use strict'
// One contender in one fresh Node process. The runner forks this file, sends a task, and gets back
// the measurements: wall time, process CPU time (process.cpuUsage(): every thread of the process,
// so forcelink's Rust threads are included), event-loop busy time (performance.eventLoopUtilization())
// and peak RSS (process.resourceUsage().maxRSS, the whole life of the process).
//
// A contender is `{ setup(ctx), prepare?(state, ctx), run(state, ctx), serve?(state, ctx), teardown?(state) }`
// from `benchmark/<module>.js`'s `contenders`.
const path = require('node:path')
const { performance } = require('node:perf_hooks')

const { procCpuMs, machineCpu } = require('./proc')

const MB = 1024 * 1024
let SIM_PID = null

/** CPU ms of the JS thread alone (the main thread's tid is the pid): unlike event-loop busy time it
 *  does not count time the thread was runnable but descheduled (or its vCPU stolen). Linux only. */
const jsThreadCpuMs = () => procCpuMs(`${process.pid}/task/${process.pid}`)

function snapshot() {
  return { js: jsThreadCpuMs(), t: performance.now(), cpu: process.cpuUsage(), elu: performance.eventLoopUtilization(), sim: SIM_PID && procCpuMs(SIM_PID), machine: machineCpu() }
}

function since(s0) {
  const cpu = process.cpuUsage(s0.cpu)
  const elu = performance.eventLoopUtilization(s0.elu)
  const simCpuMs = s0.sim === null || s0.sim === undefined ? null : procCpuMs(SIM_PID) - s0.sim
  const m1 = s0.machine && machineCpu()
  const ownMs = (cpu.user + cpu.system) / 1000
  const js = s0.js === null ? null : jsThreadCpuMs()
  return {
    jsThreadCpuMs: js === null ? null : js - s0.js,
    simCpuMs,
    // CPU the rest of the machine's processes used meanwhile (the runner, other sessions...), and
    // CPU the hypervisor gave to other VMs while this one wanted it (steal): both are noise.
    otherCpuMs: !m1 || simCpuMs === null ? null : Math.max(0, m1.procs - s0.machine.procs - ownMs - simCpuMs),
    stealMs: m1 ? m1.steal - s0.machine.steal : null,
    wallMs: performance.now() - s0.t,
    cpuMs: (cpu.user + cpu.system) / 1000,
    cpuUserMs: cpu.user / 1000,
    cpuSysMs: cpu.system / 1000,
    eluBusyMs: elu.active,
    eluUtilization: elu.utilization,
  }
}

const peakRssMB = () => (process.resourceUsage().maxRSS * 1024) / MB

async function main(task) {
  const mod = require(path.join(__dirname, '..', `${task.module}.js`))
  const c = mod.contenders[task.contender]
  if (!c) throw new Error(`no contender ${task.contender} in ${task.module}`)
  const { controlClient } = require('./sim')
  SIM_PID = task.simPid || null
  const ctx = { sim: task.sim, ctl: task.sim ? controlClient(task.sim) : null, opts: task.opts || {} }
  const state = c.setup ? await c.setup(ctx) : {}
  if (c.serve) {
    const { port } = await c.serve(state, ctx)
    let s0 = null
    process.on('message', async (m) => {
      if (m.type === 'mark') {
        s0 = snapshot()
        process.send({ type: 'marked' })
      } else if (m.type === 'stop') {
        const out = { ...since(s0 || snapshot()), peakRssMB: peakRssMB(), rssNowMB: process.memoryUsage().rss / MB }
        process.send({ type: 'result', result: out }, () => process.exit(0))
      }
    })
    process.send({ type: 'ready', port })
    return
  }
  if (c.prepare) await c.prepare(state, ctx)
  const rssBeforeMB = process.memoryUsage().rss / MB
  const s0 = snapshot()
  const out = await c.run(state, ctx)
  const m = since(s0)
  const result = { ...m, peakRssMB: peakRssMB(), rssBeforeMB, ...out }
  if (c.teardown) await c.teardown(state)
  process.send({ type: 'result', result }, () => process.exit(0))
}

process.once('message', (m) => {
  if (m.type !== 'task') return
  main(m.task).catch((e) => {
    process.send({ type: 'error', error: String((e && e.stack) || e) }, () => process.exit(1))
  })
})
