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

  // 1. Send the user to Salesforce (or straight back if already connected). Give `binding` to this
  //    browser only (an HttpOnly cookie scoped to the callback route; the Express router does it).
  const { redirectUrl, alreadyConnected, binding } = await fl.beginLogin({ accountId, ownerId, forwardUrl })
  // 2. On the callback route, with the binding that browser sent back:
  const { redirectUrl: back } = await fl.handleCallback({ code, state, error, errorDescription, binding })
  // 3. Use the connection.
  const { data, pagination } = await fl.exportPage({ accountId, ownerId, type: 'contacts', page: 1, limit: 100 })
  // eslint-disable-next-line no-unused-vars
  for await (const batch of fl.exportAll({ accountId, ownerId, type: 'deals' })) { /* ≤ 2,000 records */ }
  const { accessToken, instanceUrl } = await fl.getAccessToken({ accountId, ownerId })
  await fl.disconnect({ accountId, ownerId }) // revokes at Salesforce, then deletes

  // Express
  const app = require('express')()
  const { salesforceRouter } = require('forcelink/express')
  app.use('/v1/integrations/salesforce', authMiddleware /* sets req.auth */, salesforceRouter(fl))

  // The stored record's shape.
  const account_id = accountId, owner = ownerId, access_token = 'a', refresh_token = 'r', issued_at = '1', instance_url = 'u', id = 'i', scope = 's', token_invalidated = false, version = 3
  /** @type {import('forcelink').ReconnectReason} */ const invalidated_reason = 'other'
  const refreshed_at = Date.now()
  /** @type {import('forcelink').TokenRecord} */
  const record = { account_id, owner, token: { access_token, refresh_token, issued_at, instance_url, id, scope }, token_invalidated, invalidated_reason, refreshed_at, version }

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

/**
 * README "Keeping connections alive".
 * @param {import('forcelink').Forcelink} fl
 * @param {{ info(o: object, m: string): void, error(o: unknown, m: string): void }} logger
 * @param {(c: import('forcelink').EventConnection, r: string | null) => void} notifyUser
 */
function keepAliveSnippet(fl, logger, notifyUser) {
  // Once a day is plenty: each connection gets one token request every ~20 days.
  const DAY = 24 * 60 * 60 * 1000
  const ac = new AbortController()
  const sweep = async () => {
    try {
      const r = await fl.keepAlive({ signal: ac.signal }) // olderThanMs: 20 days, concurrency: 4
      logger.info({ ...r, failed: r.failed.length }, 'salesforce keepAlive')
      for (const f of r.failed) if (f.code === 'RECONNECT_REQUIRED') notifyUser(f.connection, f.reason)
    } catch (/** @type {any} */ e) {
      if (e.code !== 'CANCELLED') logger.error(e, 'salesforce keepAlive failed')
    }
  }
  const timer = setInterval(sweep, DAY)
  timer.unref()
  // on shutdown: ac.abort(); clearInterval(timer)
  return { ac, timer }
}

function postgresSnippet() {
  const { Forcelink } = require('forcelink')
  const config = common
  const { PostgresStore } = require('forcelink/stores/postgres')
  const store = new PostgresStore({ connectionString: process.env.DATABASE_URL }) // or { pool }
  const fl = new Forcelink({ ...config, store })
  // on shutdown: await store.close()
  return [fl, store]
}

/**
 * @param {import('forcelink').Forcelink} fl
 * @param {{ loadCheckpoint(t: string): Promise<string | undefined>, transaction(f: (tx: { upsert(id: unknown, r: unknown): Promise<void>, remove(id: string): Promise<void>, saveCheckpoint(t: string, c: string): Promise<void> }) => Promise<void>): Promise<void> }} db
 */
async function syncSnippet(fl, db) {
  let checkpoint = await db.loadCheckpoint('contacts') // undefined the first time: a full initial sync
  for await (const { upserts, deletes, checkpoint: next } of fl.sync({ accountId, ownerId, type: 'contacts', checkpoint })) {
    await db.transaction(async (tx) => {
      for (const r of upserts) await tx.upsert(r.Id, r)  // idempotent: a record may come again
      for (const d of deletes) await tx.remove(d.Id)     // { Id, deletedAt }; unknown Ids are fine
      await tx.saveCheckpoint('contacts', next)          // with the changes, in the same transaction
    })
    checkpoint = next
  }
  return checkpoint
}

/**
 * @param {import('forcelink').Forcelink} fl
 * @param {string | undefined} checkpoint
 * @param {{ info(o: object): void }} log
 * @param {{ transaction(f: (tx: { merge(id: unknown, r: object): Promise<void>, remove(id: string): Promise<void>, saveCheckpoint(t: string, c: string): Promise<void> }) => Promise<void>): Promise<void> }} db
 */
async function liveSyncSnippet(fl, checkpoint, log, db) {
  const ac = new AbortController() // ac.abort() on shutdown
  fl.on('changeStream', (e) => log.info({ kind: e.kind, reason: e.reason, type: e.type }))
  for await (const step of fl.sync({ accountId, ownerId, type: 'contacts', checkpoint, live: true, signal: ac.signal })) {
    await db.transaction(async (tx) => {
      for (const r of step.upserts) await tx.merge(r.Id, r) // { ...old, ...r }: an UPDATE is a patch
      for (const d of step.deletes) await tx.remove(d.Id)
      await tx.saveCheckpoint('contacts', step.checkpoint)
    })
  }
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
  // Salesforce redirects the browser to /auth/callback: cookies come along, an Authorization header
  // does not. A strict bearer-token middleware therefore skips that one route; the callback is
  // guarded by the signed state and the browser-binding cookie instead.
  /** @type {import('express').RequestHandler} */
  const hostAuth = (req, res, next) => (req.path === '/auth/callback' ? next() : authMiddleware(req, res, next))
  app.use('/v1/integrations/salesforce', hostAuth /* sets req.auth = { account_id, uid } */, salesforceRouter(forcelink))
  // Express 5, or to be explicit about which copy of Express to use:
  app.use('/v1/integrations/salesforce', salesforceRouter(forcelink, { express }))
}

module.exports = { quickStart, keepAliveSnippet, postgresSnippet, syncSnippet, liveSyncSnippet, hostMountSnippet }
