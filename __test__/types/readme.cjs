// @ts-check
// The README's JavaScript snippets as written (CommonJS), type-checked with checkJs under --strict.
// __test__/types.test.js checks that every line of every README snippet appears in this folder.
'use strict'

/** @type {string} */ const accountId = 'acc-1'
/** @type {string} */ const ownerId = 'user-1'
/** @type {string} */ const forwardUrl = '/integrations'
/** @type {string | undefined} */ const code = undefined
/** @type {string | undefined} */ const state = undefined
/** @type {string | undefined} */ const error = undefined
/** @type {string | undefined} */ const errorDescription = undefined
/** @type {import('express').RequestHandler} */ const authMiddleware = (req, res, next) => next()
const common = { clientId: 'id', clientSecret: 'secret', redirectUri: 'https://api.example.com/cb', stateSecret: 's'.repeat(32) }
const fs = require('node:fs')
const mongoose = require('mongoose')

async function quickStart() {
  const { Forcelink } = require('forcelink') // or: import { Forcelink } from 'forcelink'

  const fl = new Forcelink({
    clientId: process.env.SALESFORCE_CLIENT_ID,
    clientSecret: process.env.SALESFORCE_CLIENT_SECRET,
    redirectUri: 'https://api.example.com/v1/integrations/salesforce/auth/callback',
    stateSecret: process.env.FORCELINK_STATE_SECRET, // ≥ 32 bytes
    allowedForwardOrigins: ['https://app.example.com'],
    // store: myMongoStore,                            // omit to use the embedded SQLite store
  })

  // 1. Send the user to Salesforce (or straight back if already connected).
  const { redirectUrl, alreadyConnected } = await fl.beginLogin({ accountId, ownerId, forwardUrl })
  // 2. On the callback route:
  const { redirectUrl: back } = await fl.handleCallback({ code, state, error, errorDescription })
  // 3. Use the connection.
  const { data, pagination } = await fl.exportPage({ accountId, ownerId, type: 'contacts', page: 1, limit: 100 })
  for await (const batch of fl.exportAll({ accountId, ownerId, type: 'deals' })) { /* ≤ 2,000 records */ }
  const { accessToken, instanceUrl } = await fl.getAccessToken({ accountId, ownerId })
  await fl.disconnect({ accountId, ownerId }) // revokes at Salesforce, then deletes

  // Express
  const app = require('express')()
  const { salesforceRouter } = require('forcelink/express')
  app.use('/v1/integrations/salesforce', authMiddleware /* sets req.auth */, salesforceRouter(fl))

  // The stored record's shape.
  const account_id = accountId, owner = ownerId, access_token = 'a', refresh_token = 'r', issued_at = '1', instance_url = 'u', id = 'i', scope = 's', token_invalidated = false
  /** @type {import('forcelink').TokenRecord} */
  const record = { account_id, owner, token: { access_token, refresh_token, issued_at, instance_url, id, scope }, token_invalidated }

  // Export types.
  new Forcelink({
    ...common,
    exportTypes: {
      deals: { object: 'Opportunity', fields: ['Name', 'Amount', 'Custom_Field__c', 'Account.Owner.Alias'] },
      leads: { object: 'Lead', fields: ['Name', 'Company', 'Status'] },
    },
  })

  // Server-to-server flows.
  {
    const fl = new Forcelink({ ...common, jwtBearer: { username: 'integration@acme.com', privateKeyPem: fs.readFileSync('server.key', 'utf8') } })
    await fl.exportPage({ connectionId: 'nightly-sync', type: 'deals', page: 1, limit: 200 })
    new Forcelink({ ...common, loginUrl: 'https://acme.my.salesforce.com', clientCredentials: true })
  }

  // Writes.
  const { id: created } = await fl.createRecord({ accountId, ownerId, object: 'Contact', fields: { LastName: 'Lovelace', Email: 'ada@example.org' } })
  await fl.updateRecord({ accountId, ownerId, object: 'Contact', id: created, fields: { Title: 'Analyst' } })
  {
    const { id } = await fl.createRecord({ accountId, ownerId, object: 'Contact', fields: { LastName: 'Lovelace', Email: 'ada@example.org' } })
    await fl.updateRecord({ accountId, ownerId, object: 'Contact', id, fields: { Title: 'Analyst' } })
  }
  return [redirectUrl, alreadyConnected, back, data, pagination, accessToken, instanceUrl, record]
}

function mongoStoreSnippet() {
  const { Forcelink } = require('forcelink')
  const Key = mongoose.model('SalesforceKey', new mongoose.Schema({
    account_id: String, owner: String, token: Object, token_invalidated: Boolean, lease_until: Date,
  }, { collection: 'integrations.salesforce.key' }))
  const Nonce = mongoose.model('SalesforceNonce', new mongoose.Schema({ _id: String, expires: { type: Date, expires: 0 } }))

  /** @type {import('forcelink').TokenStore} */
  const mongoStore = {
    find: (a, o) => Key.findOne({ account_id: a, owner: o }).lean(),
    save: (r) => Key.updateOne({ account_id: r.account_id, owner: r.owner }, { $set: r }, { upsert: true }),
    delete: async (a, o) => (await Key.deleteOne({ account_id: a, owner: o })).deletedCount > 0,
    acquireLease: async (a, o, ttlMs) => {
      const now = new Date()
      const doc = await Key.findOneAndUpdate(
        { account_id: a, owner: o, $or: [{ lease_until: null }, { lease_until: { $lte: now } }] },
        { $set: { lease_until: new Date(now.getTime() + ttlMs) } },
      )
      return doc !== null
    },
    releaseLease: (a, o) => Key.updateOne({ account_id: a, owner: o }, { $set: { lease_until: null } }),
    consumeNonce: (nonce, expiresAtMs) =>
      Nonce.create({ _id: nonce, expires: new Date(expiresAtMs) }).then(() => true, (e) => (e.code === 11000 ? false : Promise.reject(e))),
  }
  return new Forcelink({ ...common, store: mongoStore })
}

function hostMountSnippet() {
  /** @type {import('forcelink').TokenStore} */
  const tokenStore = { find: () => null, save: () => {}, delete: () => false }

  const express = require('express')
  const { Forcelink } = require('forcelink')
  const { salesforceRouter } = require('forcelink/express')

  const forcelink = new Forcelink({
    clientId: process.env.SALESFORCE_CLIENT_ID,
    clientSecret: process.env.SALESFORCE_SECRET_ID,
    redirectUri: process.env.SALESFORCE_REDIRECT_URL, // …/v1/integrations/salesforce/auth/callback
    stateSecret: process.env.FORCELINK_STATE_SECRET, // ≥ 32 random bytes
    loginUrl: process.env.SALESFORCE_LOGIN_URL, // optional: https://test.salesforce.com for sandboxes
    allowedForwardOrigins: ['https://app.example.com'],
    store: tokenStore, // your TokenStore (e.g. over the existing Mongo collection); omit for SQLite
  })

  const app = express()
  app.use('/v1/integrations/salesforce', authMiddleware /* sets req.auth = { account_id, uid } */, salesforceRouter(forcelink))
  // Express 5, or to be explicit about which copy of Express to use:
  app.use('/v1/integrations/salesforce', salesforceRouter(forcelink, { express }))
}

module.exports = { quickStart, mongoStoreSnippet, hostMountSnippet }
