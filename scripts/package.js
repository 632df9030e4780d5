'use strict'
// `npm run package:host`: installable tarballs in dist/ of whatever binary this checkout last built
// (a `build:debug` one carries test hooks: for local install tests, never for publishing; the
// release packages come from `npm run package`, scripts/package-all.js), wired the way napi-rs
// publishes: the root package (JS + types, no binary) lists one package per platform as optionalDependencies, and this
// platform's binary package holds the .node file. The simulator for `forcelink/testing` is packed
// the same way into its own packages: `forcelink-simulator` and this platform's
// `forcelink-simulator-<platform>`.
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync } = require('node:child_process')
const { root, ensureNative, simBinary, ensureSim } = require('./lib/paths')
const { platforms, readPkg, simManifest, simRootManifest, simulatorDir } = require('./lib/platforms')

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
const built = []
for (const abi of platformDirs) {
  const meta = JSON.parse(fs.readFileSync(path.join(root, 'npm', abi, 'package.json'), 'utf8'))
  optional[meta.name] = pkg.version
  const binary = path.join(root, meta.main)
  if (!fs.existsSync(binary)) continue
  const dir = path.join(stage, abi)
  fs.mkdirSync(dir)
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ ...meta, version: pkg.version }, null, 2))
  fs.copyFileSync(path.join(root, 'npm', abi, 'README.md'), path.join(dir, 'README.md'))
  fs.copyFileSync(binary, path.join(dir, meta.main))
  packed.push(pack(dir))
  built.push(abi)
}
if (packed.length === 0) throw new Error('no native binary was built for this platform')

// The simulator's packages: the finder, and this platform's executable (the newest local build).
const p = platforms(readPkg()).find((x) => built.includes(x.dir) && x.platform === process.platform && x.arch === process.arch)
const simPackages = []
if (p) {
  const simDir = path.join(stage, `sim-${p.dir}`)
  fs.mkdirSync(simDir)
  fs.writeFileSync(path.join(simDir, 'package.json'), JSON.stringify(simManifest(pkg, p), null, 2))
  fs.copyFileSync(path.join(simulatorDir, 'npm', p.dir, 'README.md'), path.join(simDir, 'README.md'))
  fs.copyFileSync(simBinary(), path.join(simDir, p.sim))
  fs.chmodSync(path.join(simDir, p.sim), 0o755)
  simPackages.push(pack(simDir))
}
const simRoot = path.join(stage, 'sim-root')
fs.mkdirSync(simRoot)
for (const f of ['index.js', 'index.d.ts', 'README.md']) fs.copyFileSync(path.join(simulatorDir, f), path.join(simRoot, f))
fs.writeFileSync(path.join(simRoot, 'package.json'), JSON.stringify(simRootManifest(pkg), null, 2))
simPackages.unshift(pack(simRoot))

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
for (const f of [...packed, ...simPackages]) console.log(path.join('dist', f))
