'use strict'
// The incumbent Salesforce integration, wired as in production: controllers + routes.
const { createModel } = require('./Models/keys')
const { createProviders } = require('./Providers/api')
const { createAuthController } = require('./Controllers/authController')
const { createExportController } = require('./Controllers/exportController')

/**
 * `env` holds what the incumbent reads from process.env. `envFor(sim)` builds it for the simulator:
 * the login host for OAuth, the REST host (v48.0, as the incumbent's endpoints) for exports.
 */
function createIncumbent(env) {
  const DatabaseQuery = createModel()
  const providers = createProviders(env, DatabaseQuery)
  const auth = createAuthController(env, DatabaseQuery, providers)
  const exp = createExportController(env, DatabaseQuery, providers)
  return { DatabaseQuery, providers, ...auth, ...exp }
}

function envFor({ loginUrl, instanceUrl, clientId, clientSecret, redirectUri, appSecret }) {
  const data = `${instanceUrl}/services/data/v48.0/query?q=`
  return {
    SALESFORCE_LOGIN_URL: loginUrl,
    SALESFORCE_CLIENT_ID: clientId,
    SALESFORCE_SECRET_ID: clientSecret,
    SALESFORCE_REDIRECT_URL: redirectUri,
    SALESFORCE_AUTH_SCOPES: 'api%20id%20web%20refresh_token',
    APP_SECRET: appSecret,
    SALESFORCE_CONTACTS_ENDPOINT: `${data}select+name,+account.name,+title,+phone,+email,+contact.owner.alias+from+contact`,
    SALESFORCE_DEALS_ENDPOINT: `${data}select+name,+account.name,+amount,+CloseDate,+StageName,+opportunity.owner.alias+from+opportunity`,
    SALESFORCE_NOTES_ENDPOINT: `${data}select+body,+IsDeleted,+IsPrivate,+OwnerId,+ParentId,+Title,+note.owner.alias+from+note`,
    SALESFORCE_COUNT_ENDPOINT: `${data}SELECT+count()+FROM`,
  }
}

/** The routes the host serves under /v1/integrations/salesforce. */
function incumbentRouter(express, inc) {
  const router = express.Router()
  router.get('/auth/login', inc.getLogin)
  router.get('/auth/callback', inc.callback)
  router.delete('/auth', inc.deleteAccessToken)
  router.get('/export/:type', inc.exportData)
  return router
}

module.exports = { createIncumbent, envFor, incumbentRouter }
