'use strict'
// Publishing cannot go wrong: the release workflow builds exactly napi.targets, the platform
// packages and optionalDependencies follow package.json, prepublishOnly refuses a missing binary.
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync, spawnSync } = require('node:child_process')
const yaml = require('js-yaml')

const root = path.join(__dirname, '..')
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'))
// The platform packages as napi names them: npm/<platformArchABI>/<binaryName>.<platformArchABI>.node,
// and the simulator beside it. @napi-rs/cli's parser runs in a child (its ESM dependencies do not
// load in Jest's module system).
const triples = JSON.parse(
  execFileSync(process.execPath, ['-e', `const { parseTriple } = require('@napi-rs/cli'); console.log(JSON.stringify(${JSON.stringify(pkg.napi.targets)}.map(parseTriple)))`], { cwd: root, encoding: 'utf8' }),
)
const platforms = pkg.napi.targets.map((triple, i) => {
  const t = triples[i]
  return { triple, platform: t.platform, dir: t.platformArchABI, file: `${pkg.napi.binaryName}.${t.platformArchABI}.node`, sim: t.platform === 'win32' ? 'forcelink-sim.exe' : 'forcelink-sim' }
})

test('the release workflow builds every napi target and nothing else', () => {
  const wf = yaml.load(fs.readFileSync(path.join(root, '.github', 'workflows', 'release.yml'), 'utf8'))
  const build = wf.jobs.build.strategy.matrix.settings
  expect(build.map((s) => s.target).sort()).toEqual([...pkg.napi.targets].sort())
  for (const s of build) {
    expect(s.build).toContain(`--target ${s.target}`) // gnu ones carry the .2.17 suffix after it
    expect(s.build).not.toMatch(/test-hooks/)
    const native = { darwin: 'macos', windows: 'windows' }
    const os = s.target.includes('apple-darwin') ? native.darwin : s.target.includes('windows') ? native.windows : 'ubuntu'
    expect(s.host).toMatch(new RegExp(`^${os}-`))
    if (s.target.endsWith('-linux-gnu')) expect(s.build).toContain(`${s.target}.2.17`)
  }
  // Smoke runs where a runner loads the binary; publish waits for all of it and uses provenance.
  expect(wf.jobs.smoke.strategy.matrix.node).toEqual(['18.17.0', 20, 22, 24, 26])
  expect(wf.jobs.smoke.strategy.matrix.settings.map((s) => s.target).sort()).toEqual(pkg.napi.targets.filter((t) => /darwin|windows/.test(t)).sort())
  expect(wf.jobs['verify-linux'].steps.map((s) => s.run || '')).toContain('node scripts/verify-packages.js')
  expect(wf.jobs.publish.needs).toEqual(expect.arrayContaining(['build', 'smoke', 'verify-linux']))
  expect(wf.jobs.publish.permissions['id-token']).toBe('write')
  const publish = wf.jobs.publish.steps.map((s) => s.run || '').join('\n')
  expect(publish).toMatch(/napi prepublish/)
  expect(publish).toMatch(/provenance true/)
  expect(publish.indexOf('napi prepublish')).toBeLessThan(publish.indexOf('npm publish'))
})

test('the simulator packages: built on each release runner, uploaded, placed and published beside the runtime ones', () => {
  const wf = yaml.load(fs.readFileSync(path.join(root, '.github', 'workflows', 'release.yml'), 'utf8'))
  // The build matrix names each target's simulator package: exactly forcelink-simulator's list.
  const simPkg = JSON.parse(fs.readFileSync(path.join(root, 'simulator', 'package.json'), 'utf8'))
  const matrix = wf.jobs.build.strategy.matrix.settings
  expect(matrix.map((s) => s.simulator).sort()).toEqual(Object.keys(simPkg.optionalDependencies).sort())
  expect(matrix.map((s) => s.simulator).sort()).toEqual(platforms.map((p) => `forcelink-simulator-${p.dir}`).sort())
  for (const s of matrix) expect(s.simulator).toBe(`forcelink-simulator-${platforms.find((p) => p.triple === s.target).dir}`)
  expect(fs.readdirSync(path.join(root, 'simulator', 'npm')).sort()).toEqual(platforms.map((p) => p.dir).sort())

  const steps = wf.jobs.build.steps
  const simStep = steps.findIndex((s) => /node scripts\/package-all\.js --sim-only \$\{\{ matrix\.settings\.target \}\}/.test(s.run || ''))
  expect(simStep).toBeGreaterThan(-1)
  expect(steps[simStep].if).toBeUndefined() // every target: linux, darwin and win32
  const upload = (name) => steps.findIndex((s) => (s.uses || '').startsWith('actions/upload-artifact') && s.with.name === name)
  expect(upload('simulator-${{ matrix.settings.target }}')).toBeGreaterThan(simStep)
  expect(steps[upload('simulator-${{ matrix.settings.target }}')].with.path).toBe('simulator/npm/*/forcelink-sim*')
  expect(steps[upload('bindings-${{ matrix.settings.target }}')].with.path).toBe('npm/*/forcelink.*.node')
  const publish = wf.jobs.publish.steps.map((s) => s.run || '').join('\n')
  const place = publish.indexOf('node scripts/package-all.js --place-sims artifacts')
  expect(place).toBeGreaterThan(publish.indexOf('napi artifacts'))
  expect(place).toBeLessThan(publish.indexOf('prepublish-check.js'))
  expect(place).toBeLessThan(publish.indexOf('napi prepublish'))
  // Every simulator package, then forcelink-simulator, then forcelink: each with provenance.
  const simPublish = publish.indexOf('for d in simulator/npm/*/; do npm publish "$d" --provenance')
  expect(simPublish).toBeGreaterThan(publish.indexOf('napi prepublish'))
  expect(publish.indexOf('npm publish simulator --provenance')).toBeGreaterThan(simPublish)
  expect(publish.lastIndexOf('npm publish --provenance --access public')).toBeGreaterThan(publish.indexOf('npm publish simulator'))
  // A runtime platform package is the native module alone; the simulator's, the executable alone.
  for (const p of platforms) {
    const manifest = JSON.parse(fs.readFileSync(path.join(root, 'npm', p.dir, 'package.json'), 'utf8'))
    expect(manifest.files).toEqual([p.file])
    const sim = JSON.parse(fs.readFileSync(path.join(root, 'simulator', 'npm', p.dir, 'package.json'), 'utf8'))
    expect(sim).toMatchObject({ name: `forcelink-simulator-${p.dir}`, version: pkg.version, files: [p.sim], os: manifest.os, cpu: manifest.cpu })
    expect(sim.libc).toEqual(manifest.libc)
  }
  expect(platforms.filter((p) => p.sim.endsWith('.exe')).map((p) => p.platform)).toEqual(['win32'])
  expect(pkg.peerDependencies['forcelink-simulator']).toBe(pkg.version)
  expect(pkg.peerDependenciesMeta['forcelink-simulator']).toEqual({ optional: true })
})

