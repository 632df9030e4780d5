'use strict'
// `npm run sim -- [options]`: the simulator in the foreground (options: see sim/README or --help).
const { spawnSync } = require('node:child_process')
const path = require('node:path')
const { simBinary, ensureSim } = require('./lib/paths')

ensureSim()
const r = spawnSync(simBinary(), process.argv.slice(2), { stdio: 'inherit', cwd: path.join(__dirname, '..') })
process.exit(r.status === null ? 1 : r.status)
