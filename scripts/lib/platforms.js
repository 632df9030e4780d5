'use strict'
// The platform packages, derived from package.json's `napi.targets` (the one list the release
// workflow, the packaging and the optionalDependencies all follow), read through @napi-rs/cli's own
// triple parser so the directory and binary names are the ones `napi` itself uses.
const fs = require('node:fs')
const path = require('node:path')

/**
 * @napi-rs/cli's `parseTriple`. @napi-rs/cli needs Node >= 20.17 (it loads ES modules through
 * require); the release workflow's smoke job runs these scripts under Node 18 too, where the few
 * targets we build are named the same way by hand.
 */
function parseTriple(triple) {
  try {
    return require('@napi-rs/cli').parseTriple(triple)
  } catch (e) {
    const m = /^(x86_64|aarch64)-(?:unknown|apple|pc)-(linux|darwin|windows)(?:-(gnu|musl|msvc))?$/.exec(triple)
    if (!m) throw e
    const platform = { linux: 'linux', darwin: 'darwin', windows: 'win32' }[m[2]]
    const arch = m[1] === 'x86_64' ? 'x64' : 'arm64'
    const abi = m[3] || null
    return { triple, platformArchABI: [platform, arch, abi].filter(Boolean).join('-'), platform, arch, abi }
  }
}

const root = path.join(__dirname, '..', '..')

/** The libc a Linux ABI links (npm's `libc` field); none elsewhere. */
const LIBC = { gnu: 'glibc', musl: 'musl' }

/** The simulator executable each simulator platform package ships for `forcelink/testing`. */
const simFile = (platform) => (platform === 'win32' ? 'forcelink-sim.exe' : 'forcelink-sim')

/**
 * The test-only simulator ships apart from the runtime (issue 24): `forcelink-simulator`, a host's
 * devDependency, with one optional `forcelink-simulator-<platform>` package per napi target.
 * Sources: simulator/ (the finder) and simulator/npm/<platform>/ (manifests; the executable lands
 * there when built).
 */
const SIM_PACKAGE = 'forcelink-simulator'
const simulatorDir = path.join(root, 'simulator')

function readPkg(dir = root) {
  return JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'))
}

/** One entry per napi target: its triple, npm dir name, package name, binary and simulator files. */
function platforms(pkg = readPkg()) {
  const bin = pkg.napi.binaryName
  return pkg.napi.targets.map((triple) => {
    const t = parseTriple(triple)
    const dir = t.platformArchABI
    const p = { triple, platform: t.platform, arch: t.arch, dir, name: `${pkg.name}-${dir}`, file: `${bin}.${dir}.node`, sim: simFile(t.platform), simName: `${SIM_PACKAGE}-${dir}` }
    if (t.abi) p.abi = t.abi
    if (t.platform === 'linux' && LIBC[t.abi]) p.libc = LIBC[t.abi]
    return p
  })
}

/** The package.json a platform package ships with, at the root package's version. */
function platformManifest(pkg, p) {
  const m = {
    name: p.name,
    version: pkg.version,
    description: `${pkg.name}'s native binary for ${p.triple}`,
    license: pkg.license,
    main: p.file,
    files: [p.file],
    os: [p.platform],
    cpu: [p.arch],
  }
  if (p.libc) m.libc = [p.libc]
  m.engines = pkg.engines
  return m
}

/** The package.json of `forcelink-simulator-<platform>`: the executable alone. */
function simManifest(pkg, p) {
  const m = {
    name: p.simName,
    version: pkg.version,
    description: `The ${p.triple} executable of ${SIM_PACKAGE}, the Salesforce simulator behind ${pkg.name}/testing`,
    license: pkg.license,
    files: [p.sim],
    os: [p.platform],
    cpu: [p.arch],
  }
  if (p.libc) m.libc = [p.libc]
  return m
}

/** The package.json of `forcelink-simulator`: the finder, one optional package per platform. */
function simRootManifest(pkg) {
  const optionalDependencies = {}
  for (const p of platforms(pkg)) optionalDependencies[p.simName] = pkg.version
  return {
    name: SIM_PACKAGE,
    version: pkg.version,
    description: `The local Salesforce simulator for ${pkg.name}/testing: add it as a devDependency beside ${pkg.name}`,
    license: pkg.license,
    main: 'index.js',
    types: 'index.d.ts',
    files: ['index.js', 'index.d.ts'],
    engines: pkg.engines,
    optionalDependencies,
  }
}

module.exports = { root, readPkg, platforms, platformManifest, simFile, simManifest, simRootManifest, SIM_PACKAGE, simulatorDir }