test('optionalDependencies and npm/ follow napi.targets at the package version', () => {
  const r = spawnSync(process.execPath, [path.join(root, 'scripts', 'sync-platforms.js'), '--check'], { cwd: root, encoding: 'utf8' })
  expect(r.stderr).toBe('')
  expect(r.status).toBe(0)
  expect(Object.keys(pkg.optionalDependencies)).toHaveLength(pkg.napi.targets.length)
  for (const v of Object.values(pkg.optionalDependencies)) expect(v).toBe(pkg.version)
  expect(pkg.scripts.prepublishOnly).toBe('node scripts/prepublish-check.js')
})

test('prepublishOnly refuses to publish while a platform binary is missing', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'forcelink-prepublish-'))
  fs.copyFileSync(path.join(root, 'package.json'), path.join(dir, 'package.json'))
  fs.cpSync(path.join(root, 'npm'), path.join(dir, 'npm'), { recursive: true })
  fs.cpSync(path.join(root, 'simulator'), path.join(dir, 'simulator'), { recursive: true })
  const magic = { linux: Buffer.from([0x7f, 0x45, 0x4c, 0x46]), darwin: Buffer.from([0xcf, 0xfa, 0xed, 0xfe]), win32: Buffer.from('MZ\0\0') }
  for (const p of platforms) {
    fs.writeFileSync(path.join(dir, 'npm', p.dir, p.file), magic[p.platform])
    fs.writeFileSync(path.join(dir, 'simulator', 'npm', p.dir, p.sim), magic[p.platform])
  }
  const check = () => spawnSync(process.execPath, [path.join(root, 'scripts', 'prepublish-check.js'), '--dir', dir], { encoding: 'utf8' })
  expect(check().status).toBe(0)

  // Every simulator package is published with the release: publishing without one is refused too.
  fs.rmSync(path.join(dir, 'simulator', 'npm', 'win32-x64-msvc', 'forcelink-sim.exe'))
  expect(check()).toMatchObject({ status: 1, stderr: expect.stringMatching(/forcelink-simulator-win32-x64-msvc: missing simulator\/npm\/win32-x64-msvc\/forcelink-sim\.exe/) })
  fs.writeFileSync(path.join(dir, 'simulator', 'npm', 'win32-x64-msvc', 'forcelink-sim.exe'), magic.win32)
  expect(check().status).toBe(0)

  fs.rmSync(path.join(dir, 'npm', 'darwin-arm64', 'forcelink.darwin-arm64.node'))
  let r = check()
  expect(r.status).toBe(1)
  expect(r.stderr).toMatch(/forcelink-darwin-arm64: missing npm\/darwin-arm64\/forcelink\.darwin-arm64\.node/)

  fs.writeFileSync(path.join(dir, 'npm', 'darwin-arm64', 'forcelink.darwin-arm64.node'), magic.linux)
  r = check()
  expect(r.status).toBe(1)
  expect(r.stderr).toMatch(/not a darwin binary/)
  fs.rmSync(dir, { recursive: true, force: true })
})

test('without its platform package, require() names the platform, the package and the fix', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'forcelink-nobinary-'))
  fs.copyFileSync(path.join(root, 'index.js'), path.join(dir, 'index.js'))
  // What the generated loader does when neither a local .node nor the platform package is there.
  fs.writeFileSync(path.join(dir, 'binding.js'), "throw new Error('Cannot find native binding.')")
  const out = execFileSync(process.execPath, ['-e', "try { require('./index.js') } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message, cause: e.cause.message })) }"], {
    cwd: dir,
    encoding: 'utf8',
  })
  const e = JSON.parse(out)
  expect(e.code).toBe('FORCELINK_BINARY_MISSING')
  expect(e.message).toContain(`${process.platform}-${process.arch}`)
  expect(e.message).toMatch(/"forcelink-(linux|darwin|win32)-(x64|arm64)(-gnu|-musl|-msvc)?"/)
  expect(e.message).toContain('npm run build')
  expect(e.message).toContain('rustup')
  expect(e.cause).toBe('Cannot find native binding.')
  fs.rmSync(dir, { recursive: true, force: true })
})
