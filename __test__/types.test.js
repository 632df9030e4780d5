'use strict'
// The published types are checked, not hoped: tsc --strict (no skipLibCheck) over every README
// snippet as written (JavaScript through checkJs, TypeScript as is) plus misuse that must fail.
const fs = require('node:fs')
const path = require('node:path')
const { execFileSync } = require('node:child_process')

const root = path.join(__dirname, '..')
const typesDir = path.join(__dirname, 'types')

test('tsc --strict accepts the snippets and refuses the misuse', () => {
  const tsconfig = JSON.parse(fs.readFileSync(path.join(typesDir, 'tsconfig.json'), 'utf8'))
  expect(tsconfig.compilerOptions.strict).toBe(true)
  expect(tsconfig.compilerOptions.skipLibCheck).toBe(false)
  let out = ''
  try {
    execFileSync(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(typesDir, 'tsconfig.json')], {
      cwd: root,
      encoding: 'utf8',
    })
  } catch (e) {
    out = `${e.stdout}${e.stderr}`
  }
  expect(out).toBe('')
})

test("the package's JavaScript (index.js, express.js, // @ts-check) type-checks against its declarations and binding.d.ts", () => {
  let out = ''
  try {
    execFileSync(process.execPath, [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(typesDir, 'tsconfig.lib.json')], {
      cwd: root,
      encoding: 'utf8',
    })
  } catch (e) {
    out = `${e.stdout}${e.stderr}`
  }
  expect(out).toBe('')
  for (const f of ['index.js', 'express.js']) expect(fs.readFileSync(path.join(root, f), 'utf8')).toMatch(/^\/\/ @ts-check\n/)
})

test('every line of every README code snippet is in the type-checked files', () => {
  const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8')
  const checked = fs
    .readdirSync(typesDir)
    .filter((f) => /\.(c|m)?(j|t)s$/.test(f))
    .map((f) => fs.readFileSync(path.join(typesDir, f), 'utf8'))
    .join('\n')
  const blocks = [...readme.matchAll(/```(js|ts)\n([\s\S]*?)```/g)].map((m) => m[2])
  expect(blocks.length).toBeGreaterThan(8)
  const missing = []
  for (const block of blocks) {
    for (const line of block.split('\n')) {
      const l = line.trim()
      if (l && !checked.includes(l)) missing.push(l)
    }
  }
  expect(missing).toEqual([])
})
