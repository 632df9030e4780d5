'use strict'
// The simulator's own build step (tests, demo and benchmarks call it; `npm run build` builds only
// the package): `node sim/build.js [--release]`, or `require('./sim/build')` for the paths.
const fs = require('node:fs')
const path = require('node:path')
const { execFileSync } = require('node:child_process')

const root = path.join(__dirname, '..')
const exe = process.platform === 'win32' ? '.exe' : ''

function build({ release = false } = {}) {
  const args = ['build', '-p', 'forcelink-sim', '--bin', 'forcelink-sim']
  if (release) args.push('--release')
  execFileSync('cargo', args, { stdio: 'inherit', cwd: root })
}

/** The simulator binary: the newer of the release and debug builds (a stale one is never used). */
function simBinary() {
  const builds = ['release', 'debug']
    .map((p) => path.join(root, 'target', p, `forcelink-sim${exe}`))
    .filter((f) => fs.existsSync(f))
    .sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs)
  return builds[0] || path.join(root, 'target', 'debug', `forcelink-sim${exe}`)
}

/** The release binary, built when missing (demo, `npm run sim`, benchmarks). */
function ensureSim() {
  const f = path.join(root, 'target', 'release', `forcelink-sim${exe}`)
  if (!fs.existsSync(f)) build({ release: true })
  return f
}

if (require.main === module) build({ release: process.argv.includes('--release') })

module.exports = { build, simBinary, ensureSim }
