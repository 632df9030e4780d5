// The ESM entry's types (postgres.mjs re-exports the CommonJS module's exports by name and as default).
import cjs = require('./postgres.js')

export * from './postgres.js'
export default cjs
