'use strict'
// `npm run package` tarballs install into an empty project and load from CJS and ESM.
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync, spawnSync } = require('node:child_process')

const root = path.join(__dirname, '..')

test('dist tarballs install into an empty folder and load', () => {
  const out = execFileSync(process.execPath, [path.join(root, 'scripts', 'package.js')], { cwd: root, encoding: 'utf8' })
  const tarballs = out.trim().split('\n').filter((l) => l.endsWith('.tgz')).map((l) => path.join(root, l.trim()))
  expect(tarballs.map((t) => path.basename(t))).toEqual(['forcelink-0.1.0.tgz', 'forcelink-linux-x64-gnu-0.1.0.tgz'])
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'forcelink-install-'))
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'host', version: '1.0.0', private: true }))
  // Offline: the other platforms' optional packages are skipped, nothing is fetched.
  execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', ...tarballs], { cwd: dir, stdio: 'pipe' })
  const rootPkg = JSON.parse(fs.readFileSync(path.join(dir, 'node_modules', 'forcelink', 'package.json'), 'utf8'))
  expect(Object.keys(rootPkg.optionalDependencies)).toEqual(
    expect.arrayContaining(['forcelink-linux-x64-gnu', 'forcelink-darwin-arm64', 'forcelink-win32-x64-msvc', 'forcelink-linux-x64-musl']),
  )
  expect(fs.readdirSync(path.join(dir, 'node_modules', 'forcelink')).some((f) => f.endsWith('.node'))).toBe(false)
  const cjs = execFileSync(process.execPath, ['-e', "const f=require('forcelink'); const e=require('forcelink/express'); console.log(typeof f.Forcelink, typeof e.salesforceRouter)"], { cwd: dir, encoding: 'utf8' })
  expect(cjs.trim()).toBe('function function')
  const esm = execFileSync(process.execPath, ['--input-type=module', '-e', "import { Forcelink } from 'forcelink'; console.log(typeof Forcelink)"], { cwd: dir, encoding: 'utf8' })
  expect(esm.trim()).toBe('function')

  // forcelink/testing ships the simulator: the README's testing file runs in the host folder, with
  // the host's Express (linked in) and Jest's open-handle check.
  expect(fs.readdirSync(path.join(dir, 'node_modules', 'forcelink-linux-x64-gnu'))).toContain('forcelink-sim')
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
