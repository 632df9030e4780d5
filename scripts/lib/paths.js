'use strict'
// Where the built pieces live, and building them when missing.
const fs = require('node:fs')
const path = require('node:path')
const { execFileSync } = require('node:child_process')
const { simBinary, ensureSim } = require('../../sim/build')

const root = path.join(__dirname, '..', '..')

function ensureNative() {
  const built = fs.readdirSync(root).some((f) => /^forcelink\..*\.node$/.test(f))
  if (!built || !fs.existsSync(path.join(root, 'binding.js'))) {
    execFileSync('npm', ['run', 'build'], { stdio: 'inherit', cwd: root })
  }
}

module.exports = { root, simBinary, ensureSim, ensureNative }
