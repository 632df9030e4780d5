// The ESM entry's types (index.mjs re-exports the CommonJS module's exports by name).
export * from './index.js'
