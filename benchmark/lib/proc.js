'use strict'
// CPU time of other processes, from /proc (Linux only; null elsewhere): the simulator's, and the
// whole machine's, so a run can show how much CPU went to processes outside the benchmark.
const fs = require('node:fs')
const { execFileSync } = require('node:child_process')

let TICK_MS = null
function tickMs() {
  if (TICK_MS === null) {
    try {
      TICK_MS = 1000 / (Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100)
    } catch (_) {
      TICK_MS = 10
    }
  }
  return TICK_MS
}

/** CPU ms (user + system) used so far by process `pid`. */
function procCpuMs(pid) {
  try {
    const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
    const rest = f.slice(f.lastIndexOf(')') + 2).split(' ')
    return (Number(rest[11]) + Number(rest[12])) * tickMs() // utime + stime (fields 14, 15)
  } catch (_) {
    return null
  }
}

/** CPU ms all cores have spent in processes (user, nice, system) and CPU ms stolen by the
 *  hypervisor (other VMs), since boot. Interrupt time is left out: loopback networking runs in
 *  softirq, charged to no process. */
function machineCpu() {
  try {
    const f = fs.readFileSync('/proc/stat', 'utf8')
    const v = f.split('\n')[0].trim().split(/\s+/).slice(1).map(Number)
    const [user, nice, system, , , , , steal] = v
    return { procs: (user + nice + system) * tickMs(), steal: (steal || 0) * tickMs() }
  } catch (_) {
    return null
  }
}

module.exports = { procCpuMs, machineCpu }
