'use strict'
// The simulator for the benchmarks: started as its own process (release build) on 127.0.0.1, driven
// through sim/client.js (the same client the tests use).
const path = require('node:path')
const { controlClient, spawnSim, authorize } = require('../../sim/client')

/** Always the release build (sim/build.js's simBinary would pick a newer debug build). */
const SIM = path.join(__dirname, '..', '..', 'target', 'release', `forcelink-sim${process.platform === 'win32' ? '.exe' : ''}`)

const CLIENT_ID = 'bench-client-id'
const CLIENT_SECRET = 'bench-client-secret-value-0123456789'
const STATE_SECRET = 'bench-state-secret-0123456789abcdef-XYZ'
const REDIRECT_URI = 'http://localhost:3999/v1/integrations/salesforce/auth/callback'

function startSim(args = []) {
  return spawnSim(SIM, ['--client-id', CLIENT_ID, '--client-secret', CLIENT_SECRET, '--redirect-uri', REDIRECT_URI, ...args])
}

module.exports = { startSim, controlClient, authorize, CLIENT_ID, CLIENT_SECRET, STATE_SECRET, REDIRECT_URI }
