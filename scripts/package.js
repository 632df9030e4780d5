'use strict'
// `npm run package:host`: installable tarballs in dist/ of whatever binary this checkout last built
// (a `build:debug` one carries test hooks: for local install tests, never for publishing; the
// release packages come from `npm run package`, scripts/package-all.js), wired the way napi-rs
// publishes: the root package (JS + types, no binary) lists one package per platform as optionalDependencies, and this
// platform's binary package holds the .node file.
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync } = require('node:child_process')
const { root, ensureNative, simBinary, ensureSim } = require('./lib/paths')

ensureNative()
if (!require('node:fs').existsSync(simBinary())) ensureSim()
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'))
const dist = path.join(root, 'dist')
fs.mkdirSync(dist, { recursive: true })
const stage = fs.mkdtempSync(path.join(os.tmpdir(), 'forcelink-pack-'))

const pack = (dir) => {
  const out = execFileSync('npm', ['pack', '--json', '--pack-destination', dist], { cwd: dir, encoding: 'utf8' })
  return JSON.parse(out)[0].filename
}

// Platform packages: every declared target gets an optional dependency; the one built here is packed.
const platformDirs = fs.readdirSync(path.join(root, 'npm'))
const optional = {}
const packed = []
for (const abi of platformDirs) {
  const meta = JSON.parse(fs.readFileSync(path.join(root, 'npm', abi, 'package.json'), 'utf8'))
  optional[meta.name] = pkg.version
  const binary = path.join(root, meta.main)
  if (!fs.existsSync(binary)) continue
  const dir = path.join(stage, abi)
  fs.mkdirSync(dir)
  // The simulator for `forcelink/testing` ships next to the native module it was built with.
  const sim = meta.os.includes(process.platform) && meta.cpu.includes(process.arch) ? simBinary() : ''
  const simName = path.basename(sim)
  const files = sim && fs.existsSync(sim) && !meta.files.includes(simName) ? [...meta.files, simName] : meta.files
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ ...meta, files, version: pkg.version }, null, 2))
  fs.copyFileSync(path.join(root, 'npm', abi, 'README.md'), path.join(dir, 'README.md'))
  fs.copyFileSync(binary, path.join(dir, meta.main))
  if (sim && fs.existsSync(sim)) fs.copyFileSync(sim, path.join(dir, simName))
  packed.push(pack(dir))
}
if (packed.length === 0) throw new Error('no native binary was built for this platform')

// Root package: the published files plus optionalDependencies; scripts and devDependencies stay here.
const rootDir = path.join(stage, 'root')
fs.mkdirSync(rootDir)
for (const f of [...pkg.files, 'README.md', 'LICENSE']) {
  const src = path.join(root, f)
  if (fs.existsSync(src)) fs.cpSync(src, path.join(rootDir, f), { recursive: true })
}
const { scripts, devDependencies, jest, ...published } = pkg
fs.writeFileSync(path.join(rootDir, 'package.json'), JSON.stringify({ ...published, optionalDependencies: optional }, null, 2))
packed.unshift(pack(rootDir))
fs.rmSync(stage, { recursive: true, force: true })
for (const f of packed) console.log(path.join('dist', f))
