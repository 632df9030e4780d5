// The README's MongoDB TokenStore (contract v2) as written, checked against mongoose's own types.
import { randomUUID } from 'node:crypto'
import type { TokenRecord, TokenStore } from 'forcelink'
import mongoose from 'mongoose'

const keySchema = new mongoose.Schema({
  account_id: String, owner: String, token: Object, token_invalidated: Boolean, version: Number,
  invalidated_reason: String, refreshed_at: Number,
}, { collection: 'integrations.salesforce.key' })
// One record per connection, whatever races: the fence and the upsert rely on it.
keySchema.index({ account_id: 1, owner: 1 }, { unique: true })
// keepAlive's listConnections walks records in key order, filtered on the grant time.
keySchema.index({ account_id: 1, owner: 1, refreshed_at: 1 })
const Key = mongoose.model<TokenRecord>('SalesforceKey', keySchema)
const Lease = mongoose.model<{ _id: string; token: string; until: Date }>('SalesforceLease',
  new mongoose.Schema({ _id: String, token: String, until: Date }))
const Nonce = mongoose.model<{ _id: string; expires: Date }>('SalesforceNonce',
  new mongoose.Schema({ _id: String, expires: { type: Date, expires: 0 } }))

const leaseId = (a: string, o: string) => `${a}\u0000${o}`

export const mongoStore: TokenStore = {
  find: (a, o) => Key.findOne({ account_id: a, owner: o }).lean(),
  save: async (r, opts) => {
    const key = { account_id: r.account_id, owner: r.owner }
    if (opts === undefined) {
      await Key.updateOne(key, { $set: r }, { upsert: true })
      return true
    }
    const v = opts.expectedVersion
    // `{ version: null }` matches a missing field and an explicit null (incumbent records).
    const same = v === 0 ? { $or: [{ version: 0 }, { version: null }] } : { version: v }
    return Key.updateOne({ ...key, ...same }, { $set: r }) // { matchedCount } is read as the answer
  },
  delete: async (a, o) => (await Key.deleteOne({ account_id: a, owner: o })).deletedCount > 0,
  acquireLease: async (a, o, ttlMs) => {
    const now = new Date()
    const token = randomUUID()
    try {
      const doc = await Lease.findOneAndUpdate(
        { _id: leaseId(a, o), until: { $lte: now } },
        { $set: { token, until: new Date(now.getTime() + ttlMs) } },
        { upsert: true, new: true },
      ).lean()
      return doc?.token === token ? token : null
    } catch (e) {
      if ((e as { code?: number }).code === 11000) return null // a live lease exists
      throw e
    }
  },
  renewLease: async (a, o, token, ttlMs) => {
    const now = new Date()
    const filter = { _id: leaseId(a, o), token, until: { $gt: now } }
    return (await Lease.updateOne(filter, { $set: { until: new Date(now.getTime() + ttlMs) } })).matchedCount === 1
  },
  releaseLease: async (a, o, token) => {
    await Lease.deleteOne({ _id: leaseId(a, o), token })
  },
  // keepAlive: live connections granted before `refreshedBefore` (or never stamped), keyset-paged.
  listConnections: async ({ refreshedBefore, after, limit }) => {
    const [a, o] = Array.isArray(after) ? after.map(String) : ['', '']
    const docs = await Key.find({
      token_invalidated: { $ne: true },
      'token.refresh_token': { $type: 'string' },
      $and: [
        { $or: [{ refreshed_at: { $lt: refreshedBefore } }, { refreshed_at: null }] },
        { $or: [{ account_id: { $gt: a } }, { account_id: a, owner: { $gt: o } }] },
      ],
    }, { account_id: 1, owner: 1 }).sort({ account_id: 1, owner: 1 }).limit(limit + 1).lean()
    const page = docs.slice(0, limit)
    const last = page[page.length - 1]
    return {
      connections: page.map((d) => ({ accountId: d.account_id, ownerId: d.owner })),
      next: docs.length > limit && last ? [last.account_id, last.owner] : null,
    }
  },
  consumeNonce: (nonce, expiresAtMs) =>
    Nonce.create({ _id: nonce, expires: new Date(expiresAtMs) }).then(
      () => true,
      (e: { code?: number }) => (e.code === 11000 ? false : Promise.reject(e)),
    ),
}
