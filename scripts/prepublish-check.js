'use strict'
// `prepublishOnly`: refuses to publish the root package unless every napi.targets platform package
// is ready (its binary built into npm/<platform>/, as `napi artifacts` leaves it), every simulator
// platform package has its executable (simulator/npm/<platform>/, placed by `package-all.js
// --place-sims`) and the optionalDependencies match. `--dir D` checks another checkout (the test uses it).
const fs = require('node:fs')
const path = require('node:path')
const { platforms, readPkg, SIM_PACKAGE } = require('./lib/platforms')

const i = process.argv.indexOf('--dir')
const dir = i > 0 ? path.resolve(process.argv[i + 1]) : path.join(__dirname, '..')
const pkg = readPkg(dir)

// The file's first bytes name its format: ELF (linux), Mach-O (darwin), PE (win32).
const MAGIC = {
  linux: (b) => b.subarray(0, 4).equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46])),
  darwin: (b) => [0xcffaedfe, 0xcafebabe, 0xfeedfacf].includes(b.readUInt32BE(0)),
  win32: (b) => b.subarray(0, 2).toString('latin1') === 'MZ',
}

/** Whether the file's first bytes are those of a `platform` executable or library. */
function isBinaryOf(file, platform) {
  const head = Buffer.alloc(4)
  const fd = fs.openSync(file, 'r')
  const n = fs.readSync(fd, head, 0, 4, 0)
  fs.closeSync(fd)
  return n === 4 && MAGIC[platform](head)
}

const problems = []
for (const p of platforms(pkg)) {
  const sim = path.join(dir, 'simulator', 'npm', p.dir, p.sim)
  if (!fs.existsSync(sim)) problems.push(`${p.simName}: missing simulator/npm/${p.dir}/${p.sim} (the simulator for forcelink/testing)`)
  else if (!isBinaryOf(sim, p.platform)) problems.push(`${p.simName}: simulator/npm/${p.dir}/${p.sim} is not a ${p.platform} binary`)
  const file = path.join(dir, 'npm', p.dir, p.file)
  if (!fs.existsSync(file)) {
    problems.push(`${p.name}: missing npm/${p.dir}/${p.file}`)
    continue
  }
  if (!isBinaryOf(file, p.platform)) problems.push(`${p.name}: npm/${p.dir}/${p.file} is not a ${p.platform} binary`)
  else if (fs.readFileSync(file).includes('panicForTest')) problems.push(`${p.name}: npm/${p.dir}/${p.file} is a test build (test-hooks)`)
  if (pkg.optionalDependencies?.[p.name] !== pkg.version) problems.push(`${p.name}: not in optionalDependencies at ${pkg.version}`)
}
const simPkg = fs.existsSync(path.join(dir, 'simulator', 'package.json')) ? readPkg(path.join(dir, 'simulator')) : null
if (!simPkg || simPkg.version !== pkg.version) problems.push(`${SIM_PACKAGE}: simulator/package.json missing or not at ${pkg.version}`)
if (problems.length) {
  console.error(`refusing to publish ${pkg.name}@${pkg.version}; platform packages not ready:\n  ${problems.join('\n  ')}`)
  process.exit(1)
}
console.log(`${pkg.name}@${pkg.version}: all ${platforms(pkg).length} platform binaries and simulator executables present`)
