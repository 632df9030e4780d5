'use strict'
// `npm run verify:packages` (run by .ci/run after npm test): proves the packages on every runtime
// and OS reachable from this x86_64 Linux machine, printing one `ok`/`FAIL` line per check:
//   - builds the Linux packages (scripts/package-all.js: four cross builds, binary checks, sizes)
//     and the simulator's packages, installs the packed tarballs into empty folders and runs the
//     smoke suite (scripts/verify/smoke.cjs) under Node 18.17, 20, 22, 24 and 26, Bun and Deno
//     (x64 glibc), Bun's musl build (x64 musl package), Node 22 under qemu-aarch64 (arm64 gnu);
//   - builds x86_64-pc-windows-gnu (verify profile) and runs the smoke suite under Wine with
//     Node for Windows (Wine 8.0 gets test-only stand-ins for three DLLs it lacks: wineShims);
//   - compile checks: clippy for aarch64-apple-darwin and x86_64-pc-windows-gnu, cargo check for
//     x86_64-apple-darwin, through cargo-zigbuild (no Apple SDK here: nothing is linked for macOS).
// Runtimes come from the npm registry (scripts/verify/runtimes.js, cached in target/), fetched
// while the builds run; the compile checks run beside the smoke runs, which barely use the CPU.
//   --skip-package   reuse the tarballs in dist/ (package-report.json must be there)
//   --native-only    only this machine's own platform and Node (the release workflow's runners)
//   --only a,b       only these checks: node, bun, deno, musl, arm64, wine, compile
//   --targets a,b    build only these napi.targets triples (passed to package-all.js)
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { execFileSync, spawn } = require('node:child_process')
const { root, readPkg, platforms, simulatorDir } = require('./lib/platforms')
const { spawnSim } = require('../sim/client')
const { runtime, prefetch, NODE_MAJORS } = require('./verify/runtimes')
const { muslLibs } = require('./verify/musl-libs')

const argv = process.argv.slice(2)
const opt = (name) => {
  const i = argv.indexOf(name)
  return i >= 0 ? argv[i + 1] : undefined
}
const only = opt('--only') ? new Set(opt('--only').split(',')) : null
const wants = (check) => !only || only.has(check)
const pkg = readPkg()
const dist = path.join(root, 'dist')
const logs = path.join(root, 'target', 'verify-logs')
const SIM = { CLIENT_ID: 'smoke-client', CLIENT_SECRET: 'smoke-client-secret-0123456789', REDIRECT_URI: 'http://localhost:3999/cb', CONTACTS: 450 }
const env0 = { ...process.env, PATH: `${path.join(os.homedir(), '.local', 'bin')}${path.delimiter}${process.env.PATH}` }

// npm is npm.cmd on Windows (the release workflow's runner), which Node runs only through a shell.
const viaShell = (cmd) => (cmd === 'npm' && process.platform === 'win32' ? { shell: true } : {})
const sh = (cmd, args, o = {}) => execFileSync(cmd, args, { cwd: root, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, env: env0, ...viaShell(cmd), ...o })
const started = Date.now()
const results = []
const seconds = (t0) => ((Date.now() - t0) / 1000).toFixed(1)

