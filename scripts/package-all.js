'use strict'
// `npm run package` / `package:all`: builds the four Linux platform packages from this x86_64
// machine with cargo-zigbuild (gnu against glibc 2.17, musl with a dynamic libc), checks each binary
// (glibc floor with objdump, musl NEEDED with readelf, size, no test hooks) and packs them with the
// root package into dist/, beside the simulator's packages (`forcelink-simulator` and one
// `forcelink-simulator-<platform>` per target built). darwin and win32 are built by
// .github/workflows/release.yml.
//   --no-setup            skip scripts/ci/setup-cross.sh (toolchain already there)
//   --targets a,b         only these napi.targets triples
//   --check-only TRIPLE   only check npm/<platform>/<binary> (the release workflow's Linux jobs)
//   --pack-only           build nothing: pack the binaries already in npm/<platform>/ (release runners)
//   --sim-only TRIPLE     only build the simulator for TRIPLE into simulator/npm/<platform>/ (every
//                         release build job: cargo-zigbuild on Linux, cargo on the darwin/win32 runners)
//   --place-sims DIR      copy each platform's simulator from the downloaded release artifacts
//                         (DIR/simulator-<triple>/) into simulator/npm/<platform>/, executable
//                         (release publish)
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync } = require('node:child_process')
const { root, readPkg, platforms, platformManifest, simManifest, simRootManifest, simulatorDir } = require('./lib/platforms')

// A runtime platform package holds the native module alone (the simulator has its own packages):
// at most 8 MB (8,000,000 bytes) unpacked, as `npm pack` counts it.
const MAX_UNPACKED = 8_000_000
const GLIBC_FLOOR = '2.17'

const argv = process.argv.slice(2)
const opt = (name) => {
  const i = argv.indexOf(name)
  return i >= 0 ? argv[i + 1] : undefined
}
const pkg = readPkg()
const env = { ...process.env, PATH: `${path.join(os.homedir(), '.local', 'bin')}${path.delimiter}${process.env.PATH}` }
const run = (cmd, args, o = {}) => execFileSync(cmd, args, { cwd: root, stdio: 'inherit', env, ...o })
// npm is npm.cmd on Windows (the release workflow's runner), which Node runs only through a shell.
const out = (cmd, args) => execFileSync(cmd, args, { cwd: root, encoding: 'utf8', env, maxBuffer: 64 * 1024 * 1024, shell: cmd === 'npm' && process.platform === 'win32' })

const versionLE = (a, b) => {
  const pa = a.split('.').map(Number)
  const pb = b.split('.').map(Number)
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    if ((pa[i] || 0) !== (pb[i] || 0)) return (pa[i] || 0) < (pb[i] || 0)
  }
  return true
}

/** Throws unless the binary meets its platform's rules; returns what was measured. */
function checkBinary(p, file) {
  const facts = { target: p.triple, bytes: fs.statSync(file).size }
  if (p.libc === 'glibc') {
    const versions = [...new Set(out('objdump', ['-T', file]).match(/GLIBC_[0-9.]+/g) || [])].map((v) => v.slice(6))
    const newest = versions.sort((a, b) => (versionLE(a, b) ? -1 : 1)).pop()
    facts.glibc = newest
    if (!newest || !versionLE(newest, GLIBC_FLOOR)) throw new Error(`${p.file}: needs GLIBC_${newest}, newer than ${GLIBC_FLOOR}`)
  }
  if (p.libc === 'musl') {
    const needed = [...out('readelf', ['-d', file]).matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) => m[1])
    facts.needed = needed
    if (needed.length !== 1 || needed[0] !== 'libc.so') throw new Error(`${p.file}: needs ${needed.join(', ')} (only libc.so expected)`)
  }
  // The test-only entry points (cargo feature test-hooks) must not be in a package build.
  if (fs.readFileSync(file).includes('panicForTest')) throw new Error(`${p.file}: contains test hooks`)
  const unpacked = facts.bytes + 2048 // package.json + README (npm pack's figure is checked too)
  if (unpacked > MAX_UNPACKED) throw new Error(`${p.file}: ${unpacked} bytes unpacked, over ${MAX_UNPACKED}`)
  return facts
}

