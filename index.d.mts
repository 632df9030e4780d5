// The ESM entry's types (index.mjs re-exports the CommonJS module's exports by name and as default).
import cjs = require('./index.js')

export * from './index.js'
export default cjs
