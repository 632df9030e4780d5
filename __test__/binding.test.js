'use strict'
// Issue 15: `binding.d.ts` (and the `binding.js` loader) are committed, so a change to the native
// API shows in review. `npm run build:debug` (which `npm test` runs first) writes what napi
// generates to target/napi-debug/; this test fails when the committed files differ from it.
// Debug builds carry the `test-hooks` feature (the functions in src/node/test_hooks.rs), which
// the published binary, and so the committed files, do not: they are left out of the comparison.
// To update the committed files after changing the binding: `UPDATE_BINDING=1 npm test -- binding`
// (or `npm run build`, the release build, which writes them in place).
const fs = require('node:fs')
const path = require('node:path')

const root = path.join(__dirname, '..')
const generated = path.join(root, 'target', 'napi-debug')

// `pub fn panic_for_test(` in test_hooks.rs is `panicForTest` in JS.
const hooks = [...fs.readFileSync(path.join(root, 'src', 'node', 'test_hooks.rs'), 'utf8').matchAll(/pub (?:async )?fn (\w+)/g)].map((m) =>
  m[1].replace(/_([a-z])/g, (_, c) => c.toUpperCase()),
)

/** The declarations without the test-hook functions (each is one doc comment + one line). */
function releaseDts(text) {
  const blocks = text.split(/\n\n/)
  return blocks.filter((b) => !hooks.some((h) => new RegExp(`^export declare function ${h}\\(`, 'm').test(b))).join('\n\n')
}

/**
 * The loader without the re-export lines of the test hooks. Generated in target/napi-debug/, its
 * paths to the WASI files are relative to there (`../../forcelink.wasi.cjs`); the package's
 * loader sits beside them (`./forcelink.wasi.cjs`).
 */
function releaseJs(text) {
  return text
    .replaceAll("'../../forcelink.", "'./forcelink.")
    .split('\n')
    .filter((l) => !hooks.some((h) => l === `module.exports.${h} = nativeBinding.${h}`))
    .join('\n')
}

test('the test hooks are known', () => {
  expect(hooks).toEqual(expect.arrayContaining(['panicForTest', 'panicForTestAsync']))
})

test.each([
  ['binding.d.ts', releaseDts],
  ['binding.js', releaseJs],
])('committed %s matches what the build generates', (file, release) => {
  const built = path.join(generated, file)
  if (!fs.existsSync(built)) throw new Error(`${built} is missing: run "npm run build:debug" first`)
  const want = release(fs.readFileSync(built, 'utf8'))
  const committed = path.join(root, file)
  if (process.env.UPDATE_BINDING === '1') fs.writeFileSync(committed, want)
  const have = fs.readFileSync(committed, 'utf8')
  if (have !== want) {
    throw new Error(`${file} differs from the generated one (${path.relative(root, built)}, test hooks left out): commit the new version ` +
      `(UPDATE_BINDING=1 npm test -- binding writes it), so the binding's API change shows in review`)
  }
  for (const h of hooks) expect(have).not.toContain(h)
  expect(have).not.toContain("'../")
})
