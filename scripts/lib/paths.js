'use strict'
// Where the built pieces live, and building them when missing.
const fs = require('node:fs')
const path = require('node:path')
const { execFileSync } = require('node:child_process')

const root = path.join(__dirname, '..', '..')
const exe = process.platform === 'win32' ? '.exe' : ''

/** The simulator binary: the newer of the release and debug builds (a stale one is never used). */
function simBinary() {
  const builds = ['release', 'debug']
    .map((p) => path.join(root, 'target', p, `forcelink-sim${exe}`))
    .filter((f) => fs.existsSync(f))
    .sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs)
  return builds[0] || path.join(root, 'target', 'debug', `forcelink-sim${exe}`)
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
