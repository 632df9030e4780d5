'use strict'
// The platform packages, derived from package.json's `napi.targets` (the one list the release
// workflow, the packaging and the optionalDependencies all follow).
const fs = require('node:fs')
const path = require('node:path')

const root = path.join(__dirname, '..', '..')

const TRIPLES = {
  'x86_64-unknown-linux-gnu': { platform: 'linux', arch: 'x64', abi: 'gnu', libc: 'glibc' },
  'aarch64-unknown-linux-gnu': { platform: 'linux', arch: 'arm64', abi: 'gnu', libc: 'glibc' },
  'x86_64-unknown-linux-musl': { platform: 'linux', arch: 'x64', abi: 'musl', libc: 'musl' },
  'aarch64-unknown-linux-musl': { platform: 'linux', arch: 'arm64', abi: 'musl', libc: 'musl' },
  'x86_64-apple-darwin': { platform: 'darwin', arch: 'x64' },
  'aarch64-apple-darwin': { platform: 'darwin', arch: 'arm64' },
  'x86_64-pc-windows-msvc': { platform: 'win32', arch: 'x64', abi: 'msvc' },
}

function readPkg(dir = root) {
  return JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'))
}

/** One entry per napi target: its triple, npm dir name, package name and binary file name. */
function platforms(pkg = readPkg()) {
  const bin = pkg.napi.binaryName
  return pkg.napi.targets.map((triple) => {
    const t = TRIPLES[triple]
    if (!t) throw new Error(`napi.targets: unknown target ${triple}`)
    const dir = [t.platform, t.arch, t.abi].filter(Boolean).join('-')
    return { triple, ...t, dir, name: `${pkg.name}-${dir}`, file: `${bin}.${dir}.node` }
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

module.exports = { root, TRIPLES, readPkg, platforms, platformManifest }
