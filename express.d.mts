// The ESM entry's types (express.mjs re-exports the CommonJS module's exports by name and as default).
import cjs = require('./express.js')

export * from './express.js'
export default cjs
