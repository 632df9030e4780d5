// Express 5 (its own @types) mounting the router and the controller, from ESM.
import express, { type Request } from 'express5'
import type { Forcelink } from 'forcelink'
import forcelinkDefault from 'forcelink'
import { salesforceRouter, createSalesforceController, type SalesforceAuth } from 'forcelink/express'

declare const fl: Forcelink
const app = express()
app.use('/v1/integrations/salesforce', salesforceRouter(fl, { express }))

// getAuth against the host's own req.auth shape.
interface AuthedRequest extends Request {
  auth?: { account_id: string; uid: string; roles: string[] }
}
const c = createSalesforceController<AuthedRequest>(fl, {
  getAuth: (req) => (req.auth?.roles.includes('admin') ? req.auth : null),
})
app.get('/export/:type', c.exportData)
app.delete('/auth', c.deleteAccessToken)
void forcelinkDefault.paginate(1)
export type { SalesforceAuth }
