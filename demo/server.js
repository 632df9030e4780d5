'use strict'
// The demo host: an Express app shaped like the incumbent's, with a fake auth middleware, the
// forcelink router at the incumbent's mount point, a status endpoint and a static page.
// `scripts/demo.js` runs it against the simulator; tests start it programmatically.

const crypto = require('node:crypto')
const fs = require('node:fs')
const http = require('node:http')
const os = require('node:os')
const path = require('node:path')
const { Forcelink } = require('..')
const { salesforceRouter } = require('../express')
const { syncRoutes } = require('./sync')
const { activityRoutes } = require('./activity')

const MOUNT = '/v1/integrations/salesforce'
const DEMO_AUTH = { account_id: 'demo-account', uid: 'demo-user' }

/** The app for one Forcelink instance. `express` may be Express 4 or 5 (default: the installed one). */
function createDemoApp({ forcelink, express = require('express'), mode = 'simulator', simControlUrl }) {
  const app = express()
  app.disable('x-powered-by')
  // Stands in for the host's JWT middleware: everyone is the same demo user.
  app.use((req, _res, next) => {
    req.auth = { ...DEMO_AUTH }
    next()
  })
  app.use(MOUNT, salesforceRouter(forcelink, { express }))
  app.use('/api/sync', express.json(), syncRoutes({ forcelink, express, simControlUrl }))
  const conn = (req) => ({ accountId: req.auth.account_id, ownerId: req.auth.uid })
  app.use('/api/activity', activityRoutes({ forcelink, express, simControlUrl, conn }))
  app.get('/api/status', async (req, res, next) => {
    const conn = { accountId: req.auth.account_id, ownerId: req.auth.uid }
    try {
      // Never send the token itself: only whether there is a usable one.
      const { instanceUrl } = await forcelink.getAccessToken(conn)
      res.json({ connected: true, mode, instanceUrl, apiUsage: forcelink.limitInfo() })
    } catch (err) {
      if (err.name !== 'ForcelinkError') return next(err)
      const body = { connected: false, mode }
      // e.g. RECONNECT_REQUIRED after the user revoked access at Salesforce.
      if (err.code !== 'TOKEN_NOT_FOUND') Object.assign(body, { code: err.code, message: err.message })
      res.json(body)
    }
  })
  app.use(express.static(path.join(__dirname, 'public')))
  app.use((err, _req, res, _next) => {
    console.error('demo: unexpected error:', err && err.message)
    res.status(500).json({ success: false, errno: 500, message: 'Internal error' })
  })
  return app
}

/**
 * Listens, then builds the Forcelink (its redirect URI defaults to this server's own callback, so a
 * test can use port 0). `forcelinkConfig` needs clientId, clientSecret and, for the simulator, loginUrl.
 * Resolves `{ url, server, forcelink, dataDir, close }`.
 */
async function startDemo({ port = 3000, host = 'localhost', forcelinkConfig, express, mode, simControlUrl } = {}) {
  const server = http.createServer()
  await new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, resolve)
  })
  const addr = server.address()
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${addr.port}`
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'forcelink-demo-'))
  let forcelink
  try {
    forcelink = new Forcelink({
      redirectUri: `${url}${MOUNT}/auth/callback`,
      // Per run: states from an earlier run are void, and so is the throwaway store.
      stateSecret: crypto.randomBytes(32).toString('hex'),
      storePath: path.join(dataDir, 'forcelink.db'),
      ...forcelinkConfig,
    })
  } catch (err) {
    server.close()
    throw err
  }
  server.on('request', createDemoApp({ forcelink, express, mode, simControlUrl }))
  const close = () =>
    new Promise((resolve) => {
      server.close(() => {
        fs.rmSync(dataDir, { recursive: true, force: true })
        resolve()
      })
      server.closeAllConnections?.()
    })
  return { url, server, forcelink, dataDir, close }
}

module.exports = { createDemoApp, startDemo, MOUNT, DEMO_AUTH }
