'use strict'
// ESLint (flat config): @eslint/js's recommended rules over every JavaScript file we write.
// Generated and vendored files are ignored: binding.js (napi's loader), build output, dependencies.

const js = require('@eslint/js')
const globals = require('globals')

module.exports = [
  {
    ignores: [
      'binding.js',
      '**/node_modules/',
      'target/',
      '**/target/',
      'dist/',
      'npm/',
      'benchmark/micro/target/',
      // The incumbent controller re-created as documented, its quirks kept on purpose (benchmark peer).
      'benchmark/incumbent/',
    ],
  },
  js.configs.recommended,
  {
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: {
      ecmaVersion: 2024,
      sourceType: 'commonjs',
      globals: { ...globals.node },
    },
  },
  {
    files: ['**/*.mjs'],
    languageOptions: {
      ecmaVersion: 2024,
      sourceType: 'module',
      globals: { ...globals.node },
    },
  },
  {
    // Jest test files and their helpers.
    files: ['__test__/**/*.js', '__test__/**/*.cjs', '__test__/**/*.mjs'],
    languageOptions: { globals: { ...globals.jest } },
  },
  {
    // Functions passed to Playwright's page.evaluate run in the browser.
    files: ['__test__/browser.test.js'],
    languageOptions: { globals: { ...globals.browser } },
  },
  {
    // Scripts served to the browser by the demo.
    files: ['demo/public/**/*.js'],
    languageOptions: { sourceType: 'script', globals: { ...globals.browser } },
  },
  {
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // `_`-prefixed names and `const { omitted, ...rest } = o` are deliberately unused.
      'no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true },
      ],
    },
  },
]
