// Misuse the types must refuse: each line below is an error, or tsc fails on the unused directive.
import { Forcelink, ForcelinkError } from 'forcelink'
import type { TokenStore } from 'forcelink'

declare const fl: Forcelink

// @ts-expect-error an unknown config option
new Forcelink({ clientId: 'a', clientSecret: 'b', redirectUri: 'c', stateSecret: 'd', clientSecrett: 'typo' })
// @ts-expect-error a missing required config field
new Forcelink({ clientId: 'a', clientSecret: 'b', redirectUri: 'c' })
// @ts-expect-error an unknown export option
fl.exportAll({ accountId: 'a', ownerId: 'b', type: 'contacts', batchsize: 100 })
// @ts-expect-error missing `type`
fl.exportAll({ accountId: 'a', ownerId: 'b' })
// @ts-expect-error missing `type` on exportStream
fl.exportStream({ accountId: 'a', ownerId: 'b', format: 'csv' })
// @ts-expect-error wrong `format`
fl.exportStream({ accountId: 'a', ownerId: 'b', type: 'deals', format: 'xlsx' })
// @ts-expect-error a user connection and a connectionId at once
fl.exportPage({ accountId: 'a', ownerId: 'b', connectionId: 'c', type: 'deals' })
// @ts-expect-error half a user connection
fl.getAccessToken({ accountId: 'a' })
// @ts-expect-error an unknown engine
fl.exportAll({ connectionId: 'c', type: 'deals', engine: 'soap' })
// @ts-expect-error ForcelinkError takes its fields, not a bare message
new ForcelinkError('boom')
// @ts-expect-error an error code that does not exist
new ForcelinkError({ code: 'NOPE', status: 500, message: 'x' })

// @ts-expect-error a store without delete
const partial: TokenStore = { find: () => null, save: () => {} }
void partial

try {
  await fl.exportPage({ accountId: 'a', ownerId: 'b', type: 'deals' })
} catch (e) {
  if (e instanceof ForcelinkError) {
    // @ts-expect-error narrowing: a code that is not an ErrorCode never matches
    if (e.code === 'NOT_A_CODE') throw e
    // Every code, exhaustively: a code added to ErrorCode without a case here fails the check.
    switch (e.code) {
      case 'CONFIG_INVALID':
      case 'INVALID_INPUT':
      case 'FORWARD_URL_REQUIRED':
      case 'FORWARD_URL_NOT_ALLOWED':
      case 'AUTH_NOT_INITIATED':
      case 'INVALID_STATE':
      case 'TOKEN_NOT_FOUND':
      case 'RECONNECT_REQUIRED':
      case 'STORE_ERROR':
      case 'INVALID_TYPE':
      case 'OAUTH_ERROR':
      case 'SALESFORCE_ERROR':
      case 'RATE_LIMITED':
      case 'SALESFORCE_UNAVAILABLE':
      case 'CANCELLED':
      case 'CLOSED':
      case 'FULL_RESYNC_REQUIRED':
      case 'UNSUPPORTED':
      case 'INTERNAL':
        break
      default: {
        const unreachable: never = e.code
        throw unreachable
      }
    }
  }
}
