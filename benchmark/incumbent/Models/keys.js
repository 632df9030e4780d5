'use strict'
// Models/keys.js: the `integrations.salesforce.key` collection. An in-memory stand-in for the
// mongoose model (same functions, same document shape), so the database costs nothing here.
const crypto = require('node:crypto')

function createModel() {
  const docs = new Map() // _id -> document

  return {
    /** SalesforceKey.findOne({ account_id, owner }) with `_id` converted to `id`. */
    async findQuery(account_id, owner_id) {
      for (const d of docs.values()) {
        if (d.account_id === account_id.toString() && d.owner === owner_id.toString()) {
          const { _id, ...rest } = structuredClone(d)
          return { id: _id, ...rest }
        }
      }
      return null
    },
    /** SalesforceKey.updateOne({ _id }, data, { upsert: true }). */
    async saveRefreshToken(id, data) {
      const _id = id || crypto.randomBytes(12).toString('hex')
      const prev = docs.get(_id) || { _id }
      const next = { ...prev, ...structuredClone(data), _id }
      docs.set(_id, next)
      return { acknowledged: true, upsertedId: prev === undefined ? _id : null }
    },
    /** SalesforceKey.deleteOne({ _id }). */
    async deleteToken(id) {
      return { deletedCount: docs.delete(id) ? 1 : 0 }
    },
    /** For the benchmarks: how many documents exist. */
    size: () => docs.size,
  }
}

module.exports = { createModel }
