'use strict'
// The short chaos run (npm run chaos is the long one): processes SIGKILLed every 2 s while they
// refresh rotating tokens through a shared store, then the store-fault phases (renewals stalling
// past the lease, failing saves, a process SIGSTOPped past the lease, close() under load), a few
// seconds each, and the keepAlive phase (idle lifetimes on a virtual clock). Needs Debian's `postgresql` package (.ci/run).
const { runChaos, runKeepAliveChaos } = require('./support/chaos')

test.each(['sqlite', 'postgres'])('chaos on %s: no lost connection, no unexplained reuse, no slow call', async (store) => {
  // Paced (thinkMs) so that it leaves the CPU to the test files Jest runs beside it.
  const r = await runChaos({ store, procs: 3, concurrency: 4, durationMs: 14_000, tokenDelayMs: 600, thinkMs: 25 })
  expect(r).toMatchObject({ reconnectRequiredUnexplained: 0, reusesOther: 0 })
  expect(r.kills).toBeGreaterThanOrEqual(5)
  expect(r.calls).toBeGreaterThan(100)
  expect(r.latencyMs.max).toBeLessThanOrEqual(20_000)
  expect(r.errorRate).toBeLessThanOrEqual(0.001)
  // Waits out a killed holder's lease (it may only have been stalled): never a reuse.
  expect(r.unavailableRate).toBeLessThanOrEqual(0.15)
  expect(r.pass).toBe(true)
})

const PHASES = [
  ['renew-stall', { durationMs: 5_000 }],
  ['save-fail', { durationMs: 5_000 }],
  ['sigstop', { durationMs: 2_500, killEveryMs: 1_000 }],
  ['close', { durationMs: 5_000, killEveryMs: 1_000 }],
]

describe.each(['sqlite', 'postgres'])('store faults on %s', (store) => {
  test.each(PHASES)('%s: zero reuses, zero RECONNECT_REQUIRED', async (phase, extra) => {
    const r = await runChaos({ store, phase, procs: 2, concurrency: 3, tokenDelayMs: 300, accessTtlMs: 1_000, thinkMs: 25, ...extra })
    expect(r).toMatchObject({ reuses: 0, reconnectRequired: 0 })
    expect(r.calls).toBeGreaterThan(10)
    if (phase === 'sigstop') expect(r.stops).toBeGreaterThanOrEqual(1)
    if (phase === 'close') expect(r.closes).toBeGreaterThanOrEqual(2)
    expect(r.errorsByCode.CLOSE_FAILED).toBeUndefined()
    expect(r.pass).toBe(true)
  })
})

test.each(['sqlite', 'postgres'])('keepAlive chaos on %s: idle lifetimes pass, two processes, one token request per connection per sweep', async (store) => {
  const r = await runKeepAliveChaos({ store, connections: 12, sweeps: 3 })
  expect(r).toMatchObject({ reconnectRequired: 0, failed: 0, processErrors: 0, reuses: 0, finalCodes: { OK: 12 } })
  expect(r.tokenRequestsPerSweep).toEqual([12, 12, 12])
  expect(r.pass).toBe(true)
})
