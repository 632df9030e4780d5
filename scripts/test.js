'use strict'
// `npm test`: the core's cargo tests, then the native build, then Jest against the simulator.
const { execFileSync } = require('node:child_process')
const path = require('node:path')

const root = path.join(__dirname, '..')
const run = (cmd, args) => execFileSync(cmd, args, { stdio: 'inherit', cwd: root })

try {
  run('cargo', ['test', '--workspace', '--exclude', 'forcelink-microbench'])
  // A debug build reuses the dependencies cargo test just compiled; `npm run build` is the
  // release (LTO) build for benchmarks and packages.
  run('npm', ['run', 'build:debug'])
  run(process.execPath, [path.join(root, 'sim', 'build.js')])
  run(process.execPath, [path.join(root, 'node_modules', 'jest', 'bin', 'jest.js'), ...process.argv.slice(2)])
} catch (e) {
  process.exit(typeof e.status === 'number' && e.status !== 0 ? e.status : 1)
}
