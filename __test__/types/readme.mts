// The README's TypeScript snippet as written (ESM), checked by tsc --strict without skipLibCheck.
import express, { type Request } from 'express'
import { createWriteStream } from 'node:fs'
import { pipeline } from 'node:stream/promises'
import { Forcelink, ForcelinkError, type TokenStore, type TokenRecord } from 'forcelink'
import { salesforceRouter } from 'forcelink/express'

declare const clientId: string, clientSecret: string, redirectUri: string, stateSecret: string
declare const accountId: string, ownerId: string

// Any object with these methods; each may return a value, a Promise or a thenable.
const records = new Map<string, TokenRecord>()
const store: TokenStore = {
  find: async (accountId, ownerId) => records.get(`${accountId}/${ownerId}`) ?? null,
  save: async (record) => void records.set(`${record.account_id}/${record.owner}`, record),
  delete: async (accountId, ownerId) => records.delete(`${accountId}/${ownerId}`),
}
const fl = new Forcelink({ clientId, clientSecret, redirectUri, stateSecret, store })

// Express 4 or 5; getAuth sees the host's own request type.
type AuthedRequest = Request & { user?: { orgId: string; id: string } }
const app = express()
app.use(
  '/v1/integrations/salesforce',
  salesforceRouter<AuthedRequest>(fl, { express, getAuth: (req) => req.user && { account_id: req.user.orgId, uid: req.user.id } }),
)

for await (const batch of fl.exportAll({ accountId, ownerId, type: 'contacts', batchSize: 500 })) {
  console.log(batch.length, batch[0]?.attributes.type)
}
await pipeline(fl.exportStream({ accountId, ownerId, type: 'deals', format: 'csv' }), createWriteStream('deals.csv'))

try {
  await fl.exportPage({ accountId, ownerId, type: 'notes', page: 2, limit: 100 })
} catch (e) {
  if (!(e instanceof ForcelinkError)) throw e
  switch (e.code) {
    case 'RECONNECT_REQUIRED': // the user must connect again
    case 'TOKEN_NOT_FOUND':
      break
    case 'RATE_LIMITED':
    case 'SALESFORCE_UNAVAILABLE': // retry later
      break
    case 'SALESFORCE_ERROR':
      console.error(e.salesforceCode, e.fields)
      break
    default:
      console.error(e.code, e.status, e.message)
  }
}