/**
 * Builds the simulator for `p` (dist profile) into simulator/npm/<platform>/, checking a glibc
 * build's floor; returns its size. Linux targets go through cargo-zigbuild (glibc 2.17 / static musl).
 */
function buildSim(p) {
  const zig = p.platform === 'linux'
  const target = p.libc === 'glibc' ? `${p.triple}.${GLIBC_FLOOR}` : p.triple
  const simOut = path.join(simulatorDir, 'npm', p.dir, p.sim)
  fs.rmSync(simOut, { force: true })
  run('cargo', [zig ? 'zigbuild' : 'build', '-p', 'forcelink-sim', '--bin', 'forcelink-sim', '--profile', 'dist', '--target', zig ? target : p.triple])
  const sim = path.join(root, 'target', p.triple, 'dist', p.sim)
  if (p.libc === 'glibc') {
    const versions = [...new Set(out('objdump', ['-T', sim]).match(/GLIBC_[0-9.]+/g) || [])].map((v) => v.slice(6))
    const newest = versions.sort((a, b) => (versionLE(a, b) ? -1 : 1)).pop()
    if (newest && !versionLE(newest, GLIBC_FLOOR)) throw new Error(`${p.sim}: needs GLIBC_${newest}, newer than ${GLIBC_FLOOR}`)
  }
  fs.copyFileSync(sim, simOut)
  fs.chmodSync(simOut, 0o755)
  return fs.statSync(sim).size
}

const simOnly = opt('--sim-only')
if (simOnly) {
  const p = platforms(pkg).find((x) => x.triple === simOnly)
  if (!p) throw new Error(`unknown target ${simOnly}`)
  console.log(JSON.stringify({ target: p.triple, simBytes: buildSim(p) }))
  process.exit(0)
}

const placeSims = opt('--place-sims')
if (placeSims) {
  const missing = []
  for (const p of platforms(pkg)) {
    const from = path.join(path.resolve(placeSims), `simulator-${p.triple}`, p.sim)
    if (!fs.existsSync(from)) {
      missing.push(`${p.triple}: ${path.relative(root, from)}`)
      continue
    }
    const to = path.join(simulatorDir, 'npm', p.dir, p.sim)
    fs.copyFileSync(from, to)
    fs.chmodSync(to, 0o755) // artifacts do not keep the executable bit
  }
  if (missing.length) throw new Error(`simulator missing from the release artifacts:\n  ${missing.join('\n  ')}`)
  process.exit(0)
}

const checkOnly = opt('--check-only')
if (checkOnly) {
  const p = platforms(pkg).find((x) => x.triple === checkOnly)
  if (!p) throw new Error(`unknown target ${checkOnly}`)
  console.log(JSON.stringify(checkBinary(p, path.join(root, 'npm', p.dir, p.file))))
  process.exit(0)
}

const packOnly = argv.includes('--pack-only')
if (!packOnly && !argv.includes('--no-setup')) run('bash', [path.join(root, 'scripts', 'ci', 'setup-cross.sh')])

const wanted = opt('--targets') ? opt('--targets').split(',') : null
const linux = packOnly ? [] : platforms(pkg).filter((p) => p.platform === 'linux' && (!wanted || wanted.includes(p.triple)))
const dist = path.join(root, 'dist')
const build = path.join(dist, 'build')
fs.mkdirSync(build, { recursive: true })

