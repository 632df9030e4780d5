'use strict'
// An import library for `x86_64-pc-windows-gnu` builds (the Wine run, scripts/verify-packages.js):
// napi-build links a gnu Windows addon with `-lnode` and panics unless LIBNODE_PATH holds a
// `libnode.dll`; napi-sys (without its dyn-symbols feature, as forcelink builds it) declares the
// N-API functions as plain externs that node.exe exports. So: a .def listing napi-sys's own
// functions as exports of node.exe, turned into `node.lib` by zig's llvm-dlltool (zig's linker looks for node.dll, node.lib, libnode.a), and an
// empty `libnode.dll` only for napi-build's existence check.
//   node scripts/ci/libnode-import.js DIR   → prints DIR (set it as LIBNODE_PATH)
const fs = require('node:fs')
const path = require('node:path')
const { execFileSync } = require('node:child_process')

const root = path.join(__dirname, '..', '..')

/** napi-sys's source folder, from cargo's own resolution of the lock file. */
function napiSysDir() {
  const meta = JSON.parse(execFileSync('cargo', ['metadata', '--format-version', '1', '--filter-platform', 'x86_64-pc-windows-gnu', '--features', 'node'], { cwd: root, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 }))
  const sys = meta.packages.find((p) => p.name === 'napi-sys')
  if (!sys) throw new Error('napi-sys is not in the dependency graph')
  return path.dirname(sys.manifest_path)
}

function libnodeImport(dir) {
  fs.mkdirSync(dir, { recursive: true })
  const lib = path.join(dir, 'node.lib')
  if (fs.existsSync(lib)) return dir
  const src = fs.readFileSync(path.join(napiSysDir(), 'src', 'functions.rs'), 'utf8')
  const names = [...new Set([...src.matchAll(/\bfn ((?:napi|node_api)_\w+)\s*\(/g)].map((m) => m[1]))].sort()
  if (names.length < 100) throw new Error(`only ${names.length} N-API functions found in napi-sys`)
  const def = path.join(dir, 'node.def')
  fs.writeFileSync(def, `LIBRARY node.exe\nEXPORTS\n${names.map((n) => `  ${n}`).join('\n')}\n`)
  execFileSync('zig', ['dlltool', '-m', 'i386:x86-64', '-d', def, '-l', lib], { stdio: 'inherit' })
  fs.writeFileSync(path.join(dir, 'libnode.dll'), '')
  return dir
}

if (require.main === module) console.log(libnodeImport(path.resolve(process.argv[2] || path.join(root, 'target', 'libnode-gnu'))))

module.exports = { libnodeImport }