function report(label, ok, detail) {
  results.push({ label, ok })
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${label}${detail ? ` ${detail}` : ''}`)
}

function tarballs() {
  const tgz = (name) => path.join(dist, `${name}-${pkg.version}.tgz`)
  const found = { root: tgz(pkg.name), sim: tgz('forcelink-simulator'), simFor: {} }
  for (const p of platforms(pkg)) {
    if (fs.existsSync(tgz(p.name))) found[p.dir] = tgz(p.name)
    if (fs.existsSync(tgz(p.simName))) found.simFor[p.dir] = tgz(p.simName)
  }
  return found
}

function installInto(name, files, extra = []) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `forcelink-verify-${name}-`))
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'host', version: '1.0.0', private: true }))
  // Offline: the other platforms' optional packages are skipped, nothing else is fetched.
  sh('npm', ['install', '--offline', '--no-audit', '--no-fund', '--no-package-lock', ...extra, ...files], { cwd: dir, stdio: 'pipe', timeout: 300_000 })
  fs.copyFileSync(path.join(__dirname, 'verify', 'smoke.cjs'), path.join(dir, 'smoke.cjs'))
  return dir
}

/** Runs the smoke file in `dir` with `cmd args…`; its JSON line (stdout, or `outFile`) is the result. */
function smoke(label, dir, cmd, args, env, timeout, outFile) {
  const t0 = Date.now()
  // With an outFile (Node under Wine cannot open a pipe as stdout/stderr), both go to a file.
  const logFile = outFile ? `${outFile}.log` : null
  const fd = logFile ? fs.openSync(logFile, 'w') : null
  try {
    const stdio = fd === null ? ['ignore', 'pipe', 'pipe'] : ['ignore', fd, fd]
    const stdout = sh(cmd, [...args, 'smoke.cjs'], { cwd: dir, env: { ...env0, ...env }, timeout, stdio })
    const out = outFile ? fs.readFileSync(outFile, 'utf8') : stdout
    const line = out.trim().split('\n').pop()
    if (!line.startsWith('{"ok":true')) throw Object.assign(new Error('no result line'), { stdout: out })
    report(label, true, `(${seconds(t0)} s) ${line}`)
  } catch (e) {
    const written = outFile && fs.existsSync(outFile) ? fs.readFileSync(outFile, 'utf8') : ''
    const log = logFile ? fs.readFileSync(logFile, 'utf8') : ''
    report(label, false, `\n${written}${log}${e.stdout || ''}${e.stderr || e.message}`)
  } finally {
    if (fd !== null) fs.closeSync(fd)
  }
}

/** A child process whose output goes to target/verify-logs/<name>.log; resolves to its exit code. */
function background(name, cmd, args, env = {}) {
  fs.mkdirSync(logs, { recursive: true })
  const log = path.join(logs, `${name}.log`)
  const fd = fs.openSync(log, 'w')
  const t0 = Date.now()
  const child = spawn(cmd, args, { cwd: root, env: { ...env0, ...env }, stdio: ['ignore', fd, fd] })
  fs.closeSync(fd)
  return new Promise((resolve) => {
    child.once('error', (e) => resolve({ code: -1, log, seconds: seconds(t0), error: e.message }))
    child.once('exit', (code) => resolve({ code, log, seconds: seconds(t0) }))
  })
}

const tail = (file, n = 30) => fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-n).join('\n')

/**
 * The compile checks and the Windows gnu build, one after the other (each is CPU-bound, and cargo
 * already uses every core); resolves to the Windows build's outcome as soon as it is known, and
 * to the whole list at the end.
 */
function compileChecks() {
  const libnode = path.join(root, 'target', 'libnode-gnu')
  const winEnv = { LIBNODE_PATH: libnode }
  const both = ['-p', 'forcelink', '-p', 'forcelink-sim', '--features', 'forcelink/node']
  let windowsBuilt
  const windows = new Promise((resolve) => (windowsBuilt = resolve))
  const all = (async () => {
    const steps = []
    // `cargo-zigbuild <build|check|clippy>`: `cargo zigbuild` is its build only.
    const step = async (label, name, args, env) => {
      const r = await background(name, 'cargo-zigbuild', args, env)
      const ok = r.code === 0
      report(label, ok, ok ? `(${r.seconds} s)` : `(exit ${r.code}; ${path.relative(root, r.log)})\n${tail(r.log)}`)
      steps.push({ label, ok })
      return ok
    }
    if (wants('wine') || wants('compile')) {
      execFileSync(process.execPath, [path.join(__dirname, 'ci', 'libnode-import.js'), libnode], { cwd: root, env: env0, stdio: 'ignore' })
      const built = await step('build x86_64-pc-windows-gnu (forcelink + simulator, verify profile)', 'build-windows-gnu', ['zigbuild', ...both, '--profile', 'verify', '--target', 'x86_64-pc-windows-gnu'], winEnv)
      windowsBuilt(built)
    } else windowsBuilt(false)
    if (wants('compile')) {
      await step('clippy x86_64-pc-windows-gnu', 'clippy-windows-gnu', ['clippy', ...both, '--target', 'x86_64-pc-windows-gnu', '--', '-D', 'warnings'], winEnv)
      await step('clippy aarch64-apple-darwin', 'clippy-aarch64-apple-darwin', ['clippy', ...both, '--target', 'aarch64-apple-darwin', '--', '-D', 'warnings'])
      await step('check x86_64-apple-darwin', 'check-x86_64-apple-darwin', ['check', ...both, '--target', 'x86_64-apple-darwin'])
    }
    return steps
  })()
  return { windows, all }
}

/**
 * Debian 12's Wine 8.0 lacks three DLLs Windows 10+ has and the windows-gnu build imports
 * (bcryptprimitives.dll's ProcessPrng, which Rust's std uses, the api-ms-win-core-synch-l1-2-0
 * set and zig's api-ms-win-crt-private-l1-1-0): without them Windows' loader answers "Module not
 * found". Builds the test-only stand-ins in scripts/verify/wine-shims/ with zig into the test
 * prefix's system32 (never into a package).
 */
function wineShims(wineprefix, env) {
  const sys32 = path.join(wineprefix, 'drive_c', 'windows', 'system32')
  const wenv = { ...env0, ...env, WINEPREFIX: wineprefix, WINEDEBUG: '-all' }
  if (!fs.existsSync(sys32)) execFileSync('wineboot', ['-i'], { env: wenv, stdio: 'ignore', timeout: 300_000 })
  const src = path.join(__dirname, 'verify', 'wine-shims')
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'forcelink-wine-shims-'))
  try {
    for (const c of fs.readdirSync(src).filter((f) => f.endsWith('.c'))) {
      const dll = c.replace(/\.c$/, '.dll')
      execFileSync('zig', ['cc', '-target', 'x86_64-windows-gnu', '-shared', '-O2', '-fno-builtin', '-o', dll, path.join(src, c)], { cwd: tmp, env: { ...env0, ...env }, stdio: 'ignore', timeout: 300_000 })
      fs.copyFileSync(path.join(tmp, dll), path.join(sys32, dll))
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true })
  }
}

/**
 * Node for Windows under Wine, on the x86_64-pc-windows-gnu build: packed as the win32-x64-msvc
 * packages the loader looks for (the published Windows build is msvc, from the release workflow).
 */
async function wineSmoke(t, env) {
  const out = path.join(root, 'target', 'x86_64-pc-windows-gnu', 'verify')
  const win = platforms(pkg).find((p) => p.platform === 'win32')
  const stage = fs.mkdtempSync(path.join(os.tmpdir(), 'forcelink-wine-pack-'))
  const pack = (from, file, src) => {
    const dir = path.join(stage, path.basename(from))
    fs.cpSync(from, dir, { recursive: true })
    fs.copyFileSync(src, path.join(dir, file))
    return path.join(stage, JSON.parse(sh('npm', ['pack', '--json', '--pack-destination', stage], { cwd: dir }))[0].filename)
  }
  const runtimeTgz = pack(path.join(root, 'npm', win.dir), win.file, path.join(out, 'forcelink.dll'))
  const simTgz = pack(path.join(simulatorDir, 'npm', win.dir), win.sim, path.join(out, win.sim))
  // npm checks a tarball's os/cpu against this Linux host; --force installs it anyway.
  const dir = installInto('wine', [t.root, runtimeTgz, t.sim, simTgz], ['--force'])
  const node = await runtime('node-win-22')
  const wineprefix = path.join(root, 'target', 'wine')
  wineShims(wineprefix, env)
  const result = path.join(dir, 'smoke-result.txt')
  smoke(
    `win32-x64 (x86_64-pc-windows-gnu build) node 22 under wine`,
    dir,
    'wine',
    [node],
    // Node refuses Wine's reported Windows version without the skip; no pipes for its stdout;
    // FORCELINK_SMOKE_WINE: see smoke.cjs (keep-alive before connect).
    { ...env, WINEPREFIX: wineprefix, WINEDEBUG: '-all', NODE_SKIP_PLATFORM_CHECK: '1', FORCELINK_SMOKE_OUT: result, FORCELINK_SMOKE_WINE: '1' },
    600_000,
    result,
  )
}

async function main() {
  const native = argv.includes('--native-only')
  if (!native) prefetch()
  if (!argv.includes('--skip-package')) {
    const t0 = Date.now()
    const targets = opt('--targets') ? ['--targets', opt('--targets')] : []
    execFileSync(process.execPath, [path.join(__dirname, 'package-all.js'), ...(native ? ['--pack-only'] : targets)], { cwd: root, stdio: ['ignore', 'inherit', 'inherit'], env: env0 })
    console.log(`packages built in ${seconds(t0)} s`)
  }
  const t = tarballs()
  if (!fs.existsSync(t.root)) throw new Error(`no ${path.relative(root, t.root)}: run npm run package`)
  if (!fs.existsSync(t.sim)) throw new Error(`no ${path.relative(root, t.sim)}: run npm run package`)

  // Package sizes (unpacked, what npm reports): the runtime ones must stay under 8 MB.
  const sizes = path.join(dist, 'package-report.json')
  if (fs.existsSync(sizes)) {
    for (const r of JSON.parse(fs.readFileSync(sizes, 'utf8'))) {
      const mb = (n) => (n ? `${n} bytes (${(n / 1024 / 1024).toFixed(2)} MiB)` : '-')
      console.log(`size ${r.target}: runtime package ${mb(r.unpackedSize)} unpacked (.node ${mb(r.bytes)}), simulator package ${mb(r.simUnpackedSize)}`)
    }
  }

  const checks = native ? null : compileChecks()
  const own = platforms(pkg).find((p) => p.platform === process.platform && p.arch === process.arch && t[p.dir] && (p.libc ? p.libc === 'glibc' : true))
  if (!own || !t.simFor[own.dir]) throw new Error(`no runtime or simulator tarball for ${process.platform}-${process.arch}`)
  // The control simulator the smoke suite connects through: the packed one, installed.
  const simDir = installInto('sim', [t.sim, t.simFor[own.dir]])
  const simBin = execFileSync(process.execPath, ['-p', "require('forcelink-simulator').binaryPath()"], { cwd: simDir, encoding: 'utf8' }).trim()
  const sim = await spawnSim(simBin, ['--client-id', SIM.CLIENT_ID, '--client-secret', SIM.CLIENT_SECRET, '--redirect-uri', SIM.REDIRECT_URI, '--contacts', String(SIM.CONTACTS)])
  const env = {
    FORCELINK_SIM_LOGIN_URL: sim.loginUrl,
    FORCELINK_SIM_CLIENT_ID: SIM.CLIENT_ID,
    FORCELINK_SIM_CLIENT_SECRET: SIM.CLIENT_SECRET,
    FORCELINK_SIM_REDIRECT_URI: SIM.REDIRECT_URI,
    FORCELINK_SIM_CONTACTS: String(SIM.CONTACTS),
  }
  try {
    if (native) {
      const dir = installInto(own.dir, [t.root, t[own.dir], t.sim, t.simFor[own.dir]])
      smoke(`${own.dir} node ${process.version}`, dir, process.execPath, [], env, 120_000)
    } else {
      // linux-arm64-musl stays build-and-inspect (package-all.js checks it): no arm64 musl runtime here.
      const needs = ['linux-x64-gnu', ...(wants('arm64') ? ['linux-arm64-gnu'] : []), ...(wants('musl') ? ['linux-x64-musl'] : [])]
      for (const need of needs) {
        if (!t[need]) throw new Error(`missing the ${need} tarball in dist/`)
      }
      const x64 = installInto('x64', [t.root, t['linux-x64-gnu'], t.sim, t.simFor['linux-x64-gnu']])
      if (wants('node')) {
        for (const v of NODE_MAJORS) smoke(`linux-x64-gnu node ${v}`, x64, await runtime(`node-${v}`), [], env, 120_000)
      }
      if (wants('node')) readmeTestingFile(x64)
      if (wants('bun')) smoke('linux-x64-gnu bun', x64, await runtime('bun'), [], env, 120_000)
      // Deno runs the CommonJS smoke file as CommonJS, resolving forcelink from node_modules.
      if (wants('deno')) smoke('linux-x64-gnu deno', x64, await runtime('deno'), ['run', '-A'], env, 120_000)
      if (wants('musl')) await muslSmoke(t, env)

      if (wants('arm64')) {
        // npm checks an explicit tarball's os/cpu against this x64 host; --force installs it anyway.
        const arm = installInto('arm64', [t.root, t['linux-arm64-gnu']], ['--force'])
        smoke(`linux-arm64-gnu node 22 (qemu-aarch64)`, arm, 'qemu-aarch64', ['-L', '/usr/aarch64-linux-gnu', await runtime('node-arm64-22')], { ...env, FORCELINK_SMOKE_TESTING_KIT: '0' }, 600_000)
      }

      // Without its platform package, require() names the platform, the package and the fix.
      const bare = installInto('bare', [t.root])
      const msg = sh(process.execPath, ['-e', "try { require('forcelink') } catch (e) { console.log(e.code + ' ' + e.message) }"], { cwd: bare })
      report('missing-binary error', /^FORCELINK_BINARY_MISSING .*linux-x64.*"forcelink-linux-x64-gnu".*npm run build/.test(msg), msg.trim())

      // Under Wine with the test-only stand-ins for the three DLLs Wine 8.0 lacks (wineShims).
      if (wants('wine')) {
        if (await checks.windows) await wineSmoke(t, env)
        else report('win32-x64 under wine', false, '(the x86_64-pc-windows-gnu build failed)')
      }
      await checks.all
    }
  } finally {
    await sim.stop()
  }
  const failed = results.filter((r) => !r.ok).length
  console.log(`verification took ${Math.round((Date.now() - started) / 1000)} s`)
  console.log(`${results.length - failed} passed, ${failed} failed`)
  process.exit(failed ? 1 : 0)
}

/** README's testing example (__test__/readme-testing.test.js) under Jest, in the installed folder. */
function readmeTestingFile(dir) {
  const t0 = Date.now()
  if (!fs.existsSync(path.join(dir, 'node_modules', 'express'))) fs.symlinkSync(path.join(root, 'node_modules', 'express'), path.join(dir, 'node_modules', 'express'), 'dir')
  fs.copyFileSync(path.join(root, '__test__', 'readme-testing.test.js'), path.join(dir, 'forcelink.test.js'))
  const jest = path.join(root, 'node_modules', 'jest', 'bin', 'jest.js')
  const env = { ...env0 }
  delete env.FORCELINK_SIM_BINARY
  try {
    execFileSync(process.execPath, [jest, '--rootDir', dir, '--config', '{"testEnvironment":"node"}', '--ci', 'forcelink.test.js'], { cwd: dir, env, stdio: 'pipe', timeout: 180_000 })
    report('README testing file (Jest) with forcelink-simulator installed', true, `(${seconds(t0)} s)`)
  } catch (e) {
    report('README testing file (Jest) with forcelink-simulator installed', false, `\n${e.stderr || e.message}`)
  }
}

/**
 * The x64 musl package under Bun's musl build: Debian's `musl` package provides the loader, and
 * scripts/verify/musl-libs.js the musl libstdc++/libgcc_s Bun links (a musl system's own).
 */
async function muslSmoke(t, env) {
  const loader = '/lib/ld-musl-x86_64.so.1'
  if (!fs.existsSync(loader)) return report('linux-x64-musl bun (musl build)', false, `(no ${loader}: apt-get install musl)`)
  const dir = installInto('musl', [t.root, t['linux-x64-musl'], t.sim, t.simFor['linux-x64-musl']], ['--force'])
  const bun = await runtime('bun-musl')
  let libs
  try {
    libs = muslLibs(path.join(root, 'target', 'verify-runtimes'), env0)
  } catch (e) {
    return report('linux-x64-musl bun (musl build)', false, `(preparing the musl libraries: ${e.message})`)
  }
  // napi-rs's loader tells musl from glibc by /usr/bin/ldd first, and this Debian machine's is
  // glibc's (on Alpine it is musl's): the loader is pointed at the installed musl package instead.
  const native = path.join(dir, 'node_modules', 'forcelink-linux-x64-musl', 'forcelink.linux-x64-musl.node')
  smoke('linux-x64-musl bun (musl build)', dir, bun, [], { ...env, ...libs, NAPI_RS_NATIVE_LIBRARY_PATH: native }, 120_000)
}

main().catch((e) => {
  console.error(e)
  process.exit(1)
})
