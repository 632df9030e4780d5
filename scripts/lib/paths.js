'use strict'
// Where the built pieces live, and building them when missing.
const fs = require('node:fs')
const path = require('node:path')
const { execFileSync } = require('node:child_process')

const root = path.join(__dirname, '..', '..')
const exe = process.platform === 'win32' ? '.exe' : ''

function simBinary() {
  const release = path.join(root, 'target', 'release', `forcelink-sim${exe}`)
  const debug = path.join(root, 'target', 'debug', `forcelink-sim${exe}`)
  if (fs.existsSync(release)) return release
  return debug
}

function ensureSim() {
  if (!fs.existsSync(path.join(root, 'target', 'release', `forcelink-sim${exe}`))) {
    execFileSync('node', [path.join(root, 'scripts', 'build-sim.js'), '--release'], { stdio: 'inherit', cwd: root })
  }
}

function ensureNative() {
  const built = fs.readdirSync(root).some((f) => /^forcelink\..*\.node$/.test(f))
  if (!built || !fs.existsSync(path.join(root, 'binding.js'))) {
    execFileSync('npm', ['run', 'build'], { stdio: 'inherit', cwd: root })
  }
}

module.exports = { root, simBinary, ensureSim, ensureNative }
