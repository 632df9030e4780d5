'use strict'
// What Bun's musl build needs to run on this glibc (Debian) machine, besides Debian's `musl`
// package (the loader, /lib/ld-musl-x86_64.so.1, which is also its libc):
//   - musl builds of libstdc++.so.6 / libgcc_s.so.1: taken from a musllinux_1_1 wheel on PyPI
//     (scipy 1.13.1 vendors both). Newer musllinux_1_2 wheels' copies use DT_RELR relocations,
//     which Debian's musl 1.2.3 does not apply (support came in musl 1.2.4): Bun then segfaults
//     in the loader, jumping through an unrelocated pointer.
//   - that libstdc++ (GCC 10) lacks two symbols newer GCC emits calls to, both on failure paths
//     only (std::__throw_bad_array_new_length, std::__glibcxx_assert_fail): a preloaded shim,
//     built here with zig, aborts there.
// Prepared once into target/verify-runtimes/musl-libs/; returns the environment to run Bun with.
const fs = require('node:fs')
const path = require('node:path')
const { execFileSync } = require('node:child_process')

const WHEEL = { name: 'scipy', version: '1.13.1', platform: 'musllinux_1_1_x86_64', python: '3.12' }
const SHIM = `#include <stdlib.h>
void _ZSt28__throw_bad_array_new_lengthv(void) { abort(); }
void _ZSt21__glibcxx_assert_failPKciS0_S0_(const char *f, int l, const char *fn, const char *c) {
  (void)f; (void)l; (void)fn; (void)c; abort();
}
`

function muslLibs(cacheDir, env) {
  const dir = path.join(cacheDir, 'musl-libs')
  const lib = path.join(dir, 'lib')
  const shim = path.join(lib, 'libcxxshim.so')
  const out = { LD_LIBRARY_PATH: lib, LD_PRELOAD: shim }
  if (fs.existsSync(shim)) return out
  fs.rmSync(dir, { recursive: true, force: true })
  fs.mkdirSync(lib, { recursive: true })
  const run = (cmd, args) => execFileSync(cmd, args, { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'], timeout: 600_000 })
  run('python3', ['-m', 'pip', 'download', `${WHEEL.name}==${WHEEL.version}`, '--only-binary=:all:', '--platform', WHEEL.platform, '--python-version', WHEEL.python, '--no-deps', '-d', dir])
  const wheel = fs.readdirSync(dir).find((f) => f.endsWith('.whl'))
  run('python3', ['-m', 'zipfile', '-e', wheel, 'wheel'])
  const libs = path.join(dir, 'wheel', `${WHEEL.name}.libs`)
  for (const f of fs.readdirSync(libs)) {
    // Under their vendored names (what libstdc++ itself asks for) and the names Bun asks for.
    if (/^libgcc_s-.*\.so\.1$/.test(f)) fs.copyFileSync(path.join(libs, f), path.join(lib, f))
    if (/^libstdc\+\+-.*\.so\.6/.test(f)) fs.copyFileSync(path.join(libs, f), path.join(lib, 'libstdc++.so.6'))
  }
  if (!fs.existsSync(path.join(lib, 'libstdc++.so.6'))) throw new Error(`no libstdc++ in ${wheel}`)
  fs.symlinkSync('/lib/ld-musl-x86_64.so.1', path.join(lib, 'libc.musl-x86_64.so.1'))
  fs.rmSync(path.join(dir, 'wheel'), { recursive: true, force: true })
  fs.rmSync(path.join(dir, wheel))
  fs.writeFileSync(path.join(dir, 'shim.c'), SHIM)
  run('zig', ['cc', '-target', 'x86_64-linux-musl', '-shared', '-fPIC', '-O2', '-o', shim, path.join(dir, 'shim.c')])
  return out
}

module.exports = { muslLibs }
