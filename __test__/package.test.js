'use strict'
// `npm run package` tarballs install into an empty project and load from CJS and ESM.
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync, spawnSync } = require('node:child_process')

const root = path.join(__dirname, '..')

const install = (tarballs) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'forcelink-install-'))
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'host', version: '1.0.0', private: true }))
  // Offline: the other platforms' optional packages are skipped, nothing is fetched.
  execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', ...tarballs], { cwd: dir, stdio: 'pipe' })
  return dir
}

let tarballs
beforeAll(() => {
  const out = execFileSync(process.execPath, [path.join(root, 'scripts', 'package.js')], { cwd: root, encoding: 'utf8' })
  tarballs = out.trim().split('\n').filter((l) => l.endsWith('.tgz')).map((l) => path.join(root, l.trim()))
}, 300_000)

test('dist tarballs install into an empty folder and load', () => {
  expect(tarballs.map((t) => path.basename(t))).toEqual(['forcelink-0.1.0.tgz', 'forcelink-linux-x64-gnu-0.1.0.tgz', 'forcelink-simulator-0.1.0.tgz', 'forcelink-simulator-linux-x64-gnu-0.1.0.tgz'])
  const dir = install(tarballs)
  const rootPkg = JSON.parse(fs.readFileSync(path.join(dir, 'node_modules', 'forcelink', 'package.json'), 'utf8'))
  expect(Object.keys(rootPkg.optionalDependencies)).toEqual(
    expect.arrayContaining(['forcelink-linux-x64-gnu', 'forcelink-darwin-arm64', 'forcelink-win32-x64-msvc', 'forcelink-linux-x64-musl']),
  )
  expect(fs.readdirSync(path.join(dir, 'node_modules', 'forcelink')).some((f) => f.endsWith('.node'))).toBe(false)
  const cjs = execFileSync(process.execPath, ['-e', "const f=require('forcelink'); const e=require('forcelink/express'); console.log(typeof f.Forcelink, typeof e.salesforceRouter)"], { cwd: dir, encoding: 'utf8' })
  expect(cjs.trim()).toBe('function function')
  const esm = execFileSync(process.execPath, ['--input-type=module', '-e', "import { Forcelink } from 'forcelink'; console.log(typeof Forcelink)"], { cwd: dir, encoding: 'utf8' })
  expect(esm.trim()).toBe('function')

  // The simulator ships apart from the runtime: forcelink/testing finds it in forcelink-simulator's
  // platform package. The README's testing file runs in the host folder, with the host's Express
  // (linked in) and Jest's open-handle check.
  expect(fs.readdirSync(path.join(dir, 'node_modules', 'forcelink-linux-x64-gnu'))).not.toContain('forcelink-sim')
  expect(fs.readdirSync(path.join(dir, 'node_modules', 'forcelink-simulator-linux-x64-gnu'))).toContain('forcelink-sim')
  fs.symlinkSync(path.join(root, 'node_modules', 'express'), path.join(dir, 'node_modules', 'express'), 'dir')
  fs.copyFileSync(path.join(__dirname, 'readme-testing.test.js'), path.join(dir, 'forcelink.test.js'))
  const jest = path.join(root, 'node_modules', 'jest', 'bin', 'jest.js')
  const env = { ...process.env }
  delete env.FORCELINK_SIM_BINARY
  const run = spawnSync(process.execPath, [jest, '--rootDir', dir, '--config', '{"testEnvironment":"node"}', '--detectOpenHandles', '--ci', 'forcelink.test.js'], {
    cwd: dir,
    encoding: 'utf8',
    env,
  })
  expect({ status: run.status, stderr: run.stderr }).toMatchObject({ status: 0 })
  expect(run.stderr).toMatch(/Tests:\s+3 passed, 3 total/)
  expect(run.stderr).not.toMatch(/open handle/i)
  fs.rmSync(dir, { recursive: true, force: true })
}, 300_000)

test('without forcelink-simulator, forcelink/testing fails naming the package to install', () => {
  const dir = install(tarballs.filter((t) => !path.basename(t).startsWith('forcelink-simulator')))
  const env = { ...process.env }
  delete env.FORCELINK_SIM_BINARY
  const script = "require('forcelink/testing').startSimulator().then(() => console.log('started'), (e) => console.log(e.code + ' ' + e.message))"
  const out = execFileSync(process.execPath, ['-e', script], { cwd: dir, encoding: 'utf8', env })
  expect(out).toMatch(/^FORCELINK_SIMULATOR_MISSING .*"forcelink-simulator".*npm install --save-dev forcelink-simulator/)
  // Installed without its platform package: the finder names that one.
  const simOnly = install([tarballs.find((t) => path.basename(t) === 'forcelink-simulator-0.1.0.tgz')])
  const again = execFileSync(process.execPath, ['-e', "try { require('forcelink-simulator').binaryPath() } catch (e) { console.log(e.code + ' ' + e.message) }"], { cwd: simOnly, encoding: 'utf8' })
  expect(again).toMatch(/^FORCELINK_SIMULATOR_MISSING .*"forcelink-simulator-linux-x64-gnu"/)
  fs.rmSync(dir, { recursive: true, force: true })
  fs.rmSync(simOnly, { recursive: true, force: true })
}, 120_000)
