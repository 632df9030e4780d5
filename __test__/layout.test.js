'use strict'
// README's "Layout" section names every top-level folder in the repository, one line each.
const fs = require('node:fs')
const path = require('node:path')
const { execFileSync } = require('node:child_process')

const root = path.join(__dirname, '..')

test('README "Layout" shows every top-level tracked folder, and only folders that exist', () => {
  const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8')
  const section = readme.slice(readme.indexOf('\n## Layout\n'))
  const block = section.slice(section.indexOf('```\n') + 4, section.indexOf('\n```', section.indexOf('```\n') + 4))
  const shown = block
    .split('\n')
    .map((l) => /^(\S+)\/\s+\S/.exec(l))
    .filter(Boolean)
    .map((m) => m[1])
  const tracked = [
    ...new Set(
      execFileSync('git', ['ls-files'], { cwd: root, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
        .split('\n')
        .filter((f) => f.includes('/'))
        .map((f) => f.split('/')[0]),
    ),
  ].sort()
  expect(tracked.length).toBeGreaterThan(5)
  expect([...shown].sort()).toEqual(tracked)
})