const report = []
for (const p of linux) {
  const started = Date.now()
  const target = p.libc === 'glibc' ? `${p.triple}.${GLIBC_FLOOR}` : p.triple
  const outDir = path.join(build, p.dir)
  fs.rmSync(outDir, { recursive: true, force: true })
  // The dist profile (thin LTO) and no test-hooks feature; napi adds -crt-static off for musl.
  run('npx', [
    'napi', 'build', '--platform', '--profile', 'dist', '--features', 'node', '-x', '--target', target,
    '--output-dir', outDir, '--js', 'binding.js', '--dts', 'binding.d.ts', '--no-const-enum',
  ])
  const file = path.join(outDir, p.file)
  const facts = checkBinary(p, file)
  fs.copyFileSync(file, path.join(root, 'npm', p.dir, p.file)) // where `napi prepublish` expects it
  // The simulator executable for `forcelink/testing`, in its own package (musl: static, so it runs
  // on any Alpine).
  facts.simBytes = buildSim(p)
  report.push({ ...facts, seconds: Math.round((Date.now() - started) / 1000) })
}

const pack = (dir) => JSON.parse(out('npm', ['pack', '--json', '--pack-destination', dist, dir]))[0]
const stage = fs.mkdtempSync(path.join(os.tmpdir(), 'forcelink-pack-'))
const tarballs = []
const simTarballs = []
const toPack = packOnly ? platforms(pkg).filter((p) => fs.existsSync(path.join(root, 'npm', p.dir, p.file))) : linux
/** Throws unless `dir`'s package.json is what scripts/sync-platforms.js writes. */
const inStep = (dir, expected) => {
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'))
  if (JSON.stringify(manifest) !== JSON.stringify(expected)) throw new Error(`${path.relative(root, dir)}/package.json is out of step with napi.targets (run node scripts/sync-platforms.js)`)
}
// A platform package is its npm/<platform>/ folder as `napi prepublish` publishes it: the manifest
// scripts/sync-platforms.js keeps in step with napi.targets (a test checks it) and the binary
// placed beside it above. The simulator's platform package is simulator/npm/<platform>/ likewise.
for (const p of toPack) {
  const dir = path.join(root, 'npm', p.dir)
  inStep(dir, platformManifest(pkg, p))
  const info = pack(dir)
  if (info.unpackedSize > MAX_UNPACKED) throw new Error(`${info.filename}: ${info.unpackedSize} bytes unpacked, over ${MAX_UNPACKED}`)
  const r = report.find((x) => x.target === p.triple) || report[report.push({ target: p.triple }) - 1]
  r.unpackedSize = info.unpackedSize
  tarballs.push(path.join(dist, info.filename))

  const simDir = path.join(simulatorDir, 'npm', p.dir)
  inStep(simDir, simManifest(pkg, p))
  const sim = path.join(simDir, p.sim)
  if (!fs.existsSync(sim)) {
    if (packOnly) continue // a runner that built no simulator
    throw new Error(`no simulator at ${path.relative(root, sim)}`)
  }
  fs.chmodSync(sim, 0o755)
  const simInfo = pack(simDir)
  r.simUnpackedSize = simInfo.unpackedSize
  simTarballs.push(path.join(dist, simInfo.filename))
}
inStep(simulatorDir, simRootManifest(pkg))
simTarballs.unshift(path.join(dist, pack(simulatorDir).filename))

// The root package: JS, types and the binding loader generated by a package build (no test hooks).
const rootDir = path.join(stage, 'root')
fs.mkdirSync(rootDir)
const loaderFrom = path.join(build, (linux[0] || {}).dir || 'linux-x64-gnu')
for (const f of [...pkg.files, 'README.md', 'LICENSE']) {
  const generated = f === 'binding.js' || f === 'binding.d.ts' ? path.join(loaderFrom, f) : null
  const src = generated && fs.existsSync(generated) ? generated : path.join(root, f)
  if (fs.existsSync(src)) fs.cpSync(src, path.join(rootDir, f), { recursive: true })
}
const { scripts, devDependencies, jest, ...published } = pkg
fs.writeFileSync(path.join(rootDir, 'package.json'), JSON.stringify(published, null, 2))
tarballs.unshift(path.join(dist, pack(rootDir).filename))
fs.rmSync(stage, { recursive: true, force: true })

fs.writeFileSync(path.join(dist, 'package-report.json'), JSON.stringify(report, null, 2))
console.error(JSON.stringify(report, null, 2))
for (const t of [...tarballs, ...simTarballs]) console.log(path.relative(root, t))
