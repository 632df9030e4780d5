'use strict'
// Keeps the platform packages in step with package.json: `npm/<platform>/package.json` for every
// `napi.targets` entry, the root `optionalDependencies` at the root's own version, and the
// simulator's packages (simulator/package.json, simulator/npm/<platform>/) on the same targets, with
// the root's optional peer dependency on `forcelink-simulator` at that version.
//   node scripts/sync-platforms.js          rewrite what drifted
//   node scripts/sync-platforms.js --check  exit 1 naming what drifted (the test runs this)
const fs = require('node:fs')
const path = require('node:path')
const { root, readPkg, platforms, platformManifest, simManifest, simRootManifest, SIM_PACKAGE, simulatorDir } = require('./lib/platforms')

const check = process.argv.includes('--check')
const pkg = readPkg()
const drift = []
const write = (file, text) => {
  const current = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : null
  if (current === text) return
  drift.push(path.relative(root, file))
  if (!check) {
    fs.mkdirSync(path.dirname(file), { recursive: true })
    fs.writeFileSync(file, text)
  }
}

const optional = {}
for (const p of platforms(pkg)) {
  optional[p.name] = pkg.version
  const dir = path.join(root, 'npm', p.dir)
  write(path.join(dir, 'package.json'), JSON.stringify(platformManifest(pkg, p), null, 2) + '\n')
  write(path.join(dir, 'README.md'), `# \`${p.name}\`\n\nThe **${p.triple}** binary for [\`${pkg.name}\`](https://www.npmjs.com/package/${pkg.name}); install \`${pkg.name}\`, not this.\n`)
}
for (const p of platforms(pkg)) {
  const dir = path.join(simulatorDir, 'npm', p.dir)
  write(path.join(dir, 'package.json'), JSON.stringify(simManifest(pkg, p), null, 2) + '\n')
  write(path.join(dir, 'README.md'), `# \`${p.simName}\`\n\nThe **${p.triple}** simulator executable for [\`${SIM_PACKAGE}\`](https://www.npmjs.com/package/${SIM_PACKAGE}); install \`${SIM_PACKAGE}\`, not this.\n`)
}
write(path.join(simulatorDir, 'package.json'), JSON.stringify(simRootManifest(pkg), null, 2) + '\n')
const known = new Set(platforms(pkg).map((p) => p.dir))
for (const base of ['npm', path.join('simulator', 'npm')]) {
  for (const d of fs.readdirSync(path.join(root, base))) {
    if (!known.has(d)) drift.push(`${base}/${d} (no napi.targets entry)`)
  }
}
// forcelink/testing drives the simulator's control API: the host's copy must be this version.
const peerOk = pkg.peerDependencies?.[SIM_PACKAGE] === pkg.version && pkg.peerDependenciesMeta?.[SIM_PACKAGE]?.optional === true
if (!peerOk) {
  drift.push(`package.json peerDependencies.${SIM_PACKAGE}`)
  if (!check) {
    pkg.peerDependencies = { ...pkg.peerDependencies, [SIM_PACKAGE]: pkg.version }
    pkg.peerDependenciesMeta = { ...pkg.peerDependenciesMeta, [SIM_PACKAGE]: { optional: true } }
    fs.writeFileSync(path.join(root, 'package.json'), JSON.stringify(pkg, null, 2) + '\n')
  }
}
// Compared sorted: npm itself rewrites package.json with the keys in alphabetical order.
const sorted = (o) => JSON.stringify(Object.entries(o || {}).sort(([a], [b]) => (a < b ? -1 : 1)))
if (sorted(pkg.optionalDependencies) !== sorted(optional)) {
  drift.push('package.json optionalDependencies')
  if (!check) {
    pkg.optionalDependencies = optional
    fs.writeFileSync(path.join(root, 'package.json'), JSON.stringify(pkg, null, 2) + '\n')
  }
}

if (drift.length && check) {
  console.error(`platform packages out of sync (run node scripts/sync-platforms.js):\n  ${drift.join('\n  ')}`)
  process.exit(1)
}
for (const d of drift) console.log(`updated ${d}`)
