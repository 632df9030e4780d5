'use strict'
// `forcelink-simulator`: finds this machine's simulator executable, shipped in the optional
// `forcelink-simulator-<platform>` package npm installed beside this one. A test-only program, so
// hosts add it as a devDependency and production installs of `forcelink` never carry it.
const fs = require('node:fs')
const path = require('node:path')

const EXE = process.platform === 'win32' ? '.exe' : ''

/** Whether this Linux runs glibc (musl has no glibc version in the process report). */
function isGlibc() {
  try {
    return Boolean(process.report.getReport().header.glibcVersionRuntime)
  } catch (_) {
    return true
  }
}

/** The platform packages that could serve this machine, the likeliest first. */
function packageNames(platform = process.platform, arch = process.arch) {
  const base = `forcelink-simulator-${platform}-${arch}`
  if (platform === 'linux') return isGlibc() ? [`${base}-gnu`, `${base}-musl`] : [`${base}-musl`, `${base}-gnu`]
  if (platform === 'win32') return [`${base}-msvc`]
  return [base]
}

/** The simulator executable's path; throws FORCELINK_SIMULATOR_MISSING naming the package. */
function binaryPath() {
  const names = packageNames()
  for (const name of names) {
    let dir
    try {
      dir = path.dirname(require.resolve(`${name}/package.json`))
    } catch (_) {
      continue // not installed for this platform
    }
    const bin = path.join(dir, `forcelink-sim${EXE}`)
    if (fs.existsSync(bin)) return bin
  }
  const err = new Error(
    `forcelink-simulator: no simulator executable for ${process.platform}-${process.arch}: ` +
      `the optional package "${names[0]}" is not installed (npm skips optional packages with ` +
      `--omit=optional, and a lock file made on another platform may need a fresh "npm install")`,
  )
  err.code = 'FORCELINK_SIMULATOR_MISSING'
  throw err
}

module.exports = { binaryPath, packageNames }
